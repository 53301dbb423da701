"""Appending to the ledger (format v2): what is refused, with the reason a user reads, and that
a refusal writes nothing; the salt beside every payload; the client-signed and custodial
paths; batches; the commit contract (an append only inside a transaction, a rollback leaves
no gap); the seq/prev chain; the fixed five-minute window, and a clock that steps back.

Which rule refuses which statement, through the append path and the verifier alike, is
test_format_rules.py's table; this module does not repeat its cases.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connections, transaction

from crypto.canonical import canonical, is_canonical, parse
from crypto.sm2 import PrivateKey, PublicKey
from kernel.errors import InvalidInput
from ledger import conf, keyring, keystore, selectors, services
from ledger.errors import NO_CUSTODY, AppendRefused, NotInTransaction
from ledger.keyring import MasterKeyError
from ledger.models import CustodialKey, Entry, KeyEnd, LedgerKey, Payload
from tests.ledger.helpers import (
    Client,
    all_entries,
    append,
    assert_audit_clean,
    assert_chain,
    b64,
    counts,
    leaf_hash,
    ledger_time,
    new_salt,
    register_client,
    sign,
    sm3_hex,
    statement,
)


@pytest.fixture(autouse=True)
def _database(request: pytest.FixtureRequest) -> None:
    """Every test runs in a rolled-back transaction, except those that ask for a committed
    database (to append outside any transaction)."""
    if "committed_db" not in request.fixturenames:
        request.getfixturevalue("db")


@pytest.fixture
def alice() -> Client:
    return register_client("alice")


@pytest.fixture
def bob() -> Client:
    return register_client("bob")


def assert_refused(call: Callable[[], Any], field: str, code: str, *words: str) -> (
    AppendRefused
):
    """``call``, in a transaction of its own, raises AppendRefused naming ``field`` with
    ``code`` and a reason containing ``words``, and leaves no entry, payload or Merkle node."""
    before = counts()
    with pytest.raises(AppendRefused) as info, transaction.atomic():
        call()
    error = info.value
    assert (error.field, error.code) == (field, code), f"refused: {error} [{error.code}]"
    for word in words:
        assert word in error.reason, f"{word!r} not in reason {error.reason!r}"
    assert str(error) == f"{field}: {error.reason}"
    assert counts() == before, "a refused append wrote something"
    return error


def append_signed(client: Client, stmt: dict[str, Any], payload: Any, salt: bytes) -> Entry:
    """Sign ``stmt`` as it stands (after any tampering) and append it with ``salt``."""
    return services.append(stmt, sign(client.private, stmt), payload, b64(salt))


def signed(private: PrivateKey, actor: str, data: Any, **fields: Any) -> services.Submission:
    """A statement by ``actor`` about ``data`` signed with ``private``, salted."""
    salt = new_salt()
    stmt = statement(actor=actor, key_id=private.public_key.key_id, data=data, salt=salt,
                     **fields)
    return services.Submission(stmt, sign(private, stmt), data, b64(salt))


def by_the_ledger(kind: str, subject: str, payload: dict[str, Any]) -> services.Submission:
    """A statement of one of the ledger's own kinds, signed by its live ledger key."""
    row = keystore.ledger_key()
    assert row is not None
    return signed(keyring.unseal(row.custody), services.origin(), payload, kind=kind,
                  subject=subject)


def registration(private: PrivateKey, owner: str) -> dict[str, Any]:
    public = private.public_key
    return {"key": public.key_id, "owner": owner, "name": owner, "use": "statement",
            "pem": public.pem, "valid_from": ledger_time(minutes=-10), "valid_until": None,
            "replaces": None}


def commitment(salt_b64: str, payload: Any) -> str:
    """SM3(salt || canonical payload), from the stored base64 salt."""
    return sm3_hex(base64.b64decode(salt_b64) + canonical(payload))


# --- statement schema ----------------------------------------------------------------------

SCHEMA_CASES = [
    ("missing nonce", lambda s: s.pop("nonce"), "statement.nonce", "missing"),
    ("missing time", lambda s: s.pop("time"), "statement.time", "missing"),
    ("missing payload", lambda s: s.pop("payload"), "statement.payload", "missing"),
    ("extra field", lambda s: s.update(comment="hi"), "statement.comment",
     "not a v2 statement field"),
    ("the salt inside the statement", lambda s: s.update(salt=b64(new_salt())),
     "statement.salt", "not a v2 statement field"),
    ("v is 1", lambda s: s.update(v=1), "statement.v", "must be 2"),
    ("v is 3", lambda s: s.update(v=3), "statement.v", "must be 2"),
    ("v is a string", lambda s: s.update(v="2"), "statement.v", "must be 2"),
    ("v is true", lambda s: s.update(v=True), "statement.v", "must be 2"),
    ("v is a float", lambda s: s.update(v=2.0), "statement.v", "floats"),
    ("kind not dotted", lambda s: s.update(kind="thing"), "statement.kind", "dotted"),
    ("kind upper case", lambda s: s.update(kind="Tests.Thing"), "statement.kind", "dotted"),
    ("kind with a newline", lambda s: s.update(kind="tests.thing.done\n"), "statement.kind",
     "dotted"),
    ("empty actor", lambda s: s.update(actor=""), "statement.actor", "non-empty"),
    ("subject not text", lambda s: s.update(subject=7), "statement.subject", "string"),
    ("subject too long", lambda s: s.update(subject="tests/" + "x" * 507),
     "statement.subject", "longer than 512"),
    ("key not hex", lambda s: s.update(key="z" * 64), "statement.key", "hex"),
    ("key upper hex", lambda s: s.update(key=s["key"].upper()), "statement.key", "lowercase"),
    ("key too short", lambda s: s.update(key=s["key"][:40]), "statement.key", "64"),
    ("payload not hex", lambda s: s.update(payload="sm3:abc"), "statement.payload", "hex"),
    ("payload hash with a newline", lambda s: s.update(payload=s["payload"] + "\n"),
     "statement.payload", "hex"),
    ("time without fraction", lambda s: s.update(time="2026-01-01T08:00:00Z"),
     "statement.time", "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("time with offset", lambda s: s.update(time="2026-01-01T08:00:00.000000+08:00"),
     "statement.time", "UTC"),
    ("time with space", lambda s: s.update(time="2026-01-01 08:00:00.000000Z"),
     "statement.time", "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("time with a newline", lambda s: s.update(time=s["time"] + "\n"), "statement.time",
     "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("time not a date", lambda s: s.update(time="2026-02-30T08:00:00.000000Z"),
     "statement.time", "calendar"),
    ("time a number", lambda s: s.update(time=1767225600), "statement.time", "UTC"),
]


@pytest.mark.parametrize(
    ("change", "field", "word"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[case[0] for case in SCHEMA_CASES],
)
def test_statement_schema_is_refused(alice, change, field, word):
    payload, salt = {"n": 1}, new_salt()
    stmt = alice.statement(payload, salt=salt)
    change(stmt)
    assert_refused(lambda: append_signed(alice, stmt, payload, salt), field, "format", word)


def test_statement_that_is_not_an_object_is_refused(alice):
    assert_refused(lambda: services.append(["v", 2], "AAAA", {}, b64(new_salt())),
                   "statement", "format", "JSON object")


def test_statement_for_another_ledger_names_this_ledgers_origin(alice):
    payload, salt = {"n": 1}, new_salt()
    stmt = alice.statement(payload, salt=salt, ledger="elsewhere.example/ledger")
    error = assert_refused(lambda: append_signed(alice, stmt, payload, salt),
                           "statement.ledger", "ledger-origin", "origin")
    assert services.origin() in error.reason and "elsewhere.example/ledger" in error.reason


# --- the key's validity window ---------------------------------------------------------------


def test_a_keys_validity_window_includes_valid_from_and_excludes_valid_until():
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=2), now + timedelta(minutes=2)
    carol = register_client("carol", valid_from=start, valid_until=end)
    payload = {"n": 1}

    def attempt(moment: datetime) -> Callable[[], Entry]:
        salt = new_salt()
        stmt = carol.statement(payload, salt=salt, time=ledger_time(moment))
        return lambda: append_signed(carol, stmt, payload, salt)

    for moment in (start, end - timedelta(microseconds=1)):
        with transaction.atomic():
            assert attempt(moment)().statement_time == moment
    for moment in (start - timedelta(microseconds=1), end):
        assert_refused(attempt(moment), "statement.time", "key-window", "outside key",
                       ledger_time(start), ledger_time(end))


def test_key_of_another_actor_names_its_owner(alice, bob):
    payload, salt = {"n": 1}, new_salt()
    stmt = alice.statement(payload, salt=salt, actor="bob")  # alice's key, claiming bob
    error = assert_refused(lambda: append_signed(alice, stmt, payload, salt), "statement.key",
                           "key-owner", "belongs to")
    assert "'alice'" in error.reason and "'bob'" in error.reason


# --- signatures ------------------------------------------------------------------------------


def test_signature_with_a_flipped_byte_is_refused(alice):
    sub = alice.submission()
    der = bytearray(base64.b64decode(sub.signature))
    der[-3] ^= 0x01
    bad = base64.b64encode(bytes(der)).decode()
    assert_refused(lambda: services.append(sub.statement, bad, sub.payload, sub.salt),
                   "signature", "signature", "does not verify")


def test_signature_by_another_key_is_refused(alice, bob):
    sub = alice.submission()
    other = sign(bob.private, sub.statement)
    assert_refused(lambda: services.append(sub.statement, other, sub.payload, sub.salt),
                   "signature", "signature", "does not verify")


def test_signature_over_non_canonical_bytes_is_refused(alice):
    sub = alice.submission()
    loose = json.dumps(sub.statement, indent=1).encode()
    sig = base64.b64encode(alice.private.sign(loose)).decode()
    assert_refused(lambda: services.append(sub.statement, sig, sub.payload, sub.salt),
                   "signature", "signature", "canonical statement bytes")


def test_signature_over_a_tampered_statement_is_refused(alice):
    sub = alice.submission()
    sub.statement["subject"] = "tests/thing/2"
    assert_refused(lambda: services.append(sub.statement, sub.signature, sub.payload, sub.salt),
                   "signature", "signature", "does not verify")


@pytest.mark.parametrize("sig", ["not base64!", "QUJDRA", "", "QUJD\n", None])
def test_signature_that_is_not_base64_is_refused(alice, sig):
    sub = alice.submission()
    assert_refused(lambda: services.append(sub.statement, sig, sub.payload, sub.salt),
                   "signature", "format", "base64")


def test_signature_that_is_base64_but_not_der_is_refused(alice):
    sub = alice.submission()
    assert_refused(lambda: services.append(sub.statement, "QUJD", sub.payload, sub.salt),
                   "signature", "signature", "does not verify")


# --- payloads and their salts ----------------------------------------------------------------


def test_payload_that_does_not_match_its_commitment_is_refused(alice):
    salt = new_salt()
    stmt = alice.statement({"amount": "100.00"}, salt=salt)
    assert_refused(lambda: append_signed(alice, stmt, {"amount": "1000.00"}, salt),
                   "statement.payload", "payload-commitment", "SM3(salt || canonical payload)")


def test_payload_under_another_salt_than_the_one_committed_to_is_refused(alice):
    payload, salt = {"amount": "100.00"}, new_salt()
    stmt = alice.statement(payload, salt=salt)
    assert_refused(lambda: append_signed(alice, stmt, payload, new_salt()),
                   "statement.payload", "payload-commitment", "SM3(salt || canonical payload)")


SALT_CASES = [
    ("missing", None, "base64"),
    ("empty", "", "base64"),
    ("15 bytes", b64(bytes(15)), "exactly 16 bytes"),
    ("32 bytes", b64(bytes(32)), "exactly 16 bytes"),
    ("not base64", "not base64 at all!!", "standard base64 with padding"),
    ("no padding", b64(bytes(16)).rstrip("="), "standard base64 with padding"),
    ("url-safe alphabet", base64.urlsafe_b64encode(b"\xfb" * 16).decode(),
     "standard base64 with padding"),
    ("a trailing newline", b64(bytes(16)) + "\n", "standard base64 with padding"),
]


@pytest.mark.parametrize(("salt", "word"), [case[1:] for case in SALT_CASES],
                         ids=[case[0] for case in SALT_CASES])
def test_a_salt_that_is_not_base64_of_16_bytes_is_refused(alice, salt, word):
    payload = {"n": 1}
    # whatever the salt, the statement commits to the payload under 16 zero bytes
    stmt = alice.statement(payload, salt=bytes(16))
    signature = sign(alice.private, stmt)
    assert_refused(lambda: services.append(stmt, signature, payload, salt), "salt",
                   "payload-salt", word)


def test_payload_with_a_float_is_refused(alice):
    payload, salt = {"amount": 12.5, "currency": "CNY"}, new_salt()
    stmt = alice.statement(payload, salt=salt)
    assert_refused(lambda: append_signed(alice, stmt, payload, salt), "payload.amount",
                   "format", "floats are not allowed")


def test_payload_with_an_unsafe_integer_is_refused(alice):
    payload, salt = {"rows": [1, 2**53]}, new_salt()
    stmt = alice.statement(payload, salt=salt)
    assert_refused(lambda: append_signed(alice, stmt, payload, salt), "payload.rows[1]",
                   "format", "2**53")


# --- nonces ----------------------------------------------------------------------------------


def test_nonce_replay_by_the_same_actor_is_refused(alice):
    first = alice.submission({"n": 1}, nonce="order-42")
    services.append_many([first])
    # the very same submission again
    assert_refused(lambda: services.append_many([first]), "statement.nonce", "nonce-replay",
                   "'order-42'", "replay")
    # a different statement that reuses the nonce
    again = alice.submission({"n": 2}, nonce="order-42")
    assert_refused(lambda: services.append_many([again]), "statement.nonce", "nonce-replay",
                   "already used by 'alice'")


def test_another_actor_may_use_the_same_nonce(alice, bob):
    a, b = services.append_many([alice.submission({"n": 1}, nonce="order-42"),
                                 bob.submission({"n": 1}, nonce="order-42")])
    assert (b.seq, b.actor, b.nonce) == (a.seq + 1, "bob", "order-42")


# --- the window of five minutes around recorded, fixed by the format ------------------------


def test_the_window_is_five_minutes_both_ways_to_the_microsecond(alice, monkeypatch):
    recorded = datetime.now(UTC)  # the ledger's clock stops here (after the tail's recorded)
    monkeypatch.setattr(conf, "now", lambda: recorded)
    window, tick = timedelta(minutes=5), timedelta(microseconds=1)
    payload = {"n": 1}

    def attempt(moment: datetime) -> Callable[[], Entry]:
        salt = new_salt()
        stmt = alice.statement(payload, salt=salt, time=ledger_time(moment))
        return lambda: append_signed(alice, stmt, payload, salt)

    for moment in (recorded + window, recorded - window):
        entry = attempt(moment)()
        assert (entry.recorded, entry.statement_time) == (recorded, moment)
    assert_refused(attempt(recorded + window + tick), "statement.time", "time-window",
                   "more than 5 minutes after", ledger_time(recorded))
    assert_refused(attempt(recorded - window - tick), "statement.time", "time-window",
                   "more than 5 minutes before", ledger_time(recorded))


@pytest.mark.parametrize("minutes", [10, 60])
def test_after_the_clock_steps_back_record_still_appends_and_recorded_never_decreases(
        monkeypatch, minutes):
    services.issue_custodial_key(owner="carol")  # registered just before the step
    with transaction.atomic():
        before = services.record(actor="carol", kind="tests.thing.done",
                                 subject="tests/thing/0", payload={"i": 0})
    monkeypatch.setattr(conf, "now", lambda: datetime.now(UTC) - timedelta(minutes=minutes))
    services.issue_custodial_key(owner="dave")  # registered by the ledger key after the step
    after = []
    for i, actor in enumerate(["carol", "dave", services.origin(), "carol"], 1):
        with transaction.atomic():
            after.append(services.record(actor=actor, kind="tests.thing.done",
                                         subject=f"tests/thing/{i}", payload={"i": i}))
    assert [e.actor for e in after] == ["carol", "dave", services.origin(), "carol"]
    recorded = [e.recorded for e in all_entries()]
    assert recorded == sorted(recorded)
    assert all(e.recorded >= before.recorded for e in after)
    for entry in after:
        assert abs(entry.statement_time - entry.recorded) <= timedelta(minutes=5)
    assert_chain(all_entries())
    assert_audit_clean()


def _in_a_child(work: Callable[[], Any]) -> int:
    """Run ``work`` in a forked process with its own connection; its exit code."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    connections.close_all()  # the child must not share this process's connection
    child = multiprocessing.get_context("fork").Process(target=run)
    child.start()
    child.join(timeout=60)
    return child.exitcode


def _with_the_clock_ahead(sub: services.Submission, ahead: timedelta) -> None:
    conf.now = lambda: datetime.now(UTC) + ahead  # type: ignore[assignment]
    append(sub)


def _custodial_record() -> None:
    with transaction.atomic():
        services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                        payload={"n": 1})


def test_record_signs_again_when_another_writer_recorded_later_than_its_clock(committed_db):
    """A writer whose clock is 20 minutes ahead appends: its ``recorded`` is the tail's. A
    custodial statement dated by another process's clock would lie outside the window, so
    record() there signs it once more, dated at the tail's ``recorded``. (Both writers are
    child processes: this one never sees the later time.)"""
    alice = register_client("alice")
    services.issue_custodial_key(owner="carol")
    early = alice.submission({"n": 1}, time=ledger_time(minutes=20))
    assert _in_a_child(lambda: _with_the_clock_ahead(early, timedelta(minutes=20))) == 0
    assert _in_a_child(_custodial_record) == 0

    ahead, entry = list(Entry.objects.order_by("-seq")[:2])[::-1]
    assert (ahead.nonce, entry.actor) == (early.statement["nonce"], "carol")
    assert entry.seq == ahead.seq + 1
    assert entry.recorded == ahead.recorded == entry.statement_time
    assert ahead.recorded - datetime.now(UTC) > timedelta(minutes=19)


# --- batches ---------------------------------------------------------------------------------


def test_batch_with_a_bad_last_item_writes_nothing(alice, bob):
    good = [alice.submission({"n": i}) for i in range(3)]
    bad = bob.submission({"n": 9})
    bad = services.Submission(bad.statement, sign(alice.private, bad.statement), bad.payload,
                              bad.salt)
    assert_refused(lambda: services.append_many([*good, bad]), "signature", "signature",
                   "does not verify")
    # the same good items alone go through, so nothing but the last one was wrong
    assert len(services.append_many(good)) == 3


def test_batch_whose_last_item_replays_a_nonce_writes_nothing(alice):
    services.append_many([alice.submission({"n": 0}, nonce="once")])
    batch = [alice.submission({"n": i}) for i in range(1, 4)]
    batch.append(alice.submission({"n": 4}, nonce="once"))
    assert_refused(lambda: services.append_many(batch), "statement.nonce", "nonce-replay",
                   "replay")


def test_duplicate_nonce_within_one_batch_is_refused(alice):
    batch = [alice.submission({"n": 1}, nonce="dup"), alice.submission({"n": 2}),
             alice.submission({"n": 3}, nonce="dup")]
    assert_refused(lambda: services.append_many(batch), "statement.nonce", "nonce-replay",
                   "'dup' was already used")


def test_empty_batch_appends_nothing(alice):
    before = counts()
    assert services.append_many([]) == []
    assert counts() == before


def test_a_key_registered_early_in_a_batch_may_sign_later_in_it(alice):
    private = PrivateKey.generate()
    kid = private.public_key.key_id
    size = selectors.size()
    entries = services.append_many([
        alice.submission({"n": 1}),
        by_the_ledger("ledger.key.registered", f"ledger/key/{kid}",
                      registration(private, "dave")),
        signed(private, "dave", {"n": 2}),
    ])
    assert [(e.seq, e.actor) for e in entries] == [
        (size, "alice"), (size + 1, services.origin()), (size + 2, "dave")]
    assert entries[2].key_id == kid
    assert LedgerKey.objects.get(key_id=kid).registered_seq == size + 1


def test_a_key_cannot_sign_before_its_registration_in_the_same_batch(alice):
    private = PrivateKey.generate()
    kid = private.public_key.key_id
    size = selectors.size()
    batch = [signed(private, "dave", {"n": 1}),
             by_the_ledger("ledger.key.registered", f"ledger/key/{kid}",
                           registration(private, "dave"))]
    assert_refused(lambda: services.append_many(batch), "statement.key", "key-unknown",
                   f"not registered before entry {size}")
    assert not LedgerKey.objects.filter(key_id=kid).exists()


def test_a_key_revoked_early_in_a_batch_cannot_sign_later_in_it(alice):
    size = selectors.size()
    batch = [by_the_ledger("ledger.key.revoked", f"ledger/key/{alice.key_id}",
                           {"key": alice.key_id, "reason": "laptop stolen"}),
             alice.submission({"n": 1})]
    assert_refused(lambda: services.append_many(batch), "statement.key", "key-ended",
                   f"revoked at entry {size}", f"cannot sign entry {size + 1}")
    assert not KeyEnd.objects.exists()
    assert services.append_many([alice.submission({"n": 1})])[0].key_id == alice.key_id


# --- the client-signed path ------------------------------------------------------------------


def test_client_signed_statement_is_appended_as_canonical_entry(alice):
    payload = {"title": "公交线路数据集", "rows": 1250, "price": {"amount": "1250.00",
                                                              "currency": "CNY"}}
    salt = new_salt()
    stmt = {
        "v": 2, "ledger": services.origin(), "kind": "catalog.resource.published",
        "actor": "alice", "key": alice.key_id, "subject": "catalog/resource/7",
        "payload": sm3_hex(salt + canonical(payload)), "nonce": "alice-0001",
        "time": ledger_time(),
    }
    signature = base64.b64encode(alice.private.sign(canonical(stmt))).decode()
    size = selectors.size()

    entry = services.append(stmt, signature, payload, b64(salt))

    assert entry.seq == size
    stored = selectors.entry(entry.seq)
    data = stored.data.encode("utf-8")
    assert is_canonical(data)
    assert stored.leaf_hash == entry.leaf_hash == leaf_hash(data).hex()
    body = parse(data)
    assert set(body) == {"v", "seq", "prev", "statement", "sig", "recorded"}
    assert body["v"] == 2 and body["seq"] == entry.seq
    assert body["statement"] == stmt and body["sig"] == signature
    assert "salt" not in body and "salt" not in body["statement"]
    assert body["prev"] == selectors.entry(entry.seq - 1).leaf_hash
    assert body["recorded"] == ledger_time(stored.recorded)
    assert PublicKey.from_pem(alice.key.pem).verify(base64.b64decode(body["sig"]),
                                                    canonical(body["statement"]))
    kept = selectors.payload(entry.seq)
    assert kept is not None
    assert (kept.payload, kept.salt, kept.restricted, kept.erased) == (
        payload, b64(salt), False, False)
    assert stored.commitment == stmt["payload"] == commitment(kept.salt, kept.payload)
    assert (stored.kind, stored.actor, stored.subject, stored.nonce) == (
        "catalog.resource.published", "alice", "catalog/resource/7", "alice-0001")


def test_restricted_payload_is_marked(alice):
    sub = alice.submission({"secret": "x"})
    entry = services.append(sub.statement, sub.signature, sub.payload, sub.salt,
                            restricted=True)
    kept = selectors.payload(entry.seq)
    assert kept is not None and (kept.payload, kept.restricted) == ({"secret": "x"}, True)


# --- the custodial path ----------------------------------------------------------------------


def test_record_signs_with_the_custodial_key_and_keeps_the_salt():
    key = services.issue_custodial_key(owner="carol")
    payload = {"grant": 3, "scope": "read"}
    entry = services.record(actor="carol", kind="contracts.grant.issued",
                            subject="contracts/grant/3", payload=payload)
    stored = parse(selectors.entry(entry.seq).data)
    stmt = stored["statement"]
    assert (stmt["actor"], stmt["key"], stmt["kind"]) == ("carol", key.key_id,
                                                          "contracts.grant.issued")
    salt = Payload.objects.get(entry_id=entry.seq).salt
    assert len(base64.b64decode(salt, validate=True)) == 16
    assert stmt["payload"] == commitment(salt, payload)
    assert PublicKey.from_pem(key.pem).verify(base64.b64decode(stored["sig"]), canonical(stmt))
    assert entry.leaf_hash == leaf_hash(entry.data.encode()).hex()


def test_the_same_payload_recorded_twice_gets_two_salts_and_two_commitments():
    services.issue_custodial_key(owner="carol")
    payload = {"amount": "1250.00", "currency": "CNY"}
    entries = [services.record(actor="carol", kind="contracts.order.placed",
                               subject=f"contracts/order/{i}", payload=payload)
               for i in range(2)]
    salts = [Payload.objects.get(entry_id=e.seq).salt for e in entries]
    assert salts[0] != salts[1]
    assert entries[0].commitment != entries[1].commitment
    # neither is the unsalted hash that anyone could compute from a guess
    assert sm3_hex(canonical(payload)) not in {e.commitment for e in entries}


def test_record_by_the_origin_signs_with_the_ledger_key():
    ledger_key = services.ensure_ledger_key()
    entry = services.record(actor=services.origin(), kind="contracts.sharing.escalated",
                            subject="contracts/sharing/1", payload={"request": 1})
    assert (entry.actor, entry.key_id) == (services.origin(), ledger_key.key_id)
    stmt = parse(entry.data)["statement"]
    assert PublicKey.from_pem(ledger_key.pem).verify(
        base64.b64decode(parse(entry.data)["sig"]), canonical(stmt))


def test_custodial_private_key_is_not_stored_in_clear():
    key = services.issue_custodial_key(owner="carol")
    sealed = bytes(CustodialKey.objects.get(key=key).sealed)
    private = keyring.unseal(CustodialKey.objects.get(key=key))
    assert private.public_key.key_id == key.key_id
    pem = private.to_pem()
    assert pem not in sealed
    assert b"PRIVATE KEY" not in sealed and b"-----BEGIN" not in sealed
    body = b"".join(pem.splitlines()[1:-1])
    assert body[:32] not in sealed and base64.b64decode(body)[-32:] not in sealed


def test_record_with_the_wrong_master_key_fails_without_signing(settings):
    services.issue_custodial_key(owner="carol")
    before = counts()
    right = settings.SHULIAN_MASTER_KEY
    for master, words in (("00" * 16, "master key does not open the custodial key"),
                          ("not hex", "32 hex characters")):
        settings.SHULIAN_MASTER_KEY = master
        with pytest.raises(MasterKeyError) as info:
            services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                            payload={"n": 1})
        assert words in str(info.value)
        assert counts() == before
    # with the right key it signs again
    settings.SHULIAN_MASTER_KEY = right
    services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                    payload={"n": 1})
    assert counts()[0] == before[0] + 1


def test_record_for_an_actor_without_a_custodial_key_is_refused(alice):
    assert_refused(
        lambda: services.record(actor="alice", kind="tests.thing.done", subject="tests/thing/1",
                                payload={"n": 1}),
        "actor", NO_CUSTODY, "no valid custodial key",
    )


def test_record_with_a_key_the_server_does_not_hold_is_refused(alice):
    assert_refused(
        lambda: services.record(actor="alice", kind="tests.thing.done", subject="tests/thing/1",
                                payload={"n": 1}, key=alice.key),
        "actor", NO_CUSTODY, "no custodial key on this server",
    )


def test_record_with_a_float_payload_is_refused():
    services.issue_custodial_key(owner="carol")
    assert_refused(
        lambda: services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                                payload={"ratio": 0.5}),
        "payload.ratio", "format", "floats",
    )


# --- erasure: a redaction entry, appended like any other -----------------------------------


def test_a_redaction_erases_the_payload_and_its_salt_and_the_entry_still_verifies(alice):
    sub = alice.submission({"name": "张三", "id_number": "110101199003070000"})
    target = append(sub)
    redaction = services.redact_payload(seq=target.seq, basis="PIPL art. 47",
                                        request="contracts/objection/7")
    ledger_key = keystore.ledger_key()
    assert ledger_key is not None
    assert (redaction.kind, redaction.actor, redaction.key_id, redaction.subject) == (
        "ledger.payload.redacted", services.origin(), ledger_key.key_id,
        f"ledger/entry/{target.seq}")
    assert selectors.payload(redaction.seq).payload == {
        "seq": target.seq, "basis": "PIPL art. 47", "request": "contracts/objection/7"}
    kept = selectors.payload(target.seq)
    assert kept is not None
    assert (kept.erased_by, kept.basis, kept.payload, kept.salt) == (
        redaction.seq, "PIPL art. 47", None, "")
    assert Payload.objects.filter(entry_id=target.seq, data="", salt="").exists()
    assert not selectors.payload_matches(target.seq, sub.payload)
    # the entry itself stays as it was, and the audit knows what was erased and by what
    assert selectors.entry(target.seq).data == target.data
    assert assert_audit_clean().redacted == {target.seq: redaction.seq}


REDACTION_REFUSALS = [
    ("no legal basis", {"basis": "  "}, "basis", "legal basis"),
    ("a request that is not a subject", {"request": ""}, "request", "subject"),
    ("an entry that does not exist", {"seq": 10_000}, "seq", "there is no entry 10000"),
    ("a key registration", {"seq": 0}, "seq", "never erased"),
]


@pytest.mark.parametrize(("change", "field", "word"),
                         [case[1:] for case in REDACTION_REFUSALS],
                         ids=[case[0] for case in REDACTION_REFUSALS])
def test_redact_payload_refuses_bad_requests_and_writes_nothing(alice, change, field, word):
    target = append(alice.submission())
    arguments: dict[str, Any] = {"seq": target.seq, "basis": "PIPL art. 47", **change}
    before = counts()
    with pytest.raises(InvalidInput) as info:
        services.redact_payload(**arguments)
    assert info.value.field == field and word in info.value.reason, info.value
    assert counts() == before
    assert selectors.payload(target.seq).payload == {"n": 1}


def test_a_payload_is_erased_only_once(alice):
    target = append(alice.submission())
    services.redact_payload(seq=target.seq, basis="PIPL art. 47")
    before = counts()
    with pytest.raises(InvalidInput) as info:
        services.redact_payload(seq=target.seq, basis="PIPL art. 47")
    assert info.value.field == "seq" and "already erased" in info.value.reason
    assert counts() == before


# --- the commit contract: inside a transaction, or not at all -------------------------------


def test_append_and_record_outside_a_transaction_raise_and_write_nothing(committed_db):
    alice = register_client("alice")
    services.issue_custodial_key(owner="carol")
    sub = alice.submission({"n": 1})
    before = counts()
    for call in (
        lambda: services.append(sub.statement, sub.signature, sub.payload, sub.salt),
        lambda: services.append_many([sub]),
        lambda: services.record(actor="carol", kind="tests.thing.done",
                                subject="tests/thing/1", payload={"n": 1}),
    ):
        with pytest.raises(NotInTransaction, match="inside transaction.atomic"):
            call()
        assert counts() == before
    # the same submission, inside a transaction, is appended and committed
    with transaction.atomic():
        entry = services.append(sub.statement, sub.signature, sub.payload, sub.salt)
    assert selectors.entry(entry.seq).nonce == sub.statement["nonce"]


class Abort(Exception):
    """Raised inside a transaction to roll it back."""


def test_append_rolled_back_with_its_transaction_leaves_no_entry_and_no_gap(alice):
    before = selectors.status()
    sub = alice.submission({"n": 1})

    with pytest.raises(Abort), transaction.atomic():
        entry = services.append(sub.statement, sub.signature, sub.payload, sub.salt)
        assert entry.seq == before.size
        assert selectors.size() == before.size + 1
        raise Abort

    assert selectors.size() == before.size
    assert counts()[0] == before.size
    assert not Entry.objects.filter(nonce=sub.statement["nonce"]).exists()
    # the same statement (same nonce) can now go through: it was never recorded
    entry = services.append(sub.statement, sub.signature, sub.payload, sub.salt)
    assert entry.seq == before.size
    assert entry.prev == before.head
    assert_chain(all_entries())


def test_a_rolled_back_registration_leaves_no_key_behind(alice):
    size = selectors.size()
    private = PrivateKey.generate()
    with pytest.raises(Abort), transaction.atomic():
        services.register_key(owner="dave", pem=private.public_key.pem)
        raise Abort
    assert not LedgerKey.objects.filter(key_id=private.public_key.key_id).exists()
    assert_refused(lambda: services.append_many([signed(private, "dave", {"n": 1})]),
                   "statement.key", "key-unknown", f"not registered before entry {size}")


def test_seq_is_gapless_and_prev_links_every_entry(alice, bob):
    start = selectors.size()
    for i in range(10):
        client = alice if i % 2 else bob
        sub = client.submission({"i": i})
        services.append(sub.statement, sub.signature, sub.payload, sub.salt)
    services.append_many([alice.submission({"i": i}) for i in range(10, 25)])
    entries = all_entries()
    assert len(entries) == start + 25
    assert_chain(entries)
    assert selectors.status().head == entries[-1].leaf_hash
    recorded = [e.recorded for e in entries]
    assert recorded == sorted(recorded)


def test_database_refuses_a_second_entry_with_the_same_seq(alice):
    sub = alice.submission({"n": 1})
    entry = services.append(sub.statement, sub.signature, sub.payload, sub.salt)
    copy = {f.attname: getattr(entry, f.attname) for f in Entry._meta.concrete_fields}
    copy["nonce"] = "another-nonce"
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(**copy)
    copy = {f.attname: getattr(entry, f.attname) for f in Entry._meta.concrete_fields}
    copy["seq"] = entry.seq + 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(**copy)  # same (actor, nonce)
    copy["seq"] = -1
    copy["nonce"] = "yet-another"
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(**copy)
    assert Entry.objects.filter(seq=entry.seq).count() == 1

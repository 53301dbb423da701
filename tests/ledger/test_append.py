"""Appending to the ledger: what is accepted, what is refused (and that a refusal writes
nothing), the client-signed and custodial paths, rollback, and the seq/prev chain."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

from crypto.canonical import canonical, is_canonical, parse
from crypto.sm2 import PrivateKey, PublicKey
from ledger import keyring, selectors, services
from ledger.errors import AppendRefused
from ledger.keyring import MasterKeyError
from ledger.models import CustodialKey, Entry
from tests.ledger.helpers import (
    Client,
    all_entries,
    assert_chain,
    counts,
    digest_of,
    leaf_hash,
    ledger_time,
    register_client,
    sign,
    sm3_hex,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice() -> Client:
    return register_client("alice")


@pytest.fixture
def bob() -> Client:
    return register_client("bob")


def assert_refused(call: Callable[[], Any], field: str, *words: str) -> AppendRefused:
    """``call`` raises AppendRefused naming ``field`` with a reason containing ``words``,
    and leaves no entry, payload or Merkle node behind."""
    before = counts()
    with pytest.raises(AppendRefused) as info:
        call()
    error = info.value
    assert error.field == field, f"refused for {error.field!r} ({error.reason}), not {field!r}"
    for word in words:
        assert word in error.reason, f"{word!r} not in reason {error.reason!r}"
    assert str(error) == f"{field}: {error.reason}"
    assert counts() == before, "a refused append wrote something"
    return error


def append_signed(client: Client, stmt: dict[str, Any], payload: Any) -> Entry:
    """Sign ``stmt`` as it stands (after any tampering) and append it."""
    return services.append(stmt, sign(client.private, stmt), payload)


# --- statement schema ----------------------------------------------------------------------

SCHEMA_CASES = [
    ("missing nonce", lambda s: s.pop("nonce"), "statement.nonce", "missing"),
    ("missing time", lambda s: s.pop("time"), "statement.time", "missing"),
    ("extra field", lambda s: s.update(comment="hi"), "statement.comment", "not a v1"),
    ("v is 2", lambda s: s.update(v=2), "statement.v", "must be 1"),
    ("v is a string", lambda s: s.update(v="1"), "statement.v", "must be 1"),
    ("v is true", lambda s: s.update(v=True), "statement.v", "must be 1"),
    ("kind not dotted", lambda s: s.update(kind="thing"), "statement.kind", "dotted"),
    ("kind upper case", lambda s: s.update(kind="Tests.Thing"), "statement.kind", "dotted"),
    ("kind with a newline", lambda s: s.update(kind="tests.thing.done\n"), "statement.kind",
     "dotted"),
    ("empty actor", lambda s: s.update(actor=""), "statement.actor", "non-empty"),
    ("subject not text", lambda s: s.update(subject=7), "statement.subject", "string"),
    ("key not hex", lambda s: s.update(key="z" * 64), "statement.key", "hex"),
    ("key upper hex", lambda s: s.update(key=s["key"].upper()), "statement.key", "lowercase"),
    ("key too short", lambda s: s.update(key=s["key"][:40]), "statement.key", "64"),
    ("payload not hex", lambda s: s.update(payload="sm3:abc"), "statement.payload", "hex"),
    ("time without fraction", lambda s: s.update(time="2026-01-01T08:00:00Z"),
     "statement.time", "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("time with offset", lambda s: s.update(time="2026-01-01T08:00:00.000000+08:00"),
     "statement.time", "UTC"),
    ("time with space", lambda s: s.update(time="2026-01-01 08:00:00.000000Z"),
     "statement.time", "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("time with a newline", lambda s: s.update(time=s["time"] + "\n"), "statement.time",
     "YYYY-MM-DDTHH:MM:SS.ffffffZ"),
    ("payload hash with a newline", lambda s: s.update(payload=s["payload"] + "\n"),
     "statement.payload", "hex"),
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
    payload = {"n": 1}
    stmt = alice.statement(payload)
    change(stmt)
    assert_refused(lambda: append_signed(alice, stmt, payload), field, word)


def test_statement_that_is_not_an_object_is_refused(alice):
    assert_refused(lambda: services.append(["v", 1], "AAAA", {}), "statement", "JSON object")


def test_statement_for_another_ledger_is_refused(alice):
    payload = {"n": 1}
    stmt = alice.statement(payload, ledger="elsewhere.example/ledger")
    error = assert_refused(lambda: append_signed(alice, stmt, payload), "statement.ledger",
                           "origin")
    assert services.origin() in error.reason


# --- keys ------------------------------------------------------------------------------------


def test_unknown_key_is_refused(alice):
    stranger = PrivateKey.generate()
    payload = {"n": 1}
    stmt = alice.statement(payload, key=stranger.public_key.key_id)
    assert_refused(lambda: services.append(stmt, sign(stranger, stmt), payload),
                   "statement.key", "no such key")


def test_key_of_another_actor_is_refused(alice, bob):
    payload = {"n": 1}
    stmt = alice.statement(payload, actor="bob")  # alice's key, claiming to be bob
    error = assert_refused(lambda: append_signed(alice, stmt, payload), "statement.key",
                           "belongs to")
    assert "alice" in error.reason


def test_witness_key_cannot_sign_statements():
    witness = register_client("dept-witness", use="witness")
    payload = {"n": 1}
    stmt = witness.statement(payload)
    assert_refused(lambda: append_signed(witness, stmt, payload), "statement.key",
                   "witness key", "cannot sign statements")


def test_key_not_yet_valid_is_refused():
    later = register_client("carol", valid_from=datetime.now(UTC) + timedelta(hours=1))
    payload = {"n": 1}
    stmt = later.statement(payload)
    assert_refused(lambda: append_signed(later, stmt, payload), "statement.key", "not valid")


def test_statement_dated_before_the_key_existed_is_refused(alice):
    payload = {"n": 1}
    stmt = alice.statement(payload, time=ledger_time(alice.key.valid_from, minutes=-5))
    assert_refused(lambda: append_signed(alice, stmt, payload), "statement.key", "not valid")


def test_key_past_valid_until_is_refused():
    now = datetime.now(UTC)
    short = register_client("dave", valid_until=now + timedelta(seconds=10))
    payload = {"n": 1}
    inside = short.statement(payload, time=ledger_time(now, seconds=5))
    append_signed(short, inside, payload)
    after = short.statement(payload, time=ledger_time(now, seconds=20))
    assert_refused(lambda: append_signed(short, after, payload), "statement.key", "not valid")


def test_key_expired_by_rotation_is_refused(alice):
    services.rotate_key(key_id=alice.key_id, new_pem=PrivateKey.generate().public_key.pem)
    payload = {"n": 1}
    stmt = alice.statement(payload)
    assert_refused(lambda: append_signed(alice, stmt, payload), "statement.key", "not valid")


def test_revoked_key_is_refused(alice):
    services.revoke_key(key_id=alice.key_id, reason="laptop stolen")
    payload = {"n": 1}
    stmt = alice.statement(payload)
    assert_refused(lambda: append_signed(alice, stmt, payload), "statement.key", "revoked")


def test_revoked_key_is_refused_even_for_statements_dated_before_revocation(alice):
    revoked = services.revoke_key(key_id=alice.key_id, reason="laptop stolen")
    payload = {"n": 1}
    stmt = alice.statement(payload, time=ledger_time(revoked.revoked_at, seconds=-1))
    assert_refused(lambda: append_signed(alice, stmt, payload), "statement.key",
                   "has been revoked")


# --- signatures ------------------------------------------------------------------------------


def test_signature_with_a_flipped_byte_is_refused(alice):
    payload = {"n": 1}
    stmt = alice.statement(payload)
    der = bytearray(alice.private.sign(canonical(stmt)))
    der[-3] ^= 0x01
    bad = base64.b64encode(bytes(der)).decode()
    assert_refused(lambda: services.append(stmt, bad, payload), "signature", "does not verify")


def test_signature_by_another_key_is_refused(alice, bob):
    payload = {"n": 1}
    stmt = alice.statement(payload)
    assert_refused(lambda: services.append(stmt, sign(bob.private, stmt), payload),
                   "signature", "does not verify")


def test_signature_over_non_canonical_bytes_is_refused(alice):
    payload = {"n": 1}
    stmt = alice.statement(payload)
    loose = json.dumps(stmt, indent=1).encode()
    sig = base64.b64encode(alice.private.sign(loose)).decode()
    assert_refused(lambda: services.append(stmt, sig, payload), "signature",
                   "canonical statement bytes")


def test_signature_over_a_tampered_statement_is_refused(alice):
    payload = {"n": 1}
    stmt = alice.statement(payload)
    sig = sign(alice.private, stmt)
    stmt["subject"] = "tests/thing/2"
    assert_refused(lambda: services.append(stmt, sig, payload), "signature", "does not verify")


@pytest.mark.parametrize("sig", ["not base64!", "QUJD", "QUJDRA", "", "QUJD\n"])
def test_signature_that_is_not_base64_is_refused(alice, sig):
    payload = {"n": 1}
    stmt = alice.statement(payload)
    if sig == "QUJD":  # valid base64 but not a DER signature
        assert_refused(lambda: services.append(stmt, sig, payload), "signature",
                       "does not verify")
    else:
        assert_refused(lambda: services.append(stmt, sig, payload), "signature", "base64")


# --- payloads --------------------------------------------------------------------------------


def test_payload_that_does_not_match_its_hash_is_refused(alice):
    stmt = alice.statement({"amount": "100.00"})
    error = assert_refused(
        lambda: append_signed(alice, stmt, {"amount": "1000.00"}), "statement.payload", "SM3"
    )
    assert "canonical payload" in error.reason


def test_payload_with_a_float_is_refused(alice):
    payload = {"amount": 12.5, "currency": "CNY"}
    stmt = alice.statement(payload)
    assert_refused(lambda: append_signed(alice, stmt, payload), "payload.amount",
                   "floats are not allowed")


def test_payload_with_an_unsafe_integer_is_refused(alice):
    payload = {"rows": [1, 2**53]}
    stmt = alice.statement(payload)
    assert_refused(lambda: append_signed(alice, stmt, payload), "payload.rows[1]", "2**53")


# --- nonces and time -------------------------------------------------------------------------


def test_nonce_replay_by_the_same_actor_is_refused(alice):
    first = alice.submission({"n": 1}, nonce="order-42")
    services.append(first.statement, first.signature, first.payload)
    # the very same submission again
    assert_refused(lambda: services.append(first.statement, first.signature, first.payload),
                   "statement.nonce", "replay")
    # a different statement that reuses the nonce
    again = alice.submission({"n": 2}, nonce="order-42")
    assert_refused(lambda: services.append(again.statement, again.signature, again.payload),
                   "statement.nonce", "already used")


def test_another_actor_may_use_the_same_nonce(alice, bob):
    first = alice.submission({"n": 1}, nonce="order-42")
    second = bob.submission({"n": 1}, nonce="order-42")
    a = services.append(first.statement, first.signature, first.payload)
    b = services.append(second.statement, second.signature, second.payload)
    assert (b.seq, b.actor, b.nonce) == (a.seq + 1, "bob", "order-42")


def test_statement_too_far_in_the_future_is_refused(alice):
    payload = {"n": 1}
    soon = alice.statement(payload, time=ledger_time(seconds=30))
    later = alice.statement(payload, time=ledger_time(seconds=120))
    with override_settings(SHULIAN_MAX_CLOCK_SKEW_SECONDS=60):
        append_signed(alice, soon, payload)
        assert_refused(lambda: append_signed(alice, later, payload), "statement.time",
                       "future")
    with override_settings(SHULIAN_MAX_CLOCK_SKEW_SECONDS=300):
        assert append_signed(alice, later, payload).nonce == later["nonce"]


# --- batches ---------------------------------------------------------------------------------


def test_batch_with_a_bad_last_item_writes_nothing(alice, bob):
    good = [alice.submission({"n": i}) for i in range(3)]
    bad_stmt = bob.statement({"n": 9})
    bad = services.Submission(bad_stmt, sign(alice.private, bad_stmt), {"n": 9})
    assert_refused(lambda: services.append_many([*good, bad]), "signature", "does not verify")
    # the same good items alone go through, so nothing but the last one was wrong
    assert len(services.append_many(good)) == 3


def test_batch_whose_last_item_replays_a_nonce_writes_nothing(alice):
    old = alice.submission({"n": 0}, nonce="once")
    services.append(old.statement, old.signature, old.payload)
    batch = [alice.submission({"n": i}) for i in range(1, 4)]
    batch.append(alice.submission({"n": 4}, nonce="once"))
    assert_refused(lambda: services.append_many(batch), "statement.nonce", "replay")


def test_duplicate_nonce_within_one_batch_is_refused(alice):
    batch = [alice.submission({"n": 1}, nonce="dup"), alice.submission({"n": 2}),
             alice.submission({"n": 3}, nonce="dup")]
    assert_refused(lambda: services.append_many(batch), "statement.nonce", "twice")


def test_empty_batch_appends_nothing(alice):
    before = counts()
    assert services.append_many([]) == []
    assert counts() == before


# --- the client-signed path ------------------------------------------------------------------


def test_client_signed_statement_is_appended_as_canonical_entry(alice):
    payload = {"title": "公交线路数据集", "rows": 1250, "price": {"amount": "1250.00",
                                                              "currency": "CNY"}}
    stmt = {
        "v": 1, "ledger": services.origin(), "kind": "catalog.resource.published",
        "actor": "alice", "key": alice.key_id, "subject": "catalog/resource/7",
        "payload": sm3_hex(canonical(payload)), "nonce": "alice-0001",
        "time": ledger_time(),
    }
    signature = base64.b64encode(alice.private.sign(canonical(stmt))).decode()
    size = selectors.size()

    entry = services.append(stmt, signature, payload)

    assert entry.seq == size
    stored = selectors.entry(entry.seq)
    data = stored.data.encode("utf-8")
    assert is_canonical(data)
    assert stored.leaf_hash == entry.leaf_hash == leaf_hash(data).hex()
    body = parse(data)
    assert set(body) == {"v", "seq", "prev", "statement", "sig", "recorded"}
    assert body["v"] == 1 and body["seq"] == entry.seq
    assert body["statement"] == stmt and body["sig"] == signature
    assert body["prev"] == selectors.entry(entry.seq - 1).leaf_hash
    assert PublicKey.from_pem(alice.key.pem).verify(base64.b64decode(body["sig"]),
                                                    canonical(body["statement"]))
    assert selectors.payload(entry.seq) == (payload, False)
    assert (stored.kind, stored.actor, stored.subject, stored.nonce) == (
        "catalog.resource.published", "alice", "catalog/resource/7", "alice-0001")


def test_restricted_payload_is_marked(alice):
    sub = alice.submission({"secret": "x"})
    entry = services.append(sub.statement, sub.signature, sub.payload, restricted=True)
    assert selectors.payload(entry.seq) == ({"secret": "x"}, True)


# --- the custodial path ----------------------------------------------------------------------


def test_record_signs_with_the_custodial_key_and_appends():
    key = services.issue_custodial_key(owner="carol")
    payload = {"grant": 3, "scope": "read"}
    entry = services.record(actor="carol", kind="contracts.grant.issued",
                            subject="contracts/grant/3", payload=payload)
    stored = parse(selectors.entry(entry.seq).data)
    stmt = stored["statement"]
    assert (stmt["actor"], stmt["key"], stmt["kind"]) == ("carol", key.key_id,
                                                          "contracts.grant.issued")
    assert stmt["payload"] == digest_of(payload)
    assert PublicKey.from_pem(key.pem).verify(base64.b64decode(stored["sig"]), canonical(stmt))
    assert entry.leaf_hash == leaf_hash(entry.data.encode()).hex()


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


def test_record_with_the_wrong_master_key_fails_without_signing():
    services.issue_custodial_key(owner="carol")
    before = counts()
    with override_settings(SHULIAN_MASTER_KEY="00" * 16), pytest.raises(MasterKeyError) as info:
        services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                        payload={"n": 1})
    assert "master key does not open the custodial key" in str(info.value)
    assert counts() == before
    with override_settings(SHULIAN_MASTER_KEY="not hex"), pytest.raises(MasterKeyError) as info:
        services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                        payload={"n": 1})
    assert "32 hex characters" in str(info.value)
    assert counts() == before
    # with the right key it signs again
    services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                    payload={"n": 1})
    assert counts()[0] == before[0] + 1


def test_record_for_an_actor_without_a_custodial_key_is_refused(alice):
    assert_refused(
        lambda: services.record(actor="alice", kind="tests.thing.done", subject="tests/thing/1",
                                payload={"n": 1}),
        "actor", "no valid custodial key",
    )


def test_record_with_a_float_payload_is_refused():
    services.issue_custodial_key(owner="carol")
    assert_refused(
        lambda: services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                                payload={"ratio": 0.5}),
        "payload.ratio", "floats",
    )


# --- rollback, gapless seq, prev chain -------------------------------------------------------


def test_append_rolled_back_with_its_transaction_leaves_no_entry_and_no_gap(alice):
    before = selectors.status()
    sub = alice.submission({"n": 1})

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        entry = services.append(sub.statement, sub.signature, sub.payload)
        assert entry.seq == before.size
        assert selectors.size() == before.size + 1
        raise Abort

    assert selectors.size() == before.size
    assert counts()[0] == before.size
    assert not Entry.objects.filter(nonce=sub.statement["nonce"]).exists()
    # the same statement (same nonce) can now go through: it was never recorded
    entry = services.append(sub.statement, sub.signature, sub.payload)
    assert entry.seq == before.size
    assert entry.prev == before.head
    assert_chain(all_entries())


def test_seq_is_gapless_and_prev_links_every_entry(alice, bob):
    start = selectors.size()
    for i in range(10):
        client = alice if i % 2 else bob
        sub = client.submission({"i": i})
        services.append(sub.statement, sub.signature, sub.payload)
    services.append_many([alice.submission({"i": i}) for i in range(10, 25)])
    entries = all_entries()
    assert len(entries) == start + 25
    assert_chain(entries)
    assert selectors.status().head == entries[-1].leaf_hash
    recorded = [e.recorded for e in entries]
    assert recorded == sorted(recorded)


def test_database_refuses_a_second_entry_with_the_same_seq(alice):
    sub = alice.submission({"n": 1})
    entry = services.append(sub.statement, sub.signature, sub.payload)
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

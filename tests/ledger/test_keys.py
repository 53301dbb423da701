"""The key registry in the chain (format v2): registering, rotating and revoking a key are
entries by the origin, signed by the live ledger key; a key ends at a position in the chain
(a rotation at its successor's registration, a revocation at its own entry), whatever the
clocks say; the key tables are a cache of those entries; bad requests raise KeyRefused
naming the field and write nothing.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from crypto.canonical import canonical, parse
from crypto.sm2 import PrivateKey, PublicKey
from ledger import keystore, selectors, services
from ledger.errors import AppendRefused, KeyRefused
from ledger.models import CustodialKey, Entry, KeyEnd, KeyUse, LedgerKey
from tests.ledger.helpers import (
    Client,
    append,
    assert_audit_clean,
    counts,
    ledger_time,
    register_client,
    sm3_hex,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def ledger_key() -> LedgerKey:
    return services.ensure_ledger_key()


def new_entries(since: int) -> list[Entry]:
    return list(Entry.objects.filter(seq__gte=since).order_by("seq"))


def payload_of(entry: Entry) -> Any:
    found = selectors.payload(entry.seq)
    assert found is not None
    return found.payload


def signed_by(entry: Entry, key: LedgerKey) -> bool:
    """Does the entry's signature verify with ``key`` over its canonical statement?"""
    body = parse(entry.data)
    return PublicKey.from_pem(key.pem).verify(base64.b64decode(body["sig"]),
                                              canonical(body["statement"]))


def written() -> tuple[int, ...]:
    """Entries, payloads, Merkle nodes and the key cache's rows."""
    return (*counts(), LedgerKey.objects.count(), KeyEnd.objects.count(),
            CustodialKey.objects.count())


def refused(client: Client, **fields: Any) -> AppendRefused:
    """A statement by ``client`` is refused (for its key) and writes nothing."""
    before = counts()
    with pytest.raises(AppendRefused) as info:
        append(client.submission({"n": 1}, **fields))
    assert counts() == before
    return info.value


def by_the_registry(entry: Entry, ledger_key: LedgerKey) -> None:
    """``entry`` was recorded by the origin and signed by ``ledger_key``."""
    assert (entry.actor, entry.key_id) == (services.origin(), ledger_key.key_id)
    assert signed_by(entry, ledger_key)


# --- the ledger's own key --------------------------------------------------------------------


def test_entry_0_registers_the_ledger_key_signed_by_itself(ledger_key):
    assert services.ensure_ledger_key() == ledger_key
    first = selectors.entry(0)
    assert ledger_key.registered_seq == 0
    assert (first.kind, first.subject) == ("ledger.key.registered",
                                           f"ledger/key/{ledger_key.key_id}")
    by_the_registry(first, ledger_key)
    assert payload_of(first) == {
        "key": ledger_key.key_id, "owner": services.origin(), "name": services.origin(),
        "use": "ledger", "pem": ledger_key.pem, "valid_from": ledger_time(ledger_key.valid_from),
        "valid_until": None, "replaces": None,
    }
    assert Entry.objects.count() == 1
    assert CustodialKey.objects.filter(key=ledger_key).exists()


# --- registering -----------------------------------------------------------------------------


def test_register_key_writes_one_entry_by_the_origin_with_the_whole_key_record(ledger_key):
    size = selectors.size()
    private = PrivateKey.generate()
    with transaction.atomic():
        key = services.register_key(owner="alice", pem=private.public_key.pem)

    [entry] = new_entries(size)
    assert (entry.kind, entry.subject) == ("ledger.key.registered", f"ledger/key/{key.key_id}")
    by_the_registry(entry, ledger_key)
    assert key.registered_seq == entry.seq
    assert payload_of(entry) == {
        "key": private.public_key.key_id, "owner": "alice", "name": "alice",
        "use": "statement", "pem": private.public_key.pem,
        "valid_from": ledger_time(key.valid_from), "valid_until": None, "replaces": None,
    }
    assert not KeyEnd.objects.filter(key=key).exists()
    # the registered key can sign the very next entry
    assert append(Client("alice", private, key).submission()).seq == entry.seq + 1


def test_a_new_key_accepts_statements_dated_up_to_five_minutes_back():
    """valid_from defaults to ten minutes before the registration: a client whose clock is
    a few minutes behind can use its key at once (its position keeps it from signing
    anything earlier in the chain)."""
    alice = register_client("alice")
    entry = append(alice.submission({"n": 1}, time=ledger_time(minutes=-4, seconds=-50)))
    assert entry.key_id == alice.key_id


def test_issue_custodial_key_writes_one_entry_and_keeps_the_private_key():
    size = selectors.size()
    key = services.issue_custodial_key(owner="carol")
    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.registered"
    assert payload_of(entry)["key"] == key.key_id
    assert CustodialKey.objects.filter(key=key).exists()
    with transaction.atomic():
        assert services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                               payload={"n": 1}).key_id == key.key_id


def test_witness_keys_are_registered_under_their_name(ledger_key):
    size = selectors.size()
    private = PrivateKey.generate()
    key = services.register_witness(name="witness-finance", pem=private.public_key.pem,
                                    owner_code="dept.finance")
    [entry] = new_entries(size)
    by_the_registry(entry, ledger_key)
    described = payload_of(entry)
    assert (described["owner"], described["name"], described["use"]) == (
        "dept.finance", "witness-finance", "witness")
    assert (key.use, key.name, key.registered_seq) == (KeyUse.WITNESS, "witness-finance",
                                                       entry.seq)


# --- rotating ----------------------------------------------------------------------------------


def test_rotation_ends_the_old_key_at_its_successors_registration(ledger_key):
    alice = register_client("alice")
    earlier = append(alice.submission())
    size = selectors.size()
    replacement = PrivateKey.generate()
    new = services.rotate_key(key_id=alice.key_id, new_pem=replacement.public_key.pem)

    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.registered"
    by_the_registry(entry, ledger_key)
    described = payload_of(entry)
    assert described["key"] == new.key_id == replacement.public_key.key_id
    assert (described["owner"], described["replaces"]) == ("alice", alice.key_id)
    assert new.replaces == alice.key_id and new.registered_seq == entry.seq
    end = KeyEnd.objects.get(key__key_id=alice.key_id)
    assert (end.how, end.seq, end.reason) == ("replaced", entry.seq, new.key_id)
    assert not KeyEnd.objects.filter(key=new).exists()

    # by position: the old key signs nothing after, whatever the statement's time says
    for time in (ledger_time(), ledger_time(earlier.statement_time)):
        error = refused(alice, time=time)
        assert (error.field, error.code) == ("statement.key", "key-ended")
        assert f"replaced at entry {entry.seq}" in error.reason
    assert append(Client("alice", replacement, new).submission()).key_id == new.key_id
    # what the old key signed before stays, and the whole ledger still verifies
    assert selectors.entry(earlier.seq).key_id == alice.key_id
    assert_audit_clean()


def test_rotating_a_custodial_key_keeps_record_working():
    old = services.issue_custodial_key(owner="carol")
    new = services.rotate_key(key_id=old.key_id)
    assert new.key_id != old.key_id
    assert CustodialKey.objects.filter(key=new).exists()
    with transaction.atomic():
        entry = services.record(actor="carol", kind="tests.thing.done",
                                subject="tests/thing/1", payload={"n": 1})
    assert entry.key_id == new.key_id


def test_a_rotation_rolled_back_leaves_the_old_key_live():
    alice = register_client("alice")
    before = written()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.rotate_key(key_id=alice.key_id, new_pem=PrivateKey.generate().public_key.pem)
        raise Abort
    assert written() == before
    assert append(alice.submission()).key_id == alice.key_id


def test_an_outgoing_ledger_key_signs_its_successors_registration(ledger_key):
    size = selectors.size()
    successor = services.rotate_key(key_id=ledger_key.key_id)

    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.registered"
    by_the_registry(entry, ledger_key)  # the outgoing key, live for the entry that ends it
    described = payload_of(entry)
    assert (described["key"], described["use"], described["replaces"]) == (
        successor.key_id, "ledger", ledger_key.key_id)
    end = KeyEnd.objects.get(key=ledger_key)
    assert (end.how, end.seq) == ("replaced", entry.seq)
    assert keystore.ledger_key() == successor

    # from then on the successor signs the ledger's entries and its checkpoints
    bob = register_client("bob")
    with transaction.atomic():
        escalated = services.record(actor=services.origin(), kind="contracts.sharing.escalated",
                                    subject="contracts/sharing/1", payload={"request": 1})
    services.revoke_key(key_id=bob.key_id, reason="left the platform")
    later = new_entries(entry.seq + 1)
    assert [e.seq for e in later] == [entry.seq + 1, escalated.seq, escalated.seq + 1]
    for e in later:
        by_the_registry(e, successor)
    checkpoint = services.seal_checkpoint()
    assert checkpoint is not None and checkpoint.size == escalated.seq + 2
    body, _, line = checkpoint.note.partition("\n\n")
    blob = base64.b64decode(line.rstrip("\n").split(" ")[2])
    assert blob[:4] == bytes.fromhex(successor.key_id)[:4]
    assert PublicKey.from_pem(successor.pem).verify(blob[4:], (body + "\n").encode())
    assert not PublicKey.from_pem(ledger_key.pem).verify(blob[4:], (body + "\n").encode())
    assert_audit_clean()


# --- revoking ----------------------------------------------------------------------------------


def test_revocation_ends_the_key_at_its_own_entry(ledger_key):
    alice = register_client("alice")
    earlier = append(alice.submission())
    size = selectors.size()
    revoked = services.revoke_key(key_id=alice.key_id, reason="laptop stolen")

    [entry] = new_entries(size)
    assert (entry.kind, entry.subject) == ("ledger.key.revoked", f"ledger/key/{alice.key_id}")
    by_the_registry(entry, ledger_key)
    assert payload_of(entry) == {"key": alice.key_id, "reason": "laptop stolen"}
    assert (revoked.end.how, revoked.end.seq, revoked.end.reason) == (
        "revoked", entry.seq, "laptop stolen")

    # by position: refused whatever the time, even one before the revocation was recorded
    for time in (ledger_time(), ledger_time(entry.recorded, seconds=-1),
                 ledger_time(earlier.statement_time)):
        error = refused(alice, time=time)
        assert (error.field, error.code) == ("statement.key", "key-ended")
        assert f"revoked at entry {entry.seq}" in error.reason
    assert selectors.entry(earlier.seq).key_id == alice.key_id
    assert_audit_clean()


def test_revoking_a_custodial_key_stops_record():
    key = services.issue_custodial_key(owner="carol")
    services.revoke_key(key_id=key.key_id, reason="left the platform")
    with pytest.raises(AppendRefused) as info, transaction.atomic():
        services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                        payload={"n": 1})
    assert info.value.field == "actor" and "no valid custodial key" in info.value.reason


# --- the key tables are a cache of the entries -----------------------------------------------


def cached() -> dict[str, tuple[Any, ...]]:
    """The key cache, row by row, as (owner, name, use, pem, valid_from, valid_until,
    replaces, registered, ended, how)."""
    return {
        row.key_id: (row.owner, row.name, row.use, row.pem, ledger_time(row.valid_from),
                     ledger_time(row.valid_until) if row.valid_until else None,
                     row.replaces or None, row.registered_seq,
                     row.end.seq if hasattr(row, "end") else None,
                     row.end.how if hasattr(row, "end") else None)
        for row in LedgerKey.objects.select_related("end")
    }


def rebuilt(before: int | None = None) -> dict[str, tuple[Any, ...]]:
    """The same, from the key state rebuilt from the registry entries."""
    return {
        p.record.key: (p.record.owner, p.record.name, p.record.use, p.record.pem,
                       p.record.valid_from, p.record.valid_until, p.record.replaces,
                       p.registered, p.ended, p.how)
        for p in keystore.state_from_entries(before)
    }


def test_the_key_cache_equals_the_key_state_rebuilt_from_the_entries(ledger_key):
    alice = register_client("alice")
    carol = services.issue_custodial_key(owner="carol")
    services.register_witness(name="witness-finance", pem=PrivateKey.generate().public_key.pem,
                              owner_code="dept.finance")
    append(alice.submission())
    alice2 = services.rotate_key(key_id=alice.key_id, new_pem=PrivateKey.generate().public_key.pem)
    services.revoke_key(key_id=carol.key_id, reason="left the platform")
    revoked_at = Entry.objects.get(kind="ledger.key.revoked").seq
    successor = services.rotate_key(key_id=ledger_key.key_id)
    services.register_key(owner="dave", pem=PrivateKey.generate().public_key.pem,
                          valid_until=selectors.entry(0).recorded + timedelta(days=365))

    assert cached() == rebuilt()
    ends = {kid: state[-2:] for kid, state in rebuilt().items()}
    assert ends[alice.key_id] == (alice2.registered_seq, "replaced")
    assert ends[carol.key_id] == (revoked_at, "revoked")
    assert ends[ledger_key.key_id] == (successor.registered_seq, "replaced")
    assert sum(1 for end in ends.values() if end == (None, None)) == 4
    # the state before the ledger key's hand-over: carol ended, the ledger key not yet
    earlier = rebuilt(successor.registered_seq)
    assert earlier[carol.key_id][-2:] == (revoked_at, "revoked")
    assert earlier[ledger_key.key_id][-2:] == (None, None)
    assert successor.key_id not in earlier
    assert_audit_clean()


# --- refusals: KeyRefused names the field, and nothing is written ---------------------------

REGISTER_CASES = [
    ("bad pem", {"pem": "not a key"}, "pem", "PEM"),
    ("empty owner", {"owner": ""}, "owner", "participant code"),
    ("bad use", {"use": "admin"}, "use", "statement"),
    ("valid_until before valid_from", {"valid_until": -5}, "valid_until", "after"),
    ("a statement key named other than its owner", {"name": "alice-dept"}, "name",
     "owner's code"),
    ("a statement key for the origin", {"owner": "ORIGIN"}, "owner", "only ledger keys"),
    ("a ledger key for a participant", {"use": "ledger"}, "owner", "origin"),
]


@pytest.mark.parametrize(("kwargs", "field", "word"), [case[1:] for case in REGISTER_CASES],
                         ids=[case[0] for case in REGISTER_CASES])
def test_register_key_refuses_bad_input_and_writes_nothing(kwargs, field, word):
    arguments: dict[str, Any] = {"owner": "alice", "pem": PrivateKey.generate().public_key.pem}
    arguments.update(kwargs)
    if arguments["owner"] == "ORIGIN":
        arguments["owner"] = services.origin()
    if isinstance(arguments.get("valid_until"), int):
        start = selectors.entry(0).recorded
        arguments["valid_from"] = start
        arguments["valid_until"] = start + timedelta(seconds=arguments["valid_until"])
    before = written()
    with pytest.raises(KeyRefused) as info:
        services.register_key(**arguments)
    assert info.value.field == field and word in info.value.reason, info.value
    assert written() == before


def test_a_key_cannot_be_registered_twice():
    alice = register_client("alice")
    bob = register_client("bob")
    before = written()
    for call in (lambda: services.register_key(owner="mallory", pem=alice.key.pem),
                 lambda: services.rotate_key(key_id=bob.key_id, new_pem=alice.key.pem)):
        with pytest.raises(KeyRefused) as info:
            call()
        assert info.value.field == "pem" and "already registered" in info.value.reason
        assert written() == before


def test_the_ledgers_own_key_is_rotated_not_revoked(ledger_key):
    before = written()
    with pytest.raises(KeyRefused) as info:
        services.revoke_key(key_id=ledger_key.key_id, reason="compromised")
    assert info.value.field == "key_id" and "rotated, not revoked" in info.value.reason
    assert written() == before
    successor = services.rotate_key(key_id=ledger_key.key_id)
    for key, words in ((successor, "rotated, not revoked"),
                       (ledger_key, f"already replaced at entry {successor.registered_seq}")):
        with pytest.raises(KeyRefused) as info:
            services.revoke_key(key_id=key.key_id, reason="compromised")
        assert info.value.field == "key_id" and words in info.value.reason


def test_revoke_refuses_twice_unknown_and_no_reason():
    alice = register_client("alice")
    revoked = services.revoke_key(key_id=alice.key_id, reason="lost")
    bob = register_client("bob")
    before = written()
    cases = [
        ({"key_id": alice.key_id, "reason": "again"}, "key_id",
         f"already revoked at entry {revoked.end.seq}"),
        ({"key_id": "0" * 64, "reason": "x"}, "key_id", "no such key"),
        ({"key_id": bob.key_id, "reason": "  "}, "reason", "required"),
        ({"key_id": bob.key_id, "reason": "x" * 513}, "reason", "512"),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(KeyRefused) as info:
            services.revoke_key(**kwargs)
        assert info.value.field == field and words in info.value.reason, info.value
    assert written() == before


def test_rotate_refuses_a_client_key_without_new_pem_and_an_ended_key(ledger_key):
    alice = register_client("alice")
    bob = register_client("bob")
    services.revoke_key(key_id=bob.key_id, reason="lost")
    before = written()
    cases = [
        ({"key_id": alice.key_id}, "new_pem", "server does not hold"),
        ({"key_id": ledger_key.key_id, "new_pem": PrivateKey.generate().public_key.pem},
         "new_pem", "leave new_pem out"),
        ({"key_id": bob.key_id, "new_pem": PrivateKey.generate().public_key.pem}, "key_id",
         "already revoked"),
        ({"key_id": "0" * 64}, "key_id", "no such key"),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(KeyRefused) as info:
            services.rotate_key(**kwargs)
        assert info.value.field == field and words in info.value.reason, info.value
    assert written() == before
    assert append(alice.submission()).key_id == alice.key_id


def test_register_witness_refuses_a_bad_or_taken_name():
    services.register_witness(name="witness-finance", pem=PrivateKey.generate().public_key.pem,
                              owner_code="dept.finance")
    before = written()
    for name, words in (("two words", "one word"), ("a+b", "one word"),
                        (services.origin(), "the ledger's own name"),
                        ("witness-finance", "already the witness name of dept.finance")):
        with pytest.raises(KeyRefused) as info:
            services.register_witness(name=name, pem=PrivateKey.generate().public_key.pem,
                                      owner_code="dept.transport")
        assert info.value.field == "name" and words in info.value.reason, info.value
    assert written() == before


def test_key_ids_are_the_sm3_of_the_der_public_key(ledger_key):
    """The id in every registration is SM3 over the DER SubjectPublicKeyInfo (computed here
    from the PEM's base64 body with hashlib)."""
    alice = register_client("alice")
    for key in (ledger_key, alice.key):
        der = base64.b64decode("".join(key.pem.strip().splitlines()[1:-1]))
        assert sm3_hex(der) == key.key_id == payload_of(selectors.entry(key.registered_seq))[
            "key"]

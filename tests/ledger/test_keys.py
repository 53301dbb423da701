"""The key registry: registering, rotating and revoking keys are ledger entries, and what
a key may sign follows from its validity window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crypto.canonical import parse
from crypto.sm2 import PrivateKey
from ledger import selectors, services
from ledger.errors import AppendRefused, KeyRefused
from ledger.models import CustodialKey, Entry, KeyUse, LedgerKey
from tests.ledger.helpers import Client, counts, ledger_time, register_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def ledger_key() -> LedgerKey:
    return services.ensure_ledger_key()


def new_entries(since: int) -> list[Entry]:
    return list(Entry.objects.filter(seq__gte=since).order_by("seq"))


def payload_of(entry: Entry) -> dict:
    found = selectors.payload(entry.seq)
    assert found is not None
    return found[0]


def append(client: Client, **fields):
    sub = client.submission({"n": 1}, **fields)
    return services.append(sub.statement, sub.signature, sub.payload)


def test_the_ledger_key_registers_itself_once(ledger_key):
    assert services.ensure_ledger_key() == ledger_key
    first = selectors.entry(ledger_key.registered_seq)
    assert first.kind == "ledger.key.registered"
    assert first.actor == services.origin() and first.key_id == ledger_key.key_id
    assert payload_of(first)["use"] == "ledger"
    assert Entry.objects.filter(kind="ledger.key.registered").count() == 1
    assert CustodialKey.objects.filter(key=ledger_key).exists()


def test_register_key_writes_one_entry_describing_the_key(ledger_key):
    size = selectors.size()
    private = PrivateKey.generate()
    key = services.register_key(owner="alice", pem=private.public_key.pem)

    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.registered"
    assert entry.subject == f"ledger/key/{key.key_id}"
    assert entry.actor == services.origin() and entry.key_id == ledger_key.key_id
    assert key.registered_seq == entry.seq
    assert payload_of(entry) == {
        "key": private.public_key.key_id, "owner": "alice", "name": "alice",
        "use": "statement", "pem": private.public_key.pem,
        "valid_from": ledger_time(key.valid_from), "valid_until": None,
    }
    # the registered key can sign at once
    client = Client("alice", private, key)
    assert append(client).actor == "alice"


def test_issue_custodial_key_writes_one_entry(ledger_key):
    size = selectors.size()
    key = services.issue_custodial_key(owner="carol", name="carol-dept")
    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.registered"
    assert payload_of(entry)["key"] == key.key_id
    assert payload_of(entry)["name"] == "carol-dept"
    assert CustodialKey.objects.filter(key=key).exists()


def test_rotate_key_writes_one_entry_and_ends_the_old_key():
    alice = register_client("alice")
    size = selectors.size()
    replacement = PrivateKey.generate()
    new = services.rotate_key(key_id=alice.key_id, new_pem=replacement.public_key.pem)

    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.registered"
    described = payload_of(entry)
    assert described["key"] == new.key_id == replacement.public_key.key_id
    assert described["replaces"] == alice.key_id
    assert described["owner"] == "alice"
    old = LedgerKey.objects.get(key_id=alice.key_id)
    assert old.valid_until == new.valid_from
    assert described["valid_from"] == ledger_time(new.valid_from)


def test_revoke_key_writes_one_entry_with_reason():
    alice = register_client("alice")
    size = selectors.size()
    revoked = services.revoke_key(key_id=alice.key_id, reason="laptop stolen")

    [entry] = new_entries(size)
    assert entry.kind == "ledger.key.revoked"
    assert entry.subject == f"ledger/key/{alice.key_id}"
    assert payload_of(entry) == {
        "key": alice.key_id, "revoked_at": ledger_time(revoked.revoked_at),
        "reason": "laptop stolen",
    }
    assert LedgerKey.objects.get(key_id=alice.key_id).revocation_reason == "laptop stolen"


def test_after_rotation_old_key_signs_only_statements_dated_before_it():
    alice = register_client("alice")
    replacement = PrivateKey.generate()
    new = services.rotate_key(key_id=alice.key_id, new_pem=replacement.public_key.pem)
    rotated_at = new.valid_from

    before_rotation = append(alice, time=ledger_time(rotated_at, microseconds=-1))
    assert before_rotation.key_id == alice.key_id

    size = counts()
    with pytest.raises(AppendRefused) as info:
        append(alice, time=ledger_time(rotated_at))
    assert info.value.field == "statement.key" and "not valid" in info.value.reason
    with pytest.raises(AppendRefused):
        append(alice, time=ledger_time(rotated_at, seconds=1))
    assert counts() == size

    successor = Client("alice", replacement, new)
    assert append(successor).key_id == new.key_id
    with pytest.raises(AppendRefused) as info:
        append(successor, time=ledger_time(rotated_at, microseconds=-1))
    assert info.value.field == "statement.key"


def test_rotating_a_custodial_key_keeps_record_working():
    old = services.issue_custodial_key(owner="carol")
    new = services.rotate_key(key_id=old.key_id)
    assert new.key_id != old.key_id
    assert CustodialKey.objects.filter(key=new).exists()
    entry = services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                            payload={"n": 1})
    assert entry.key_id == new.key_id


def test_after_revocation_the_key_signs_nothing():
    alice = register_client("alice")
    earlier = append(alice)
    revoked = services.revoke_key(key_id=alice.key_id, reason="compromised")
    size = counts()
    for time in (ledger_time(), ledger_time(revoked.revoked_at, seconds=-1),
                 ledger_time(earlier.statement_time)):
        with pytest.raises(AppendRefused) as info:
            append(alice, time=time)
        assert info.value.field == "statement.key"
        assert "revoked" in info.value.reason
    assert counts() == size
    # what it signed before stays in the ledger
    assert selectors.entry(earlier.seq).key_id == alice.key_id


def test_revoking_a_custodial_key_stops_record():
    services.issue_custodial_key(owner="carol")
    key = LedgerKey.objects.get(owner="carol")
    services.revoke_key(key_id=key.key_id, reason="left the platform")
    with pytest.raises(AppendRefused) as info:
        services.record(actor="carol", kind="tests.thing.done", subject="tests/thing/1",
                        payload={"n": 1})
    assert info.value.field == "actor" and "no valid custodial key" in info.value.reason


@pytest.mark.parametrize(
    ("kwargs", "field", "word"),
    [
        ({"owner": "alice", "pem": "not a key"}, "pem", "PEM"),
        ({"owner": "", "pem": None}, "owner", "participant code"),
        ({"owner": "alice", "pem": None, "use": "admin"}, "use", "statement"),
        ({"owner": "alice", "pem": None, "valid_until_offset": -5}, "valid_until", "after"),
    ],
    ids=["bad pem", "empty owner", "bad use", "valid_until before valid_from"],
)
def test_register_key_refuses_bad_input_and_writes_nothing(kwargs, field, word):
    kwargs = dict(kwargs)
    if kwargs["pem"] is None:
        kwargs["pem"] = PrivateKey.generate().public_key.pem
    offset = kwargs.pop("valid_until_offset", None)
    if offset is not None:
        start = selectors.entry(0).recorded
        kwargs["valid_from"] = start
        kwargs["valid_until"] = start + timedelta(seconds=offset)
    before = counts(), LedgerKey.objects.count()
    with pytest.raises(KeyRefused) as info:
        services.register_key(**kwargs)
    assert info.value.field == field and word in info.value.reason
    assert (counts(), LedgerKey.objects.count()) == before


def test_a_key_cannot_be_registered_twice():
    alice = register_client("alice")
    before = counts()
    with pytest.raises(KeyRefused) as info:
        services.register_key(owner="mallory", pem=alice.key.pem)
    assert info.value.field == "pem" and "already registered" in info.value.reason
    assert counts() == before


def test_revoke_refuses_twice_unknown_and_the_ledger_key(ledger_key):
    alice = register_client("alice")
    services.revoke_key(key_id=alice.key_id, reason="lost")
    before = counts()
    cases = [
        ({"key_id": alice.key_id, "reason": "again"}, "already revoked"),
        ({"key_id": "0" * 64, "reason": "x"}, "no such key"),
        ({"key_id": ledger_key.key_id, "reason": "x"}, "rotated, not revoked"),
    ]
    for kwargs, word in cases:
        with pytest.raises(KeyRefused) as info:
            services.revoke_key(**kwargs)
        assert word in info.value.reason
    with pytest.raises(KeyRefused) as info:
        services.revoke_key(key_id=alice.key_id, reason="  ")
    assert info.value.field == "reason"
    assert counts() == before


def test_rotate_refuses_a_client_key_without_new_pem():
    alice = register_client("alice")
    before = counts()
    with pytest.raises(KeyRefused) as info:
        services.rotate_key(key_id=alice.key_id)
    assert info.value.field == "new_pem"
    assert counts() == before
    assert LedgerKey.objects.get(key_id=alice.key_id).valid_until is None


def test_witness_keys_are_registered_but_sign_no_statements():
    witness = register_client("dept-a", use=KeyUse.WITNESS)
    entry = Entry.objects.get(seq=witness.key.registered_seq)
    assert parse(selectors.entry(entry.seq).data)["statement"]["subject"].endswith(
        witness.key_id)
    with pytest.raises(AppendRefused) as info:
        append(witness)
    assert info.value.field == "statement.key" and "witness" in info.value.reason

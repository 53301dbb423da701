"""Tampering with the live database (raw SQL, triggers lifted as an attacker with database
access would) is found by verify_ledger at the right seq with the right code.

Nothing derived is trusted without being checked: the key cache against the key registry
entries, the columns beside each entry against its bytes, every stored Merkle node against a
recomputation, each checkpoint's signer against the key live for its size.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit import services as audit
from audit.report import Report
from crypto.canonical import canonical
from ledger import keyring, selectors
from ledger import services as ledger
from ledger.models import Checkpoint, Entry, KeyEnd, LedgerKey, MerkleNode
from ledger.protocol import note
from tests.ledger.helpers import Client, register_client

pytestmark = pytest.mark.django_db
ACTOR = "91110108MA01XY2K91"


@pytest.fixture
def live_ledger() -> int:
    """A dozen entries by one custodial actor, sealed; returns the size."""
    with transaction.atomic():
        key = ledger.issue_custodial_key(owner=ACTOR)
        for number in range(10):
            ledger.record(actor=key.owner, kind="tests.tamper.step",
                          subject=f"tests/t/{number}", payload={"n": number, "note": "original"})
    ledger.seal_checkpoint()
    return selectors.size()


def sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def report(**options: object) -> Report:
    _, found = audit.verify_range(workers=1, **options)  # type: ignore[arg-type]
    return found


def codes_at(found: Report, seq: int | None) -> set[str]:
    return {f.code for f in found.failures if f.seq == seq}


def test_an_untouched_ledger_verifies_and_is_attested(live_ledger: int) -> None:
    span, found, entry = audit.verify_ledger(workers=1)
    assert found.ok and (span.first, span.last) == (0, live_ledger - 1)
    assert found.uncovered is None
    assert entry is not None and entry.kind == "audit.verification.completed"


def test_entries_not_yet_sealed_are_reported_not_failed(live_ledger: int) -> None:
    with transaction.atomic():
        ledger.record(actor=ACTOR, kind="tests.tamper.step", subject="tests/t/late",
                      payload={"n": 99})
    found = report()
    assert found.ok, [f.line() for f in found.failures]
    assert found.uncovered == (live_ledger, live_ledger)


def test_lost_newest_entries_are_told_apart_from_unsealed_ones(live_ledger: int,
                                                               triggers_lifted) -> None:
    with triggers_lifted():
        for seq in (live_ledger - 1, live_ledger - 2):
            sql("DELETE FROM ledger_payload WHERE entry_id = %s", [seq])
            sql("DELETE FROM ledger_entry WHERE seq = %s", [seq])
        sql("DELETE FROM ledger_merklenode", [])
    found = report()
    truncated = [f for f in found.failures if f.code == "truncated"]
    assert truncated and truncated[0].checkpoint == live_ledger, found.failures


def test_a_changed_payload_is_found_at_its_seq(live_ledger: int, triggers_lifted) -> None:
    seq = live_ledger - 3
    with triggers_lifted():
        sql("UPDATE ledger_payload SET data = %s WHERE entry_id = %s",
            ['{"n":7,"note":"forged"}', seq])
    assert codes_at(report(), seq) == {"payload-commitment"}


def test_a_changed_salt_is_found_at_its_seq(live_ledger: int, triggers_lifted) -> None:
    seq = 4
    with triggers_lifted():
        sql("UPDATE ledger_payload SET salt = %s WHERE entry_id = %s",
            [base64.b64encode(secrets.token_bytes(16)).decode(), seq])
    assert codes_at(report(), seq) == {"payload-commitment"}


def test_a_changed_statement_breaks_signature_and_chain(live_ledger: int,
                                                        triggers_lifted) -> None:
    seq = 4
    data = selectors.entry(seq).data.replace("tests.tamper.step", "tests.tamper.edit")
    with triggers_lifted():
        sql("UPDATE ledger_entry SET data = %s WHERE seq = %s", [data, seq])
    found = report()
    assert "signature" in codes_at(found, seq)
    assert "prev" in codes_at(found, seq + 1)


@pytest.mark.parametrize(("column", "value"), [
    ("kind", "tests.tamper.other"), ("actor", "SOMEONE"), ("subject", "tests/t/elsewhere"),
    ("commitment", "ab" * 32), ("key_id", "cd" * 32), ("nonce", "another"),
])
def test_a_changed_column_beside_the_entry_is_found(live_ledger: int, triggers_lifted,
                                                    column: str, value: str) -> None:
    seq = 5
    with triggers_lifted():
        sql(f"UPDATE ledger_entry SET {column} = %s WHERE seq = %s", [value, seq])
    found = report()
    assert codes_at(found, seq) == {"column"}
    assert column in found.failures[0].reason


def test_a_changed_merkle_node_is_found(live_ledger: int, triggers_lifted) -> None:
    position = MerkleNode.pack(2, 1)  # the subtree over entries 4..7
    with triggers_lifted():
        sql("UPDATE ledger_merklenode SET hash = %s WHERE position = %s", ["00" * 32, position])
    failures = [f for f in report().failures if f.code == "merkle-node"]
    assert failures and failures[0].seq == 7 and "level 2, index 1" in failures[0].reason


def test_an_extra_merkle_node_is_found(live_ledger: int, triggers_lifted) -> None:
    with triggers_lifted():
        sql("INSERT INTO ledger_merklenode (position, hash) VALUES (%s, %s)",
            [MerkleNode.pack(9, 0), "00" * 32])
    assert any(f.code == "merkle-node" and f.seq is None for f in report().failures)


def _client_with_revoked_key() -> tuple[Client, int]:
    client = register_client(ACTOR)
    with transaction.atomic():
        ledger.revoke_key(key_id=client.key_id, reason="stolen")
    return client, KeyEnd.objects.get(key__key_id=client.key_id).seq


def test_a_revoked_key_made_live_again_in_the_cache_is_found(live_ledger: int,
                                                             triggers_lifted) -> None:
    """Deleting a key's end from the cache lets the append path (which reads the cache)
    accept the revoked key again: the verifier, which takes keys from the chain, finds the
    entry it signed and the cache row that lies."""
    client, revoked_at = _client_with_revoked_key()
    with triggers_lifted():
        sql("DELETE FROM ledger_keyend WHERE key_id = %s",
            [LedgerKey.objects.get(key_id=client.key_id).pk])
    with transaction.atomic():
        sub = client.submission({"after": "revocation"})
        entry = ledger.append(sub.statement, sub.signature, sub.payload, sub.salt)
    found = report()
    assert codes_at(found, entry.seq) == {"key-ended"}
    registered = LedgerKey.objects.get(key_id=client.key_id).registered_seq
    assert "key-cache" in codes_at(found, registered)
    assert revoked_at < entry.seq


def test_a_changed_key_row_is_found(live_ledger: int, triggers_lifted) -> None:
    key = LedgerKey.objects.get(owner=ACTOR)
    with triggers_lifted():
        sql("UPDATE ledger_ledgerkey SET valid_until = %s WHERE id = %s",
            [connection.ops.adapt_datetimefield_value(datetime(2099, 1, 1, tzinfo=UTC)),
             key.pk])
    found = report()
    assert codes_at(found, key.registered_seq) == {"key-cache"}
    assert "valid_until" in [f for f in found.failures if f.code == "key-cache"][0].reason


def _signed_note(size: int, key: LedgerKey) -> str:
    root = selectors.root(size)
    signature = note.sign(ledger.origin(), size, root, ledger.origin(),
                          keyring.unseal(key.custody))
    return note.Checkpoint(ledger.origin(), size, root, (signature,)).text()


def test_a_checkpoint_signed_by_a_replaced_ledger_key_is_found(live_ledger: int) -> None:
    old = LedgerKey.objects.get(use="ledger")
    with transaction.atomic():
        ledger.rotate_key(key_id=old.key_id)
        ledger.record(actor=ACTOR, kind="tests.tamper.step", subject="tests/t/after",
                      payload={"n": 100})
    size = selectors.size()
    Checkpoint.objects.create(size=size, root=selectors.root(size).hex(),
                              note=_signed_note(size, old))
    failures = [f for f in report().failures if f.checkpoint == size]
    assert [f.code for f in failures] == ["checkpoint-signer"]
    assert "not live" in failures[0].reason


def test_a_checkpoint_by_the_successor_verifies(live_ledger: int) -> None:
    old = LedgerKey.objects.get(use="ledger")
    with transaction.atomic():
        ledger.rotate_key(key_id=old.key_id)
    ledger.seal_checkpoint()
    assert report().ok


def test_a_backdated_statement_inserted_is_found(live_ledger: int) -> None:
    """An INSERT the application role could make: a well-signed statement whose time lies
    more than five minutes before the time it is recorded, chained at the tail."""
    client = register_client(ACTOR)
    if selectors.size() % 2:  # an even seq closes no Merkle node: only the rule can fail
        with transaction.atomic():
            ledger.record(actor=ACTOR, kind="tests.tamper.step", subject="tests/t/pad",
                          payload={"n": -1})
    tail = Entry.objects.order_by("-seq").first()
    assert tail is not None
    recorded = datetime.now(UTC)
    sub = client.submission({"backdated": True},
                            time=(recorded - timedelta(minutes=6)).strftime(
                                "%Y-%m-%dT%H:%M:%S.%fZ"))
    seq = tail.seq + 1
    line = canonical({"v": 2, "seq": seq, "prev": tail.leaf_hash, "statement": sub.statement,
                      "sig": sub.signature,
                      "recorded": recorded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    _insert_entry(seq, line, sub.statement, recorded, sub.payload, sub.salt)
    assert codes_at(report(), seq) == {"time-window"}


def _insert_entry(seq: int, line: bytes, statement: dict[str, str], recorded: datetime,
                  payload: object, salt: str) -> None:
    leaf = hashlib.new("sm3", b"\x00" + line).hexdigest()
    adapt = connection.ops.adapt_datetimefield_value
    sql("INSERT INTO ledger_entry (seq, leaf_hash, prev, data, kind, actor, subject, key_id, "
        "nonce, commitment, statement_time, recorded) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [seq, leaf, json.loads(line)["prev"], line.decode(), statement["kind"],
         statement["actor"], statement["subject"], statement["key"], statement["nonce"],
         statement["payload"], adapt(datetime.fromisoformat(statement["time"])),
         adapt(recorded)])
    sql("INSERT INTO ledger_payload (entry_id, data, salt, restricted) VALUES (%s, %s, %s, %s)",
        [seq, canonical(payload).decode(), salt, False])


def test_an_erased_payload_put_back_is_found(live_ledger: int, triggers_lifted) -> None:
    seq = 3
    original = Entry.objects.select_related("payload_row").get(seq=seq).payload_row
    data, salt = original.data, original.salt
    with transaction.atomic():
        redaction = ledger.redact_payload(seq=seq, basis="PIPL art. 47")
    assert report().redacted == {seq: redaction.seq}
    with triggers_lifted():
        sql("UPDATE ledger_payload SET data = %s, salt = %s WHERE entry_id = %s",
            [data, salt, seq])
    assert codes_at(report(), seq) == {"redaction-ignored"}


def test_verify_ledger_command_exits_1_and_lists_the_failure(live_ledger: int,
                                                            triggers_lifted, capsys) -> None:
    seq = 2
    with triggers_lifted():
        sql("UPDATE ledger_payload SET data = %s WHERE entry_id = %s", ['{"n":99}', seq])
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_ledger", "--json", "--workers", "1")
    assert exit_info.value.code == 1
    found = json.loads(capsys.readouterr().out)
    assert found["ok"] is False
    assert any(f["seq"] == seq and f["code"] == "payload-commitment" for f in found["failures"])


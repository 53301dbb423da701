"""The database itself refuses to change or remove ledger rows: raw SQL, not only the ORM.

Every ledger table is append-only, the key cache (keys, their ends, custodial keys) and the
witnesses' cosignatures included. The one change allowed is a payload's erasure (data and
salt emptied, nothing else) once its ``ledger.payload.redacted`` entry exists.

Runs on whichever database the suite runs on (SQLite, then PostgreSQL in scripts/test).
Each refused statement runs in a savepoint so that, on PostgreSQL, the test's transaction
survives the error.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from demo.witnesses import demo_cosign, demo_witnesses
from ledger import selectors, services
from ledger.models import (
    Checkpoint,
    Cosignature,
    CustodialKey,
    Entry,
    KeyEnd,
    LedgerKey,
    MerkleNode,
    Payload,
)
from tests.ledger.helpers import register_client

pytestmark = pytest.mark.django_db

TAMPER = {
    "ledger_entry": (
        "UPDATE ledger_entry SET kind = 'tampered.kind' WHERE seq = 1",
        "DELETE FROM ledger_entry WHERE seq = (SELECT MAX(seq) FROM ledger_entry)",
    ),
    "ledger_payload": (
        "UPDATE ledger_payload SET data = '{}', restricted = NOT restricted",
        "DELETE FROM ledger_payload WHERE entry_id = 1",
    ),
    "ledger_checkpoint": (
        "UPDATE ledger_checkpoint SET size = size + 1000",
        "DELETE FROM ledger_checkpoint",
    ),
    "ledger_merklenode": (
        "UPDATE ledger_merklenode SET hash = '" + "0" * 64 + "'",
        "DELETE FROM ledger_merklenode",
    ),
    # a key handed to someone else, or a revoked key brought back to life
    "ledger_ledgerkey": (
        "UPDATE ledger_ledgerkey SET owner = 'mallory'",
        "DELETE FROM ledger_ledgerkey",
    ),
    "ledger_keyend": (
        "UPDATE ledger_keyend SET seq = seq + 1000",
        "DELETE FROM ledger_keyend",
    ),
    # one custodial key's sealed private key swapped in for every other's
    "ledger_custodialkey": (
        "UPDATE ledger_custodialkey SET sealed = (SELECT sealed FROM ledger_custodialkey "
        "ORDER BY key_id LIMIT 1)",
        "DELETE FROM ledger_custodialkey",
    ),
    "ledger_cosignature": (
        "UPDATE ledger_cosignature SET line = 'forged'",
        "DELETE FROM ledger_cosignature",
    ),
}
ERASE = "UPDATE ledger_payload SET data = '', salt = '' WHERE entry_id = %s"


@pytest.fixture
def ledger_rows() -> None:
    """Rows in every ledger table to attack: entries with payloads and Merkle nodes, keys
    (one revoked, some custodial), a checkpoint and a witness's cosignature of it."""
    alice = register_client("alice")
    with transaction.atomic():
        services.append_many([alice.submission({"i": i}) for i in range(5)])
    services.issue_custodial_key(owner="carol")
    services.revoke_key(key_id=alice.key_id, reason="left the platform")
    witnesses = demo_witnesses([("witness-finance", "dept.finance")])
    services.seal_checkpoint()
    demo_cosign(selectors.checkpoints(), witnesses)
    assert Entry.objects.count() >= 7
    for model in (Payload, MerkleNode, Checkpoint, LedgerKey, KeyEnd, CustodialKey,
                  Cosignature):
        assert model.objects.exists(), model.__name__


def snapshot(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in cursor.fetchall()]


def run(sql: str, params: list[object] | None = None) -> int:
    """Run ``sql`` in a savepoint; the number of rows it changed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def refused(sql: str, params: list[object] | None = None) -> DatabaseError:
    """Run ``sql`` in a savepoint; it must fail, and the error must say why."""
    with pytest.raises(DatabaseError) as info:
        run(sql, params)
    assert "append-only" in str(info.value), str(info.value)
    return info.value


def ordinary_seq() -> int:
    """The seq of a participant's entry (not of one of the ledger's own kinds)."""
    return int(Entry.objects.filter(actor="alice").order_by("seq").values_list(
        "seq", flat=True).first())


@pytest.mark.parametrize("table", sorted(TAMPER))
@pytest.mark.parametrize("operation", ["UPDATE", "DELETE"])
def test_raw_sql_cannot_change_ledger_rows(ledger_rows, table, operation):
    sql = TAMPER[table][0 if operation == "UPDATE" else 1]
    before = snapshot(table)
    error = refused(sql)
    assert operation in str(error)
    assert table in str(error)
    assert snapshot(table) == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL only")
@pytest.mark.parametrize("table", sorted(TAMPER))
def test_truncate_is_refused_on_postgresql(ledger_rows, table):
    # The rows were inserted in this test's own transaction: settle their deferred foreign
    # key checks first, which PostgreSQL requires before any TRUNCATE of those tables.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    before = snapshot(table)
    error = refused(f"TRUNCATE {table} CASCADE")
    assert "TRUNCATE" in str(error)
    assert snapshot(table) == before


def test_orm_cannot_change_ledger_rows_either(ledger_rows):
    entry = Entry.objects.get(seq=1)
    for change in (
        lambda: Entry.objects.filter(seq=1).update(kind="tampered.kind"),
        lambda: Payload.objects.filter(entry_id=1).delete(),
        lambda: Checkpoint.objects.all().update(root="0" * 64),
        lambda: MerkleNode.objects.all().update(hash="0" * 64),
        lambda: LedgerKey.objects.filter(owner="alice").update(valid_until=None),
        lambda: KeyEnd.objects.all().delete(),
        lambda: Cosignature.objects.all().delete(),
    ):
        with pytest.raises(DatabaseError) as info, transaction.atomic():
            change()
        assert "append-only" in str(info.value)
    entry.kind = "tampered.kind"
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()
    assert Entry.objects.get(seq=1).kind != "tampered.kind"
    assert KeyEnd.objects.filter(key__owner="alice", how="revoked").exists()


def test_without_the_triggers_the_same_sql_would_succeed(ledger_rows, triggers_lifted):
    """Control: the refusals above come from the triggers, not from the SQL being wrong.
    (Everything here is rolled back with the test's transaction.)"""
    with triggers_lifted():
        for table in sorted(TAMPER):
            assert run(TAMPER[table][0]) >= 1, table
        assert run(ERASE, [ordinary_seq()]) == 1
        assert Entry.objects.get(seq=1).kind == "tampered.kind"
    # reinstalled: refused again
    refused(TAMPER["ledger_entry"][0])


# --- the one exception: a payload's erasure, once its redaction entry exists ----------------


def test_a_payload_cannot_be_erased_without_its_redaction_entry(ledger_rows):
    seq = ordinary_seq()
    before = snapshot("ledger_payload")
    error = refused(ERASE, [seq])
    assert "UPDATE" in str(error)
    assert snapshot("ledger_payload") == before
    assert Payload.objects.get(entry_id=seq).data != ""


def test_after_its_redaction_a_payload_may_be_erased_and_changed_in_no_other_way(ledger_rows):
    seq = ordinary_seq()
    other = seq + 1
    redaction = services.redact_payload(seq=seq, basis="PIPL art. 47")
    assert redaction.subject == f"ledger/entry/{seq}"
    # the append path erased it (which the trigger allowed), and erasing it again is allowed
    assert Payload.objects.filter(entry_id=seq, data="", salt="").exists()
    assert run(ERASE, [seq]) == 1

    before = snapshot("ledger_payload")
    for sql in (
        f"UPDATE ledger_payload SET data = '{{}}' WHERE entry_id = {seq}",
        f"UPDATE ledger_payload SET salt = 'AAAAAAAAAAAAAAAAAAAAAA==' WHERE entry_id = {seq}",
        f"UPDATE ledger_payload SET restricted = NOT restricted WHERE entry_id = {seq}",
        f"UPDATE ledger_payload SET entry_id = {redaction.seq + 100} WHERE entry_id = {seq}",
        f"DELETE FROM ledger_payload WHERE entry_id = {seq}",
        # another entry's payload, and half an erasure of it
        ERASE % other,
        f"UPDATE ledger_payload SET data = '' WHERE entry_id = {other}",
        # the redaction entry's own payload
        ERASE % redaction.seq,
    ):
        refused(sql)
    assert snapshot("ledger_payload") == before

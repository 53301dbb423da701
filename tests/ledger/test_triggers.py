"""The database itself refuses to change or remove ledger rows: raw SQL, not only the ORM.

Runs on whichever database the suite runs on (SQLite, then PostgreSQL in scripts/test).
Each refused statement runs in a savepoint so that, on PostgreSQL, the test's transaction
survives the error.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from ledger import services
from ledger.models import Checkpoint, Entry, MerkleNode, Payload
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
}


@pytest.fixture
def ledger_rows():
    """Some entries, payloads, Merkle nodes and a checkpoint to attack."""
    alice = register_client("alice")
    services.append_many([alice.submission({"i": i}) for i in range(5)])
    services.seal_checkpoint()
    assert Entry.objects.count() >= 7
    assert Payload.objects.exists() and MerkleNode.objects.exists()
    assert Checkpoint.objects.exists()


def snapshot(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in cursor.fetchall()]


def refused(sql: str) -> DatabaseError:
    """Run ``sql`` in a savepoint; it must fail, and the error must say why."""
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as c:
        c.execute(sql)
    assert "append-only" in str(info.value), str(info.value)
    return info.value


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
        lambda: Checkpoint.objects.all().delete(),
        lambda: MerkleNode.objects.all().update(hash="0" * 64),
    ):
        with pytest.raises(DatabaseError) as info, transaction.atomic():
            change()
        assert "append-only" in str(info.value)
    entry.kind = "tampered.kind"
    with pytest.raises(DatabaseError), transaction.atomic():
        entry.save()
    assert Entry.objects.get(seq=1).kind != "tampered.kind"


def test_without_the_triggers_the_same_sql_would_succeed(ledger_rows, triggers_lifted):
    """Control: the refusals above come from the triggers, not from the SQL being wrong.
    (Everything here is rolled back with the test's transaction.)"""
    with triggers_lifted():
        with connection.cursor() as cursor:
            for table in sorted(TAMPER):
                cursor.execute(TAMPER[table][0])
                assert cursor.rowcount >= 1, table
        assert Entry.objects.get(seq=1).kind == "tampered.kind"
    # reinstalled: refused again
    refused(TAMPER["ledger_entry"][0])

"""Database triggers that make the ledger tables append-only, on SQLite and PostgreSQL.

The one exception is a payload's erasure, allowed only once its redaction entry exists.

Migrations 0002 and 0004 install them; tests that simulate an attacker with database access remove
and reinstall them through :func:`drop` and :func:`install`, the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LEDGER_TABLES = (
    "ledger_entry", "ledger_payload", "ledger_merklenode", "ledger_checkpoint",
    "ledger_ledgerkey", "ledger_keyend", "ledger_custodialkey", "ledger_cosignature",
    "ledger_witnessevidence", "ledger_nonce",
)
# Other apps' immutable records, protected the same way by their own migrations.
CATALOG_TABLES = ("catalog_resourceversion",)
APPEND_ONLY_TABLES = LEDGER_TABLES + CATALOG_TABLES


PAYLOAD_TABLE = "ledger_payload"
# The one change a payload row allows: its erasure (data and salt emptied, nothing else),
# once the ledger.payload.redacted entry for it exists (ledger.redaction).
_SQLITE_ERASURE = (
    "NEW.entry_id = OLD.entry_id AND NEW.restricted = OLD.restricted "
    "AND NEW.data = '' AND NEW.salt = '' AND EXISTS (SELECT 1 FROM ledger_entry "
    "WHERE kind = 'ledger.payload.redacted' AND subject = 'ledger/entry/' || OLD.entry_id)"
)


def _sqlite_install(table: str) -> list[str]:
    allowed = f"WHEN NOT ({_SQLITE_ERASURE}) " if table == PAYLOAD_TABLE else ""
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} {allowed}"
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END",
    ]


def _sqlite_drop(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_{op}" for op in ("no_update", "no_delete")]


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


_PG_ERASURE_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_payload_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.entry_id = OLD.entry_id AND NEW.restricted = OLD.restricted
       AND NEW.data = '' AND NEW.salt = '' AND EXISTS (
           SELECT 1 FROM ledger_entry WHERE kind = 'ledger.payload.redacted'
           AND subject = 'ledger/entry/' || OLD.entry_id::text) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _pg_install(table: str) -> list[str]:
    function = "ledger_payload_erasure_only" if table == PAYLOAD_TABLE else "ledger_refuse_change"
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
    ]


def _pg_drop(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


def install_statements(vendor: str, tables: Sequence[str] = APPEND_ONLY_TABLES) -> list[str]:
    if vendor == "postgresql":
        return [_PG_FUNCTION, _PG_ERASURE_FUNCTION] + [s for t in tables for s in _pg_install(t)]
    if vendor == "sqlite":
        return [s for t in tables for s in _sqlite_install(t)]
    raise NotImplementedError(f"append-only triggers are not written for {vendor}")


def drop_statements(vendor: str, tables: Sequence[str] = APPEND_ONLY_TABLES) -> list[str]:
    if vendor == "postgresql":
        return [s for t in tables for s in _pg_drop(t)]
    if vendor == "sqlite":
        return [s for t in tables for s in _sqlite_drop(t)]
    raise NotImplementedError(f"append-only triggers are not written for {vendor}")


def _existing(connection: Any, tables: Sequence[str]) -> list[str]:
    present = set(connection.introspection.table_names())
    return [table for table in tables if table in present]


def install(connection: Any, tables: Sequence[str] = APPEND_ONLY_TABLES) -> None:
    with connection.cursor() as cursor:
        for statement in install_statements(connection.vendor, _existing(connection, tables)):
            cursor.execute(statement)


def drop(connection: Any, tables: Sequence[str] = APPEND_ONLY_TABLES) -> None:
    with connection.cursor() as cursor:
        for statement in drop_statements(connection.vendor, _existing(connection, tables)):
            cursor.execute(statement)


# --- queued statements: a transaction that queues one commits within a minute ------------------
#
# The integrator records a queued statement at the later of the time it was queued and the
# previous entry's; so that this stays within the five minutes of statement.time that the
# format allows, no transaction may keep a queued statement uncommitted for longer than
# ledger.queue.ALLOWANCE. SQLite needs no such check: its writers run one at a time, so
# nothing is integrated while a transaction holds a queued statement.
PENDING_TABLE = "ledger_pending"
COMMIT_BOUND_SECONDS = 60
_PG_COMMIT_BOUND = f"""
CREATE OR REPLACE FUNCTION ledger_pending_commit_bound() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF clock_timestamp() - transaction_timestamp() > interval '{COMMIT_BOUND_SECONDS} seconds' THEN
        RAISE EXCEPTION 'a transaction that queues a ledger statement must commit within % '
            'seconds of its start', {COMMIT_BOUND_SECONDS} USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def install_commit_bound(connection: Any) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(_PG_COMMIT_BOUND)
        cursor.execute(f"DROP TRIGGER IF EXISTS {PENDING_TABLE}_commit_bound ON {PENDING_TABLE}")
        cursor.execute(
            f"CREATE CONSTRAINT TRIGGER {PENDING_TABLE}_commit_bound AFTER INSERT ON "
            f"{PENDING_TABLE} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION ledger_pending_commit_bound()")


def drop_commit_bound(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {PENDING_TABLE}_commit_bound "
                           f"ON {PENDING_TABLE}")

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
    """The append-only triggers, and the nonce index's (SQLite drops a table's triggers when
    a migration rebuilds it: a migration that does puts them all back with this)."""
    with connection.cursor() as cursor:
        for statement in install_statements(connection.vendor, _existing(connection, tables)):
            cursor.execute(statement)
    if "ledger_entry" in tables and _existing(connection, [PENDING_TABLE]):
        install_nonce_index(connection)
        install_append_view(connection)


def drop(connection: Any, tables: Sequence[str] = APPEND_ONLY_TABLES) -> None:
    with connection.cursor() as cursor:
        for statement in drop_statements(connection.vendor, _existing(connection, tables)):
            cursor.execute(statement)
    if "ledger_entry" in tables and _existing(connection, [PENDING_TABLE]):
        drop_nonce_index(connection)
        drop_append_view(connection)


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


# --- the nonce index: one per ledger, shared by entries and queued statements --------------------
#
# A nonce is taken once per actor, whichever way its statement came in: an entry appended
# directly takes it as its row is inserted, a queued statement as it is queued (its entry,
# integrated later, names the queued statement and takes none). The database does it, so no
# writer can forget; the unique index on ledger_nonce refuses the second use.
_SQLITE_NONCES = [
    "CREATE TRIGGER IF NOT EXISTS ledger_entry_takes_nonce AFTER INSERT ON ledger_entry "
    "WHEN NEW.pending_id IS NULL BEGIN "
    "INSERT INTO ledger_nonce (actor, nonce) VALUES (NEW.actor, NEW.nonce); END",
    f"CREATE TRIGGER IF NOT EXISTS {PENDING_TABLE}_takes_nonce AFTER INSERT ON {PENDING_TABLE} "
    "BEGIN INSERT INTO ledger_nonce (actor, nonce) VALUES (NEW.actor, NEW.nonce); END",
]
_PG_NONCES = [
    """CREATE OR REPLACE FUNCTION ledger_take_nonce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_nonce (actor, nonce) VALUES (NEW.actor, NEW.nonce);
    RETURN NULL;
END
$$""",
    "DROP TRIGGER IF EXISTS ledger_entry_takes_nonce ON ledger_entry",
    "CREATE TRIGGER ledger_entry_takes_nonce AFTER INSERT ON ledger_entry FOR EACH ROW "
    "WHEN (NEW.pending_id IS NULL) EXECUTE FUNCTION ledger_take_nonce()",
    f"DROP TRIGGER IF EXISTS {PENDING_TABLE}_takes_nonce ON {PENDING_TABLE}",
    f"CREATE TRIGGER {PENDING_TABLE}_takes_nonce AFTER INSERT ON {PENDING_TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION ledger_take_nonce()",
]


def install_nonce_index(connection: Any) -> None:
    statements = _PG_NONCES if connection.vendor == "postgresql" else _SQLITE_NONCES
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def drop_nonce_index(connection: Any) -> None:
    with connection.cursor() as cursor:
        for trigger, table in (("ledger_entry_takes_nonce", "ledger_entry"),
                               (f"{PENDING_TABLE}_takes_nonce", PENDING_TABLE)):
            on = f" ON {table}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")


# --- SQLite: one statement per append -----------------------------------------------------------
#
# PostgreSQL inserts an entry, its payload and its Merkle nodes in one statement (CTEs). SQLite
# has no multi-table insert; it gets a view whose INSTEAD OF trigger writes the three tables
# from one row (the nodes as JSON), so that an append costs it one statement too. A migration
# that rebuilds ledger_entry or ledger_payload on SQLite drops the view first and recreates it
# after, with the triggers (drop() / install()).
_ENTRY = ("seq", "leaf_hash", "prev", "data", "kind", "actor", "subject", "key_id", "nonce",
          "commitment", "pending_id", "statement_time", "recorded")
_SQLITE_APPEND_VIEW = [
    f"CREATE VIEW IF NOT EXISTS ledger_append AS SELECT {', '.join('e.' + c for c in _ENTRY)}, "
    "p.data AS payload, p.salt AS salt, p.restricted AS restricted, NULL AS nodes "
    "FROM ledger_entry e JOIN ledger_payload p ON p.entry_id = e.seq",
    "CREATE TRIGGER IF NOT EXISTS ledger_append_insert INSTEAD OF INSERT ON ledger_append "
    f"BEGIN INSERT INTO ledger_entry ({', '.join(_ENTRY)}) "
    f"VALUES ({', '.join('NEW.' + c for c in _ENTRY)}); "
    "INSERT INTO ledger_payload (entry_id, data, salt, restricted) "
    "VALUES (NEW.seq, NEW.payload, NEW.salt, NEW.restricted); "
    "INSERT INTO ledger_merklenode (position, hash) SELECT json_extract(value, '$[0]'), "
    "json_extract(value, '$[1]') FROM json_each(NEW.nodes); END",
]


def install_append_view(connection: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for statement in _SQLITE_APPEND_VIEW:
                cursor.execute(statement)


def drop_append_view(connection: Any) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DROP VIEW IF EXISTS ledger_append")  # its trigger goes with it

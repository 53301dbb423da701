"""The database side of the Merkle tree: subtree reads, the tail, and the append lock."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from ledger.models import Entry, MerkleNode
from ledger.protocol.format import ZERO_HASH
from ledger.protocol.merkle import SubtreeTree, aligned_subtrees

# Any fixed 64-bit numbers: the PostgreSQL advisory locks that serialise appends, and that
# keep statements being accepted apart from changes of the key registry.
_APPEND_LOCK = 0x5348554C49414E  # "SHULIAN"
_REGISTRY_LOCK = 0x5348554C49414F


def lock_for_append() -> None:
    """Take the append lock for the rest of the current transaction.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every transaction already
    began with BEGIN IMMEDIATE (settings: transaction_mode), which holds the write lock.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_for_append() needs an open transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK])


def lock_registry() -> None:
    """Changing the key registry (or erasing): hold the registry lock exclusively."""
    _advisory("SELECT pg_advisory_xact_lock(%s)")


def _advisory(sql: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("the registry lock needs an open transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, [_REGISTRY_LOCK])


@dataclass(frozen=True)
class Tail:
    size: int
    head: str  # leaf hash of the last entry, or 64 zeros
    recorded: datetime | None


# The newest ``recorded`` this process has seen, per database (its appends and tail reads).
_last_recorded: dict[str, datetime] = {}


def _database() -> str:
    return str(connection.settings_dict["NAME"])


def last_recorded() -> datetime | None:
    """The newest ``recorded`` this process has seen in this database."""
    return _last_recorded.get(_database())


def tail() -> Tail:
    # Raw SQL: this runs under the append lock on every append.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, leaf_hash, recorded FROM ledger_entry ORDER BY seq DESC LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return Tail(0, ZERO_HASH, None)
    recorded = _datetime(Entry._meta.get_field("recorded"), row[2])
    saw_recorded(recorded)
    return Tail(row[0] + 1, row[1], recorded)


def saw_recorded(moment: datetime) -> None:
    seen = _last_recorded.get(_database())
    if seen is None or moment > seen:
        _last_recorded[_database()] = moment


class DatabaseStore:
    """Complete-subtree hashes from the database: leaves from entries, nodes from MerkleNode."""

    def __init__(self, size: int | None = None) -> None:
        self._size = size

    def size(self) -> int:
        if self._size is None:
            self._size = tail().size
        return self._size

    def subtrees(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = set(keys)
        leaves = [index for level, index in wanted if level == 0]
        positions = [MerkleNode.pack(level, index) for level, index in wanted if level > 0]
        found: dict[tuple[int, int], bytes] = {}
        if leaves:
            for seq, leaf in Entry.objects.filter(seq__in=leaves).values_list("seq", "leaf_hash"):
                found[(0, seq)] = bytes.fromhex(leaf)
        if positions:
            marks = ", ".join(["%s"] * len(positions))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT position, hash FROM ledger_merklenode WHERE position IN ({marks})",
                    positions,
                )
                for position, node in cursor.fetchall():
                    found[MerkleNode.unpack(position)] = bytes.fromhex(node)
        return found


def tree(size: int | None = None) -> SubtreeTree:
    return SubtreeTree(DatabaseStore(size))


# The frontier after this process's last append, keyed by (database, size, head hash): the
# head hash commits to the whole history, so a hit is exactly the tree the tail shows.
_last_frontier: tuple[tuple[str, int, str], list[bytes]] | None = None


def remember_frontier(size: int, head: str, nodes: list[bytes]) -> None:
    global _last_frontier
    _last_frontier = ((str(connection.settings_dict["NAME"]), size, head), list(nodes))


def frontier(size: int, last_leaf: str | None = None) -> list[bytes]:
    """Roots of the complete subtrees covering [0, size), largest first.

    ``last_leaf`` is the hex leaf hash of entry size-1 (the tail's head): with it, the
    frontier this process left after its own last append is reused when nobody has
    appended since, and otherwise the single-leaf subtree of an odd size needs no query.
    """
    if last_leaf is not None and _last_frontier is not None:
        key, nodes = _last_frontier
        if key == (str(connection.settings_dict["NAME"]), size, last_leaf):
            return list(nodes)
    keys = aligned_subtrees(0, size)
    known: dict[tuple[int, int], bytes] = {}
    if last_leaf is not None and size % 2:
        known[(0, size - 1)] = bytes.fromhex(last_leaf)
    missing = [key for key in keys if key not in known]
    if missing:
        known.update(DatabaseStore(size).subtrees(missing))
    return [known[key] for key in keys]


# --- the statements that run under the append lock, in plain SQL for speed -----------------


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


Positions = dict[str, tuple[int, int | None, str | None]]

# The read an append decides on, for both engines (the selection written as {kids},
# {actors} and {nonces}: IN lists on SQLite, arrays in the PostgreSQL function below).
# The casts make the columns the function's result type.
_TAIL_AND_POSITIONS = (
    "SELECT CAST('t' AS TEXT), CAST(last.leaf_hash AS TEXT), CAST(last.seq AS BIGINT), "
    "CAST(NULL AS BIGINT), CAST(NULL AS TEXT), last.recorded "
    "FROM (SELECT e.leaf_hash, e.seq, e.recorded FROM ledger_entry e "
    "ORDER BY e.seq DESC LIMIT 1) AS last "
    "UNION ALL SELECT CAST('k' AS TEXT), CAST(k.key_id AS TEXT), "
    "CAST(k.registered_seq AS BIGINT), CAST(ke.seq AS BIGINT), CAST(ke.how AS TEXT), "
    "CAST(NULL AS TIMESTAMP WITH TIME ZONE) "
    "FROM ledger_ledgerkey k LEFT JOIN ledger_keyend ke ON ke.key_id = k.id "
    "WHERE k.key_id {kids} "
    "UNION ALL SELECT CAST('n' AS TEXT), CAST(n.actor AS TEXT), CAST(NULL AS BIGINT), "
    "CAST(NULL AS BIGINT), CAST(n.nonce AS TEXT), CAST(NULL AS TIMESTAMP WITH TIME ZONE) "
    "FROM ledger_nonce n WHERE n.actor {actors} AND n.nonce {nonces}"
)

# PostgreSQL: that read, after taking an advisory lock if one is named, in one round trip.
# A PL/pgSQL function takes a new snapshot for each statement in it (READ COMMITTED), so the
# read sees everything committed before the lock was granted. Installed by migration 0005.
_BY_ARRAYS = _TAIL_AND_POSITIONS.format(kids="= ANY (kids)", actors="= ANY (actors)",
                                       nonces="= ANY (nonces)")
LOCK_AND_READ_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ledger_lock_and_read(lock_id bigint, shared boolean, kids text[],
        actors text[], nonces text[])
    RETURNS TABLE (r_tag text, r_text text, r_number bigint, r_ended bigint, r_how text,
                   r_recorded timestamptz)
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF lock_id IS NOT NULL AND shared THEN
        PERFORM pg_advisory_xact_lock_shared(lock_id);
    ELSIF lock_id IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(lock_id);
    END IF;
    RETURN QUERY {_BY_ARRAYS};
END
$$
"""


def install_functions(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(LOCK_AND_READ_FUNCTION)


# The lock a read may take first (PostgreSQL; on SQLite the transaction holds the write lock).
APPEND = "append"  # exclusive: appends and integration
SHARED_REGISTRY = "shared-registry"  # accepting statements into the queue


def tail_and_positions(key_ids: Iterable[str], pairs: set[tuple[str, str]], *,
                       lock: str | None = None) -> tuple[Tail, Positions, set[tuple[str, str]]]:
    """In one query: the tail; for each key id, (registered seq, seq that ended it, how);
    and which (actor, nonce) pairs are already taken (by an entry, or by a statement in the
    queue). Under the append lock, all three change only by appends. With ``lock``
    (:data:`APPEND`, :data:`SHARED_REGISTRY`), that lock is taken first, in the same round
    trip, for the rest of the transaction."""
    kids = sorted(set(key_ids)) or [""]
    actors = sorted({actor for actor, _ in pairs}) or [""]
    nonces = sorted({nonce for _, nonce in pairs}) or [""]
    if lock is not None and not connection.in_atomic_block:
        raise RuntimeError("a ledger lock needs an open transaction")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            lock_id = {None: None, APPEND: _APPEND_LOCK, SHARED_REGISTRY: _REGISTRY_LOCK}[lock]
            cursor.execute("SELECT * FROM ledger_lock_and_read(%s, %s, %s, %s, %s)",
                           [lock_id, lock == SHARED_REGISTRY, kids, actors, nonces])
        else:
            cursor.execute(_TAIL_AND_POSITIONS.format(kids=f"IN ({_marks(len(kids))})",
                                                      actors=f"IN ({_marks(len(actors))})",
                                                      nonces=f"IN ({_marks(len(nonces))})"),
                           [*kids, *actors, *nonces])
        rows = cursor.fetchall()
    last = Tail(0, ZERO_HASH, None)
    positions: Positions = {}
    used: set[tuple[str, str]] = set()
    for tag, text, number, ended, how, recorded in rows:
        if tag == "t":
            moment = _datetime(Entry._meta.get_field("recorded"), recorded)
            saw_recorded(moment)
            last = Tail(number + 1, text, moment)
        elif tag == "k":
            positions[text] = (number, ended, how)
        elif (text, how) in pairs:
            used.add((text, how))
    return last, positions, used


ENTRY_COLUMNS = ("seq", "leaf_hash", "prev", "data", "kind", "actor", "subject", "key_id",
                 "nonce", "commitment", "pending_id", "statement_time", "recorded")
PAYLOAD_COLUMNS = ("entry_id", "data", "salt", "restricted")
# Up to this many entries are inserted by one statement (above it, by a few): the
# integrator's whole batch (ledger.queue.BATCH).
ONE_STATEMENT = 256
# SQLite: an entry, its payload and the Merkle nodes it closes (a JSON list of [position,
# hash]) inserted as one row of this view (ledger.triggers.APPEND_VIEW_SQLITE).
APPEND_VIEW = "ledger_append"
APPEND_COLUMNS = (*ENTRY_COLUMNS, "payload", "salt", "restricted", "nodes")


def insert(entries: Sequence[Entry], payloads: Sequence[tuple[int, str, str, bool]],
           nodes: Sequence[Sequence[tuple[int, str]]]) -> None:
    """Insert the entries with their payload (seq, data, salt, restricted) and the Merkle
    nodes (position, hash) each one closes: one statement on either engine (PostgreSQL:
    data-modifying CTEs; SQLite: the view ``ledger_append``, whose trigger writes the three
    tables). An entry not integrated from the queue takes its nonce in the nonce index as
    it is inserted (a trigger too: ledger.triggers)."""
    adapt = connection.ops.adapt_datetimefield_value
    entry_rows = [
        [getattr(entry, column) for column in ENTRY_COLUMNS[:11]]
        + [adapt(entry.statement_time), adapt(entry.recorded)]
        for entry in entries
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            rows = [[*entry, data, salt, restricted, json.dumps(closed)]
                    for entry, (_, data, salt, restricted), closed
                    in zip(entry_rows, payloads, nodes, strict=True)]
            _insert_rows(cursor, APPEND_VIEW, APPEND_COLUMNS, rows)
            return
        tables = [("ledger_entry", ENTRY_COLUMNS, entry_rows),
                  ("ledger_payload", PAYLOAD_COLUMNS, [list(row) for row in payloads])]
        flat = [list(node) for closed in nodes for node in closed]
        if flat:
            tables.append(("ledger_merklenode", ("position", "hash"), flat))
        if len(entry_rows) <= ONE_STATEMENT:
            _insert_together(cursor, tables)
            return
        for table, columns, rows in tables:
            _insert_rows(cursor, table, columns, rows)


def _values(columns: Sequence[str], rows: Sequence[list[Any]]) -> tuple[str, list[Any]]:
    marks = ", ".join(f"({_marks(len(columns))})" for _ in rows)
    return marks, [value for row in rows for value in row]


def _insert_together(cursor: Any, tables: Sequence[tuple[str, Sequence[str],
                                                          Sequence[list[Any]]]]) -> None:
    """PostgreSQL: every table's rows in one statement (data-modifying CTEs), one round trip."""
    parts, params = [], []
    for number, (table, columns, rows) in enumerate(tables):
        marks, values = _values(columns, rows)
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}"
        last = number == len(tables) - 1
        parts.append(insert if last else f"t{number} AS ({insert})")
        params += values
    cursor.execute("WITH " + ", ".join(parts[:-1]) + " " + parts[-1], params)


def _insert_rows(cursor: Any, table: str, columns: Sequence[str],
                 rows: Sequence[list[Any]]) -> None:
    # SQLite allows 32766 parameters per statement (PostgreSQL 65535): slices below that.
    per_statement = max(1, 30000 // len(columns))
    for start in range(0, len(rows), per_statement):
        marks, values = _values(columns, rows[start : start + per_statement])
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}", values)


# --- the queue of accepted statements ---------------------------------------------------------

PENDING_COLUMNS = ("statement", "signature", "payload", "salt", "restricted", "actor", "nonce",
                   "key_id", "queued_at", "problem")


def enqueue(rows: Sequence[Sequence[Any]], notify: str = "") -> list[int]:
    """Queue statements (rows in PENDING_COLUMNS order but ``problem``) in one statement, in
    the current transaction; their ids, in order. Each takes its nonce in the nonce index as
    it is inserted (a trigger), which refuses a nonce taken meanwhile (IntegrityError).
    PostgreSQL: the same statement notifies channel ``notify`` (delivered at commit, and
    only if it commits)."""
    adapt = connection.ops.adapt_datetimefield_value
    values = [[*row[:8], adapt(row[8]), ""] for row in rows]
    marks, params = _values(PENDING_COLUMNS, values)
    insert = f"INSERT INTO ledger_pending ({', '.join(PENDING_COLUMNS)}) VALUES {marks} " \
             "RETURNING id"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and notify:
            cursor.execute(f"WITH queued AS ({insert}), woken AS (SELECT pg_notify(%s, '')) "
                           "SELECT queued.id FROM queued CROSS JOIN woken", [*params, notify])
        else:
            cursor.execute(insert, params)
        # ids come from one sequence in VALUES order; RETURNING promises no order
        return sorted(int(row[0]) for row in cursor.fetchall())


def pending(limit: int) -> list[tuple[Any, ...]]:
    """The oldest queued statements not set aside: (id, *PENDING_COLUMNS[:9])."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(PENDING_COLUMNS[:9])} FROM ledger_pending "
                       "WHERE problem = '' ORDER BY id LIMIT %s", [limit])
        rows = cursor.fetchall()
    field = Entry._meta.get_field("recorded")
    return [(*row[:9], _datetime(field, row[9])) for row in rows]


def _datetime(field: Any, value: Any) -> datetime:
    """A datetime column read with raw SQL, as the ORM would give it (aware, UTC)."""
    moment: datetime = field.to_python(value)
    if connection.vendor == "sqlite":
        sqlite_ops: Any = connection.ops  # the SQLite backend's own converter
        moment = sqlite_ops.convert_datetimefield_value(moment, None, connection)
    return moment


def dequeue(ids: Sequence[int]) -> None:
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM ledger_pending WHERE id IN ({_marks(len(ids))})",
                           list(ids))


def set_aside(pending_id: int, problem: str) -> None:
    """A queued statement the integrator could not integrate: kept, with why, for the
    health check and an operator."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_pending SET problem = %s WHERE id = %s",
                       [problem or "refused", pending_id])


# --- PostgreSQL notifications: the integrator woken by commits that queue, waiters by its own ---


def notify(channel: str) -> None:
    """PostgreSQL: notify ``channel`` when the current transaction commits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [channel])


def listen(channel: str) -> bool:
    """PostgreSQL: make this connection listen on ``channel`` (once per connection); False
    elsewhere, or inside a transaction (notifications arrive only between transactions)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    connection.ensure_connection()
    raw = connection.connection
    heard = _listening.setdefault(id(raw), (raw, set()))[1]
    if channel not in heard:
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {channel}")
        heard.add(channel)
        for key in [key for key, (other, _) in _listening.items() if other.closed]:
            del _listening[key]
    raw.notifies.clear()  # what arrived before this wait says nothing about it
    return True


_listening: dict[int, tuple[Any, set[str]]] = {}


def await_notification(timeout: float) -> None:
    """PostgreSQL: wait up to ``timeout`` seconds for a notification on this connection."""
    import select

    raw = connection.connection
    if not raw.notifies:
        select.select([raw], [], [], timeout)
    raw.poll()
    raw.notifies.clear()

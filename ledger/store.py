"""The database side of the Merkle tree: subtree reads, the tail, and the append lock."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from ledger.format import ZERO_HASH
from ledger.merkle import SubtreeTree, aligned_subtrees
from ledger.models import Entry, MerkleNode

# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK = 0x5348554C49414E  # "SHULIAN"


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


@dataclass(frozen=True)
class Tail:
    size: int
    head: str  # leaf hash of the last entry, or 64 zeros
    recorded: datetime | None


def tail() -> Tail:
    # Raw SQL: this runs under the append lock on every append.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, leaf_hash, recorded FROM ledger_entry ORDER BY seq DESC LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return Tail(0, ZERO_HASH, None)
    recorded = Entry._meta.get_field("recorded").to_python(row[2])
    if connection.vendor == "sqlite":
        recorded = connection.ops.convert_datetimefield_value(recorded, None, connection)
    return Tail(row[0] + 1, row[1], recorded)


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


def frontier(size: int) -> list[bytes]:
    """Roots of the complete subtrees covering [0, size), largest first."""
    keys = aligned_subtrees(0, size)
    found = DatabaseStore(size).subtrees(keys)
    return [found[key] for key in keys]

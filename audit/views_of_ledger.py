"""The live database seen through the verification core's eyes (audit.view.LedgerView).

Besides the entries, payloads and checkpoints, it hands the core what the database derives
from them, to be checked against a recomputation: the denormalised columns of each entry,
the stored Merkle nodes and the key cache. The key state before a range is rebuilt from the
key registry entries, never read from the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.db.models import Q

from audit.view import Claim, LedgerView, Prefix, Stored, StoredEntry
from crypto.canonical import parse
from ledger import conf, keystore, selectors, store
from ledger.models import Checkpoint, Entry, LedgerKey, MerkleNode, Payload
from ledger.protocol.format import format_time
from ledger.protocol.keystate import KeyPosition
from ledger.protocol.merkle import aligned_subtrees

Readable = Callable[[Payload], bool]


def key_records(first: int) -> list[dict[str, Any]]:
    """``keys.jsonl`` for a range from ``first``: the key state at ``first``, rebuilt from
    the entries."""
    if first == 0:
        return []
    return keystore.state_from_entries(first).at(first)


def prefix(first: int) -> Prefix:
    """The complete subtrees covering [0, first) and the leaf hash of entry first-1."""
    if first == 0:
        return Prefix()
    keys = aligned_subtrees(0, first)
    found = store.DatabaseStore(first).subtrees(keys)
    return Prefix(first, tuple(found[key].hex() for key in keys),
                  selectors.entry(first - 1).leaf_hash)


def entry_lines(first: int, last: int) -> Iterator[bytes]:
    rows = Entry.objects.filter(seq__gte=first, seq__lte=last).order_by("seq")
    for data in rows.values_list("data", flat=True).iterator(chunk_size=2000):
        yield data.encode("utf-8")


_COLUMNS = ("seq", "leaf_hash", "prev", "kind", "actor", "subject", "key_id", "nonce",
            "commitment", "statement_time", "recorded", "data")


def stored_entries(first: int, last: int) -> Iterator[StoredEntry]:
    """Entry lines with the columns stored beside them (times as ledger time strings)."""
    rows = Entry.objects.filter(seq__gte=first, seq__lte=last).order_by("seq")
    for row in rows.values_list(*_COLUMNS).iterator(chunk_size=2000):
        columns = dict(zip(_COLUMNS, row, strict=True))
        data = columns.pop("data")
        columns["statement_time"] = format_time(columns["statement_time"])
        columns["recorded"] = format_time(columns["recorded"])
        yield StoredEntry(data.encode("utf-8"), columns)


class DatabasePayloads:
    """Payloads fetched a chunk at a time; ``readable`` decides which are included. Erased
    payloads are never included."""

    def __init__(self, readable: Readable | None = None) -> None:
        self.readable = readable

    def get_many(self, seqs: Sequence[int]) -> Mapping[int, Stored]:
        rows = Payload.objects.filter(entry_id__in=list(seqs)).exclude(data="")
        if self.readable is None:
            return {seq: Stored(salt, parse(data)) for seq, data, salt in
                    rows.values_list("entry_id", "data", "salt")}
        return {
            row.entry_id: Stored(row.salt, parse(row.data))
            for row in rows.select_related("entry")
            if self.readable(row)
        }


class DatabaseNodes:
    """The stored Merkle nodes (MerkleNode rows), by the leaves that close them. With
    ``to_tail``, nodes beyond the verified range are counted too (none may exist)."""

    def __init__(self, to_tail: bool) -> None:
        self.to_tail = to_tail

    def closed_by(self, start: int, end: int) -> Mapping[tuple[int, int], str]:
        """Nodes (level, index) whose last leaf, (index + 1) * 2**level - 1, is in [start, end)."""
        query = Q()
        for level in range(1, max(end, 2).bit_length() + 1):
            low = -(-(start + 1) // (1 << level)) - 1  # ceil((start + 1) / 2**level) - 1
            high = end // (1 << level) - 1
            if high >= low:
                query |= Q(position__gte=MerkleNode.pack(level, max(low, 0)),
                           position__lte=MerkleNode.pack(level, high))
        if not query:
            return {}
        return {MerkleNode.unpack(position): node for position, node in
                MerkleNode.objects.filter(query).values_list("position", "hash")}

    def beyond(self, size: int) -> int:
        """Stored nodes that no tree of ``size`` leaves contains (0 unless ``to_tail``)."""
        if not self.to_tail:
            return 0
        query = Q(position__lt=MerkleNode.pack(1, 0))
        for level in range(1, MerkleNode.LEVEL_SHIFT - 1):
            query |= Q(position__gte=MerkleNode.pack(level, size >> level),
                       position__lt=MerkleNode.pack(level + 1, 0))
        return MerkleNode.objects.filter(query).count()


def key_cache() -> list[KeyPosition]:
    """Every row of the key cache, as the key position it claims."""
    return [
        KeyPosition(keystore.row_record(row), row.registered_seq,
                    row.end.seq if hasattr(row, "end") else None,
                    row.end.how if hasattr(row, "end") else None)
        for row in LedgerKey.objects.select_related("end").order_by("registered_seq")
    ]


def checkpoint_notes(first: int, last: int | None) -> list[str]:
    """Every checkpoint note (with cosignatures) of size first+1..last+1 (no upper bound
    when ``last`` is None: a checkpoint beyond the newest entry shows entries are missing)."""
    query = selectors.checkpoints().filter(size__gt=first)
    if last is not None:
        query = query.filter(size__lte=last + 1)
    return [selectors.checkpoint_note(cp) for cp in query]


def ledger_view(first: int, last: int, *, to_tail: bool = False,
                claims: Sequence[Claim] = ()) -> LedgerView:
    """The database's entries first..last, every row derived from them, and, when the range
    runs to the newest entry (``to_tail``), every checkpoint and witness claim beyond it."""
    return LedgerView(
        origin=conf.origin(), prefix=prefix(first), entries=stored_entries(first, last),
        payloads=DatabasePayloads(), keys=key_records(first), count=last - first + 1,
        checkpoints=checkpoint_notes(first, None if to_tail else last),
        sealed=False, nodes=DatabaseNodes(to_tail), key_cache=key_cache(), claims=claims,
    )


def newest_checkpoint_size() -> int:
    latest = Checkpoint.objects.order_by("-size").values_list("size", flat=True).first()
    return int(latest or 0)

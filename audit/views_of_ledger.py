"""The live database seen through the verification core's eyes (audit.core.LedgerView)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from audit.core import LedgerView, Prefix
from crypto.canonical import parse
from ledger import selectors, services, store
from ledger.format import format_time
from ledger.merkle import aligned_subtrees
from ledger.models import Entry, LedgerKey, Payload


def key_records() -> list[dict[str, Any]]:
    """Every registered key as a keys.jsonl record."""
    return [
        {
            "key": key.key_id, "name": key.name, "participant": key.owner, "use": key.use,
            "pem": key.pem, "valid_from": format_time(key.valid_from),
            "valid_until": format_time(key.valid_until) if key.valid_until else None,
            "revoked_at": format_time(key.revoked_at) if key.revoked_at else None,
        }
        for key in LedgerKey.objects.order_by("id")
    ]


def prefix(first: int) -> Prefix:
    """The complete subtrees covering [0, first) and the leaf hash of entry first-1."""
    if first == 0:
        return Prefix()
    keys = aligned_subtrees(0, first)
    found = store.DatabaseStore(first).subtrees(keys)
    return Prefix(first, tuple(found[key].hex() for key in keys), selectors.entry(first - 1)
                  .leaf_hash)


def entry_lines(first: int, last: int) -> Iterator[bytes]:
    rows = Entry.objects.filter(seq__gte=first, seq__lte=last).order_by("seq")
    for data in rows.values_list("data", flat=True).iterator(chunk_size=2000):
        yield data.encode("utf-8")


class DatabasePayloads:
    """Payloads fetched a chunk at a time; ``readable`` decides which are included."""

    def __init__(self, readable: Any = None) -> None:
        self.readable = readable

    def get_many(self, seqs: Sequence[int]) -> Mapping[int, Any]:
        rows = Payload.objects.filter(entry_id__in=list(seqs)).select_related("entry")
        return {
            row.entry_id: parse(row.data)
            for row in rows
            if self.readable is None or self.readable(row)
        }


def checkpoint_notes(first: int, last: int) -> list[str]:
    """Every checkpoint note (with cosignatures) of size first+1..last+1."""
    return [selectors.checkpoint_note(cp)
            for cp in selectors.checkpoints().filter(size__gt=first, size__lte=last + 1)]


def ledger_view(first: int, last: int, readable: Any = None) -> LedgerView:
    return LedgerView(
        origin=services.origin(), prefix=prefix(first), entries=entry_lines(first, last),
        payloads=DatabasePayloads(readable), checkpoints=checkpoint_notes(first, last),
        keys=key_records(), count=last - first + 1,
    )

"""Reads of the ledger: entries, roots, proofs, checkpoints and status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from config.errors import NotFound
from crypto.canonical import parse
from ledger import store
from ledger.models import Checkpoint, Entry, LedgerKey, Payload


@dataclass(frozen=True)
class Status:
    size: int
    head: str
    checkpoint: Checkpoint | None


def status() -> Status:
    tail = store.tail()
    return Status(tail.size, tail.head, Checkpoint.objects.order_by("-size").first())


def size() -> int:
    return store.tail().size


def _check_size(tree_size: int) -> int:
    current = size()
    if not 0 <= tree_size <= current:
        raise NotFound(f"the ledger has {current} entries; there is no tree of size {tree_size}")
    return current


def root(tree_size: int) -> bytes:
    """The Merkle root of the first ``tree_size`` entries."""
    _check_size(tree_size)
    return bytes(store.tree(tree_size).root(tree_size))


def inclusion_proof(seq: int, tree_size: int) -> list[bytes]:
    """RFC 9162 audit path of entry ``seq`` in the tree of ``tree_size`` entries."""
    _check_size(tree_size)
    if not 0 <= seq < tree_size:
        raise NotFound(f"entry {seq} is not in a tree of size {tree_size}")
    return store.tree(tree_size).inclusion_path(seq, tree_size)


def consistency_proof(old: int, new: int) -> list[bytes]:
    """RFC 9162 proof that the tree of ``old`` entries is a prefix of the one of ``new``."""
    _check_size(new)
    if not 0 < old <= new:
        raise NotFound(f"no consistency proof from size {old} to size {new}")
    return store.tree(new).consistency_path(old, new)


def entry(seq: int) -> Entry:
    found = Entry.objects.filter(seq=seq).first()
    if found is None:
        raise NotFound(f"no entry {seq}")
    return found


def entries(first: int = 0, last: int | None = None) -> QuerySet[Entry]:
    """Entries with ``first <= seq <= last`` in order."""
    query = Entry.objects.filter(seq__gte=first).order_by("seq")
    return query if last is None else query.filter(seq__lte=last)


def payload(seq: int) -> tuple[Any, bool] | None:
    """(payload object, restricted) of an entry, or None if none is stored."""
    row = Payload.objects.filter(entry_id=seq).values_list("data", "restricted").first()
    return None if row is None else (parse(row[0]), row[1])


def checkpoints() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.order_by("size")


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def checkpoint_covering(seq: int) -> Checkpoint | None:
    """The smallest checkpoint that includes entry ``seq``."""
    return Checkpoint.objects.filter(size__gt=seq).order_by("size").first()


def keys() -> QuerySet[LedgerKey]:
    return LedgerKey.objects.order_by("id")

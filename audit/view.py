"""What the verification core reads: a :class:`LedgerView` of a bundle or of the database.

No Django: the database-backed view (audit.views_of_ledger) fills the same shapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

from ledger.protocol.keystate import KeyPosition


@dataclass(frozen=True)
class Prefix:
    """What precedes the range: ``size`` entries, their complete-subtree roots left to right
    (hex), and ``last``, the hex leaf hash of entry size-1 (None when size is 0)."""

    size: int = 0
    subtrees: tuple[str, ...] = ()
    last: str | None = None


class Stored(NamedTuple):
    """A payload as the reader has it, with the salt (base64) of its commitment. (A tuple:
    thousands of them go to the worker processes with every chunk.)"""

    salt: Any
    payload: Any


@runtime_checkable
class PayloadSource(Protocol):
    """Payloads by seq, fetched a chunk at a time (a database-backed view implements this)."""

    def get_many(self, seqs: Sequence[int]) -> Mapping[int, Stored]: ...


@dataclass(frozen=True)
class StoredEntry:
    """An entry line with the columns a database keeps beside it, which must say what the
    line says: seq, leaf_hash, prev, kind, actor, subject, key_id, nonce, commitment,
    statement_time and recorded (times as ledger time strings)."""

    data: bytes
    columns: Mapping[str, Any]


class NodeSource(Protocol):
    """Stored Merkle nodes (complete subtrees of level >= 1), to check against a recomputation."""

    def closed_by(self, start: int, end: int) -> Mapping[tuple[int, int], str]:
        """The stored nodes (level, index) -> hex that the leaves [start, end) close."""
        ...

    def beyond(self, size: int) -> int:
        """How many stored nodes lie outside the tree of ``size`` leaves."""
        ...


@dataclass(frozen=True)
class Claim:
    """Someone (a witness) says it cosigned the tree of ``size`` with this ``root`` (hex)."""

    source: str
    size: int
    root: str | None


@dataclass
class LedgerView:
    """Everything the core reads. ``entries`` is iterated once, in order, from prefix.size.

    ``payloads`` maps seq to the stored payload (absent = withheld or erased), or is a
    PayloadSource. ``keys`` are the ``keys.jsonl`` records: the key state at prefix.size.
    ``sealed``: every entry must be covered by a checkpoint (a bundle); otherwise the
    newest uncovered entries are reported as such, not as a failure (a live ledger).
    ``nodes``, ``key_cache`` (its rows, as key positions) and ``claims`` are what a database
    adds, to be checked too.
    ``count`` (optional) is the number of entries, for progress bars.
    """

    origin: str
    prefix: Prefix
    entries: Iterable[bytes | StoredEntry]
    payloads: Mapping[int, Stored] | PayloadSource = field(default_factory=dict)
    checkpoints: Sequence[str] = ()
    keys: Sequence[Mapping[str, Any]] = ()
    count: int | None = None
    sealed: bool = True
    nodes: NodeSource | None = None
    key_cache: Sequence[KeyPosition] | None = None
    claims: Sequence[Claim] = ()

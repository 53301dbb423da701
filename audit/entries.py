"""Per-entry checks: one entry line, its payload and the key state at its position.

The statement's acceptability is decided by :func:`ledger.protocol.rules.refusals`, the
function the append path calls; this module adds what only a reader of stored entries can
check: the line is canonical JSON with exactly the entry fields, and the columns a database
keeps beside it say what the line says.

Entries of ordinary kinds are independent of each other given the key state, so they are
checked in chunks across processes (:func:`checked_entries`); entries of the ledger's own
kinds (``ledger.*``) change the key state and the redactions, so they are checked in this
process, in order, before their chunk is handed out.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import Any, NamedTuple

from audit.view import PayloadSource, Stored, StoredEntry
from crypto.canonical import canonical, parse
from crypto.errors import CanonicalizationError
from ledger.protocol.format import (
    ENTRY_FIELDS,
    VERSION,
    FormatError,
    b64decode_strict,
    decode_salt,
    is_hex64,
    is_time,
    leaf_hash,
    statement_slice,
)
from ledger.protocol.keystate import KeyState
from ledger.protocol.records import PAYLOAD_REDACTED, read_redaction
from ledger.protocol.rules import (
    NO_HISTORY,
    WITHHELD,
    Candidate,
    Code,
    History,
    Refusal,
    refusals,
)

Progress = Callable[[int], None]
COLUMNS = ("seq", "leaf_hash", "prev", "kind", "actor", "subject", "key_id", "nonce",
           "commitment", "statement_time", "recorded")
_LEDGER_KIND = b'"kind":"ledger.'  # only a statement's own kind can hold these unescaped quotes


class Checked(NamedTuple):
    """What one entry line contributes to the cross-entry checks, and its own failures
    as (code, reason) pairs. ``accepted``: the statement passed the format's rules."""

    seq: int | None
    leaf: bytes
    prev: str | None
    actor: str | None
    nonce: str | None
    recorded: str | None
    kind: str | None
    failures: list[tuple[str, str]]
    accepted: bool = False


_compact = partial(json.dumps, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _small_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= 15 else Decimal(text)


def _load(line: bytes) -> tuple[Any, bool]:
    """(value, is canonical); CanonicalizationError if not JSON.

    Fast path: an ASCII line without floats or large integers is canonical exactly when it
    equals Python's sorted compact dump (same escapes, same key order for ASCII keys).
    Anything else goes through the full RFC 8785 comparison.
    """
    if line.isascii():
        try:
            value = json.loads(
                line, parse_float=Decimal, parse_int=_small_int, parse_constant=Decimal
            )
            if _compact(value).encode("ascii") == line:
                return value, True
        except (ValueError, TypeError, UnicodeEncodeError):
            pass
    value = parse(line)
    try:
        return value, canonical(value) == line
    except CanonicalizationError:
        return value, False


def _entry_fields(value: dict[str, Any], failures: list[tuple[str, str]]) -> tuple[
    int | None, str | None, str | None, bytes
]:
    """(seq, prev, recorded, signature bytes), each None (or b"") with a failure if broken."""
    missing, extra = sorted(ENTRY_FIELDS - value.keys()), sorted(value.keys() - ENTRY_FIELDS)
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else [])
        failures.append((Code.ENTRY, f"the entry does not have exactly the v2 fields "
                         f"({'; '.join(parts)})"))
    seq = value.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        failures.append((Code.ENTRY, "seq must be a non-negative integer"))
        seq = None
    if value.get("v") != VERSION or isinstance(value.get("v"), bool):
        failures.append((Code.ENTRY, f"v must be {VERSION}"))
    prev = value.get("prev")
    if not is_hex64(prev):
        failures.append((Code.ENTRY, "prev must be 64 lowercase hex characters"))
        prev = None
    recorded = value.get("recorded")
    if not is_time(recorded):
        failures.append((Code.ENTRY, "recorded must be a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ"))
        recorded = None
    try:
        sig = b64decode_strict(value.get("sig"), "sig")
    except FormatError as exc:
        failures.append((Code.ENTRY, str(exc)))
        sig = b""
    return seq, prev, recorded, sig


def _candidate(statement: Any, sig: bytes, data: bytes | None, stored: Stored | None) -> (
    tuple[Candidate, list[tuple[str, str]]]
):
    if stored is None:
        return Candidate(statement, sig, None, WITHHELD, data), []
    try:
        salt: bytes | None = decode_salt(stored.salt)
    except FormatError as exc:
        return Candidate(statement, sig, None, WITHHELD, data), \
            [(Code.PAYLOAD_SALT, f"the payload's {exc}")]
    return Candidate(statement, sig, salt, stored.payload, data), []


def _columns(columns: Mapping[str, Any], seq: int | None, leaf: bytes, prev: str | None,
             recorded: str | None, statement: Any) -> list[tuple[str, str]]:
    """The stored columns against the entry's own bytes."""
    said = {"seq": seq, "leaf_hash": leaf.hex(), "prev": prev, "recorded": recorded}
    if isinstance(statement, dict):
        said.update(kind=statement.get("kind"), actor=statement.get("actor"),
                    subject=statement.get("subject"), key_id=statement.get("key"),
                    nonce=statement.get("nonce"), commitment=statement.get("payload"),
                    statement_time=statement.get("time"))
    return [(Code.COLUMN, f"the stored column {name} says {columns[name]!r}, the entry's bytes "
             f"say {said[name]!r}")
            for name in COLUMNS if name in said and name in columns and columns[name] != said[name]]


def check_entry(keys: KeyState, item: bytes | StoredEntry, stored: Stored | None,
                position: int, history: History = NO_HISTORY) -> Checked:
    """Every check of one entry that needs nothing but the line, its payload and the keys.

    ``position`` is where the chain expects this entry (used as its seq if its own is broken).
    """
    line, columns = (item.data, item.columns) if isinstance(item, StoredEntry) else (item, None)
    leaf = leaf_hash(line)
    try:
        value, is_canonical = _load(line)
    except CanonicalizationError as exc:
        return Checked(None, leaf, None, None, None, None, None,
                       [(Code.ENTRY, f"the entry is not valid JSON: {exc.reason}")])
    failures = [] if is_canonical else [(Code.ENTRY, "the entry is not canonical JSON (RFC "
                                         "8785): its bytes differ from its canonical form")]
    if not isinstance(value, dict):
        return Checked(None, leaf, None, None, None, None, None,
                       failures + [(Code.ENTRY, "the entry is not an object")])
    seq, prev, recorded, sig = _entry_fields(value, failures)
    statement = value.get("statement")
    data = statement_slice(line) if is_canonical else None
    candidate, problems = _candidate(statement, sig, data, stored)
    failures += problems
    refused: list[Refusal] = refusals(candidate, seq=seq if seq is not None else position,
                                      recorded=recorded, keys=keys, history=history)
    failures += [(r.code, str(r)) for r in refused]
    if columns is not None:
        failures += _columns(columns, seq, leaf, prev, recorded, statement)
    if not isinstance(statement, dict) or any(r.code == Code.FORMAT for r in refused):
        return Checked(seq, leaf, prev, None, None, recorded, None, failures)
    return Checked(seq, leaf, prev, statement["actor"], statement["nonce"], recorded,
                   statement["kind"], failures, accepted=not refused and not problems)


# --- the ledger's own kinds, in order in this process ---------------------------------------


@dataclass
class Followed:
    """The key state and the redactions, following the chain's ``ledger.*`` entries."""

    keys: KeyState
    start: int
    reserved_seqs: set[int] = field(default_factory=set)
    redactions: dict[int, int] = field(default_factory=dict)  # target seq -> redaction seq
    bases: dict[int, str] = field(default_factory=dict)  # target seq -> legal basis

    def reserved(self, seq: int) -> bool | None:
        return seq in self.reserved_seqs if seq >= self.start else None

    def is_redacted(self, seq: int) -> bool:
        return seq in self.redactions

    def follow(self, checked: Checked, stored: Stored | None, position: int) -> None:
        seq = checked.seq if checked.seq is not None else position
        self.reserved_seqs.add(seq)
        if not checked.accepted or stored is None or checked.kind is None:
            return
        if checked.kind == PAYLOAD_REDACTED:
            redaction = read_redaction(stored.payload)
            self.redactions[redaction.seq] = seq
            self.bases[redaction.seq] = redaction.basis
        else:
            self.keys.apply(seq, checked.kind, stored.payload)


# --- running the checks, in order ----------------------------------------------------------


def _line(item: bytes | StoredEntry) -> bytes:
    return item.data if isinstance(item, StoredEntry) else item


def _seq_of(line: bytes, position: int) -> int:
    found = line.find(b'"seq":')
    if found >= 0:
        digits = line[found + 6:found + 23].split(b",", 1)[0]
        if digits.isdigit():
            return int(digits)
    return position


def _payloads_for(source: Mapping[int, Stored] | PayloadSource, seqs: list[int]) -> (
    dict[int, Stored]
):
    if isinstance(source, PayloadSource):
        return dict(source.get_many(seqs))
    return {seq: source[seq] for seq in seqs if seq in source}


def _check_batch(keys: KeyState, batch: list[tuple[bytes | StoredEntry, Stored | None, int]]) -> (
    list[Checked]
):
    return [check_entry(keys, item, stored, position) for item, stored, position in batch]


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


class _Chunk:
    """One chunk: the results of its ledger.* entries (checked here), and the rest (checked
    by a worker, or here) to merge back in order."""

    def __init__(self, followed: Followed, items: list[bytes | StoredEntry], start: int,
                 payloads: Mapping[int, Stored] | PayloadSource) -> None:
        self.size = len(items)
        seqs = [_seq_of(_line(item), start + n) for n, item in enumerate(items)]
        found = _payloads_for(payloads, seqs)
        self.mine: dict[int, Checked] = {}
        self.rest: list[tuple[bytes | StoredEntry, Stored | None, int]] = []
        for offset, (item, seq) in enumerate(zip(items, seqs, strict=True)):
            position = start + offset
            if _LEDGER_KIND in _line(item):
                checked = check_entry(followed.keys, item, found.get(seq), position, followed)
                followed.follow(checked, found.get(seq), position)
                self.mine[offset] = checked
            else:
                self.rest.append((item, found.get(seq), position))
        self.keys = followed.keys.copy()

    def merge(self, rest: list[Checked]) -> list[Checked]:
        others = iter(rest)
        return [self.mine[n] if n in self.mine else next(others) for n in range(self.size)]


def checked_entries(entries: Iterable[bytes | StoredEntry], followed: Followed,
                    payloads: Mapping[int, Stored] | PayloadSource, *, workers: int,
                    chunk: int, progress: Progress | None) -> Iterator[Checked]:
    """Checked results in entry order; in worker processes when there is more than a chunk."""
    iterator = iter(entries)
    position = followed.start
    pending: deque[tuple[_Chunk, Future[list[Checked]] | None]] = deque()
    pool: ProcessPoolExecutor | None = None
    try:
        while items := list(islice(iterator, chunk)):
            part = _Chunk(followed, items, position, payloads)
            position += part.size
            if pool is None and workers > 1 and len(items) == chunk:
                pool = ProcessPoolExecutor(workers, _mp_context())
            future = pool.submit(_check_batch, part.keys, part.rest) if pool else None
            pending.append((part, future))
            while pending and (future is None or len(pending) > 2 * workers):
                yield from _collect(pending.popleft(), progress)
        while pending:
            yield from _collect(pending.popleft(), progress)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _collect(item: tuple[_Chunk, Future[list[Checked]] | None], progress: Progress | None) -> (
    list[Checked]
):
    part, future = item
    rest = future.result() if future is not None else _check_batch(part.keys, part.rest)
    if progress:
        progress(part.size)
    return part.merge(rest)

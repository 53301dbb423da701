"""The one verification core: checks a range of the ledger and reports every failure.

Both paths use it: the offline verifier over a bundle (:mod:`audit.bundle`) and the online
``verify_ledger`` over database rows. Its input is a :class:`LedgerView`: the origin, the
prefix (roots of the complete subtrees before the range, and the last leaf hash before it),
the entry lines in order (any iterable, consumed once), payloads by seq, checkpoint notes and
key records. :func:`verify` returns a :class:`Report` listing every failure with its seq;
nothing is raised for bad data.

Per-entry checks (canonical bytes, schema, key owner and validity window, SM2 signature,
payload hash) are independent, so they run in chunks across processes; the cross-entry checks
(seq contiguity, prev chain, ``recorded`` order, nonce reuse, Merkle roots, checkpoints) run
in this process, in order, as chunk results arrive.

No Django: ``python -m audit.offline`` needs only the installed package.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import Any, NamedTuple, Protocol, runtime_checkable

from audit.proofs import RangeTree, consistency_keys, consistency_path
from audit.witness.verify import cosigners as witness_cosigners
from crypto.canonical import MAX_SAFE_INTEGER, canonical, parse
from crypto.errors import CanonicalizationError, KeyFormatError
from crypto.sm2 import PublicKey
from crypto.sm3 import sm3_hex
from ledger import note as notes
from ledger.format import (
    ENTRY_FIELDS,
    MAX_TEXT,
    STATEMENT_FIELDS,
    ZERO_HASH,
    FormatError,
    b64decode_strict,
    check_statement,
    is_hex64,
    leaf_hash,
    parse_time,
    payload_hash,
)
from ledger.merkle import SM3, verify_consistency

CHUNK = 2000
SKEW = timedelta(minutes=5)
USES = ("statement", "ledger", "witness")
KEY_FIELDS = frozenset(
    {"key", "name", "participant", "use", "pem", "valid_from", "valid_until", "revoked_at"}
)
_SEQ_RE = re.compile(rb'"seq":(\d{1,16})')

Progress = Callable[[int], None]
Fail = Callable[..., None]


# --- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """One thing wrong: ``seq`` of the entry (None if not about one entry), and why.

    A checkpoint failure has seq None and ``checkpoint`` = the checkpoint's tree size.
    """

    seq: int | None
    reason: str
    checkpoint: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"seq": self.seq, "reason": self.reason}
        if self.checkpoint is not None:
            data["checkpoint"] = self.checkpoint
        return data

    def line(self) -> str:
        if self.seq is not None:
            return f"seq {self.seq}: {self.reason}"
        if self.checkpoint is not None:
            return f"checkpoint {self.checkpoint}: {self.reason}"
        return f"ledger: {self.reason}"


@dataclass
class Report:
    """The outcome: ``ok`` when there is no failure at all.

    ``first``/``last`` are the seqs of the range, ``root`` the hex root recomputed over
    [0, last+1); ``cosigned`` lists valid witness names per checkpoint size, ``settled``
    (when k was given) says whether at least k witnesses cosigned it.
    """

    entries: int = 0
    checkpoints: int = 0
    failures: list[Failure] = field(default_factory=list)
    first: int | None = None
    last: int | None = None
    root: str | None = None
    cosigned: dict[int, list[str]] = field(default_factory=dict)
    settled: dict[int, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, seq: int | None, reason: str, checkpoint: int | None = None) -> None:
        self.failures.append(Failure(seq, reason, checkpoint))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "failures": [failure.to_json() for failure in self.failures],
            "from": self.first,
            "to": self.last,
            "root": self.root,
        }
        if self.settled:
            data["settled"] = {str(size): done for size, done in sorted(self.settled.items())}
        return data


# --- the input -------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefix:
    """What precedes the range: ``size`` entries, their complete-subtree roots left to right
    (hex), and ``last``, the hex leaf hash of entry size-1 (None when size is 0)."""

    size: int = 0
    subtrees: tuple[str, ...] = ()
    last: str | None = None


@runtime_checkable
class PayloadSource(Protocol):
    """Payloads by seq, fetched a chunk at a time (a database-backed view implements this)."""

    def get_many(self, seqs: Sequence[int]) -> Mapping[int, Any]: ...


@dataclass
class LedgerView:
    """Everything the core reads. ``entries`` is iterated once, in order, from prefix.size.

    ``payloads`` maps seq to the payload object (absent = withheld), or is a PayloadSource.
    ``count`` (optional) is the number of entries, for progress bars.
    """

    origin: str
    prefix: Prefix
    entries: Iterable[bytes]
    payloads: Mapping[int, Any] | PayloadSource = field(default_factory=dict)
    checkpoints: Sequence[str] = ()
    keys: Sequence[Mapping[str, Any]] = ()
    count: int | None = None


@dataclass(frozen=True)
class Witness:
    """A witness the auditor trusts: its name in cosignature lines and its public key."""

    name: str
    key: PublicKey


# --- key records -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    key: str
    name: str
    participant: str
    use: str
    pem: str
    valid_from: str
    valid_until: str | None
    revoked_at: str | None


_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def _is_time(value: Any) -> bool:
    """Is ``value`` a ledger time (the format of ledger.format.parse_time), quickly."""
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        return False
    return True


def _field_problem(value: Mapping[str, Any], expected: frozenset[str], what: str) -> str | None:
    missing, extra = sorted(expected - value.keys()), sorted(value.keys() - expected)
    if not missing and not extra:
        return None
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"unexpected {', '.join(extra)}"] if extra else []
    )
    return f"{what} does not have exactly the v1 fields ({'; '.join(parts)})"


def read_key_record(data: Mapping[str, Any], origin: str) -> tuple[KeyRecord, PublicKey]:
    """A checked key record and its parsed key; ValueError with the reason otherwise."""
    if not isinstance(data, Mapping):
        raise ValueError("the record is not a JSON object")
    problem = _field_problem(data, KEY_FIELDS, "the record")
    if problem:
        raise ValueError(problem)
    for name in ("key", "name", "participant", "use", "pem"):
        if not isinstance(data[name], str) or not data[name]:
            raise ValueError(f"{name} must be a non-empty string")
    if data["use"] not in USES:
        raise ValueError(f"use must be one of {', '.join(USES)}")
    if not _is_time(data["valid_from"]):
        raise ValueError("valid_from must be a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ")
    for name in ("valid_until", "revoked_at"):
        if data[name] is not None and not _is_time(data[name]):
            raise ValueError(f"{name} must be null or a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        key = PublicKey.from_pem(data["pem"])
    except KeyFormatError as exc:
        raise ValueError(f"pem: {exc}") from None
    if key.key_id != data["key"]:
        raise ValueError("the key id is not the SM3 of the pem's SubjectPublicKeyInfo")
    if data["use"] == "ledger" and (data["name"], data["participant"]) != (origin, origin):
        raise ValueError("a ledger key must have name and participant equal to the origin")
    if data["use"] == "statement" and data["name"] != data["participant"]:
        raise ValueError("a statement key's name must be its participant code")
    return KeyRecord(**{name: data[name] for name in sorted(KEY_FIELDS)}), key


class KeyRing:
    """The valid key records of one ledger, by key id, with their parsed public keys."""

    def __init__(self, origin: str, keys: dict[str, tuple[KeyRecord, PublicKey]]) -> None:
        self.origin = origin
        self.keys = keys

    @classmethod
    def build(cls, records: Iterable[Mapping[str, Any]], origin: str, fail: Fail) -> KeyRing:
        """Check each record; a bad or repeated one is reported and left out."""
        keys: dict[str, tuple[KeyRecord, PublicKey]] = {}
        for number, data in enumerate(records, 1):
            kid = data.get("key") if isinstance(data, Mapping) else None
            label = f"key {kid[:16]}" if isinstance(kid, str) else f"key record #{number}"
            try:
                record, key = read_key_record(data, origin)
            except ValueError as exc:
                fail(None, f"{label}: {exc}")
                continue
            if record.key in keys:
                fail(None, f"{label}: the key appears more than once in the key records")
                continue
            keys[record.key] = (record, key)
        return cls(origin, keys)

    @classmethod
    def from_records(cls, origin: str, records: Iterable[KeyRecord]) -> KeyRing:
        """From already-checked records (in a worker process: parse each PEM once)."""
        return cls(origin, {r.key: (r, PublicKey.from_pem(r.pem)) for r in records})

    def records(self) -> list[KeyRecord]:
        return [record for record, _ in self.keys.values()]

    def by_use(self, use: str) -> list[tuple[KeyRecord, PublicKey]]:
        return [(record, key) for record, key in self.keys.values() if record.use == use]

    def ledger_keys(self) -> list[PublicKey]:
        return [key for _, key in self.by_use("ledger")]


# --- per-entry checks (run in worker processes) -----------------------------------------


class Checked(NamedTuple):
    """What one entry line contributes to the cross-entry checks, and its own failures."""

    seq: int | None
    leaf: bytes
    prev: str | None
    actor: str | None
    nonce: str | None
    recorded: str | None
    reasons: list[str]


_compact = partial(json.dumps, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _small_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= 15 else Decimal(text)


def _load(line: bytes) -> tuple[Any, bool, bool]:
    """(value, is canonical, took the fast path); CanonicalizationError if not JSON.

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
                return value, True, True
        except (ValueError, TypeError, UnicodeEncodeError):
            pass
    value = parse(line)
    try:
        return value, canonical(value) == line, False
    except CanonicalizationError:
        return value, False, False


def _key_problems(
    ring: KeyRing, statement: dict[str, Any], recorded: str | None
) -> tuple[list[str], PublicKey | None]:
    kid = statement["key"]
    found = ring.keys.get(kid)
    short = kid[:16]
    if found is None:
        return [f"statement.key {short} is not a known key of this ledger"], None
    record, key = found
    problems = []
    if record.use == "witness":
        problems.append(f"key {short} is a witness key, which cannot sign statements")
    if record.participant != statement["actor"]:
        problems.append(
            f"key {short} belongs to {record.participant!r}, not to the actor "
            f"{statement['actor']!r}"
        )
    time = statement["time"]
    if time < record.valid_from:
        problems.append(f"key {short} is valid only from {record.valid_from}, "
                        f"after statement.time {time}")
    if record.valid_until is not None and time >= record.valid_until:
        problems.append(f"key {short} expired at {record.valid_until}, "
                        f"not after statement.time {time}")
    if record.revoked_at is not None and time >= record.revoked_at:
        problems.append(f"key {short} was revoked at {record.revoked_at}, "
                        f"not after statement.time {time}")
    elif record.revoked_at is not None and recorded is not None and recorded >= record.revoked_at:
        problems.append(f"key {short} was revoked at {record.revoked_at}, before the entry "
                        f"was recorded at {recorded}")
    if recorded is not None and time > recorded and parse_time(time) - parse_time(recorded) > SKEW:
        problems.append(f"statement.time {time} is more than 5 minutes after recorded {recorded}")
    return problems, key


def _statement_problems(
    ring: KeyRing, statement: dict[str, Any], recorded: str | None, sig: bytes | None,
    data: bytes,
) -> list[str]:
    problems = []
    if statement["ledger"] != ring.origin:
        problems.append(f"statement.ledger is {statement['ledger']!r}, not this ledger "
                        f"{ring.origin!r}")
    key_problems, key = _key_problems(ring, statement, recorded)
    problems.extend(key_problems)
    if key is not None and sig is not None and not key.verify(sig, data):
        problems.append(f"the SM2 signature does not verify over the statement with key "
                        f"{statement['key'][:16]}")
    return problems


def _plain(value: Any) -> bool:
    """JSON made only of ASCII-free-of-surprises types: no floats, integers within 2**53-1."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return False


def _payload_digest(payload: Any) -> str:
    """payload_hash(payload), with a fast path where Python's sorted compact dump is
    exactly RFC 8785: ASCII output, no floats, safe integers."""
    if _plain(payload):
        data = _compact(payload).encode()
        if data.isascii():
            return sm3_hex(data)
    return payload_hash(payload)


def _payload_problem(statement: dict[str, Any], payload: Any) -> str | None:
    try:
        digest = _payload_digest(payload)
    except (FormatError, CanonicalizationError) as exc:
        return f"the payload cannot be canonicalised: {exc}"
    if digest != statement["payload"]:
        return (f"the payload does not match statement.payload (SM3 of the canonical payload "
                f"is {digest[:16]}..., the statement says {statement['payload'][:16]}...)")
    return None


def _entry_fields(value: dict[str, Any], reasons: list[str]) -> tuple[
    int | None, str | None, str | None, bytes | None
]:
    """(seq, prev, recorded, signature bytes), each None (with a reason) if malformed."""
    problem = _field_problem(value, ENTRY_FIELDS, "the entry")
    if problem:
        reasons.append(problem)
    seq = value.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        reasons.append("seq must be a non-negative integer")
        seq = None
    if value.get("v") != 1 or isinstance(value.get("v"), bool):
        reasons.append("v must be 1")
    prev = value.get("prev")
    if not is_hex64(prev):
        reasons.append("prev must be 64 lowercase hex characters")
        prev = None
    recorded = value.get("recorded")
    if not _is_time(recorded):
        reasons.append("recorded must be a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ")
        recorded = None
    try:
        sig: bytes | None = b64decode_strict(value.get("sig"), "sig")
    except FormatError as exc:
        reasons.append(str(exc))
        sig = None
    return seq, prev, recorded, sig


_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")  # ledger.format's kind rule
_TEXT_FIELDS = ("ledger", "kind", "actor", "subject", "nonce")
_STATEMENT_KEY = b',"statement":'
_ENTRY_END = b',"v":1}'


def _well_formed(statement: Any) -> bool:
    """A quick yes for a well-formed v1 statement, never yes where check_statement says no;
    for a no, check_statement gives the reason."""
    if type(statement) is not dict or statement.keys() != STATEMENT_FIELDS:
        return False
    if type(statement["v"]) is not int or statement["v"] != 1:
        return False
    for name in _TEXT_FIELDS:
        text = statement[name]
        if type(text) is not str or not 0 < len(text) <= MAX_TEXT:
            return False
    return bool(
        _KIND_RE.fullmatch(statement["kind"]) and is_hex64(statement["key"])
        and is_hex64(statement["payload"]) and _is_time(statement["time"])
    )


def _statement_data(line: bytes, entry: dict[str, Any], fast: bool) -> bytes:
    """The statement bytes: sliced out of a canonical line (keys sort prev, recorded, seq,
    sig, statement, v; no string can hold an unescaped quote), else re-encoded."""
    if fast and entry.keys() == ENTRY_FIELDS and line.endswith(_ENTRY_END):
        return line[line.index(_STATEMENT_KEY) + len(_STATEMENT_KEY):-len(_ENTRY_END)]
    return canonical(entry["statement"])


def check_entry(ring: KeyRing, line: bytes, payloads: Mapping[int, Any]) -> Checked:
    """Every check of one entry line that needs nothing but the line, its payload, the keys."""
    leaf = leaf_hash(line)
    try:
        value, is_canonical, fast = _load(line)
    except CanonicalizationError as exc:
        return Checked(None, leaf, None, None, None, None,
                       [f"the entry is not valid JSON: {exc.reason}"])
    reasons = [] if is_canonical else [
        "the entry is not canonical JSON (RFC 8785): its bytes differ from its canonical form"
    ]
    if not isinstance(value, dict):
        return Checked(None, leaf, None, None, None, None, reasons + ["the entry is not an object"])
    seq, prev, recorded, sig = _entry_fields(value, reasons)
    statement: Any = value.get("statement")  # a dict[str, Any] once check_statement passes
    if not _well_formed(statement):
        try:
            check_statement(statement)
        except FormatError as exc:
            return Checked(seq, leaf, prev, None, None, recorded, reasons + [str(exc)])
    data = _statement_data(line, value, fast)
    reasons.extend(_statement_problems(ring, statement, recorded, sig, data))
    if seq is not None and seq in payloads:
        problem = _payload_problem(statement, payloads[seq])
        if problem:
            reasons.append(problem)
    return Checked(seq, leaf, prev, statement["actor"], statement["nonce"], recorded, reasons)


def check_chunk(ring: KeyRing, lines: list[bytes], payloads: Mapping[int, Any]) -> list[Checked]:
    return [check_entry(ring, line, payloads) for line in lines]


_WORKER_RING: KeyRing | None = None


def _init_worker(origin: str, records: list[KeyRecord]) -> None:
    global _WORKER_RING
    _WORKER_RING = KeyRing.from_records(origin, records)


def _check_chunk_in_worker(lines: list[bytes], payloads: dict[int, Any]) -> list[Checked]:
    assert _WORKER_RING is not None, "worker not initialised"
    return check_chunk(_WORKER_RING, lines, payloads)


# --- running the per-entry checks, in order ------------------------------------------------


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    iterator = iter(lines)
    while batch := list(islice(iterator, size)):
        yield batch


def _payloads_for(source: Mapping[int, Any] | PayloadSource, lines: list[bytes]) -> dict[int, Any]:
    seqs = [int(m.group(1)) for line in lines if (m := _SEQ_RE.search(line))]
    if isinstance(source, PayloadSource):
        return dict(source.get_many(seqs))
    return {seq: source[seq] for seq in seqs if seq in source}


def _mp_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _checked_entries(
    view: LedgerView, ring: KeyRing, workers: int, chunk: int, progress: Progress | None
) -> Iterator[Checked]:
    """Checked results in entry order: in this process for one chunk or one worker."""
    batches = _chunks(view.entries, chunk)
    first = next(batches, None)
    if first is None:
        return
    second = next(batches, None) if workers > 1 else None
    if second is None:
        for lines in _prepend([first], batches):
            yield from check_chunk(ring, lines, _payloads_for(view.payloads, lines))
            if progress:
                progress(len(lines))
        return
    yield from _pooled(view, ring, workers, _prepend([first, second], batches), progress)


def _prepend(head: list[list[bytes]], rest: Iterator[list[bytes]]) -> Iterator[list[bytes]]:
    yield from head
    yield from rest


def _pooled(
    view: LedgerView,
    ring: KeyRing,
    workers: int,
    batches: Iterator[list[bytes]],
    progress: Progress | None,
) -> Iterator[Checked]:
    pending: deque[tuple[int, Future[list[Checked]]]] = deque()
    with ProcessPoolExecutor(
        workers, _mp_context(), initializer=_init_worker, initargs=(ring.origin, ring.records())
    ) as pool:
        for lines in batches:
            payloads = _payloads_for(view.payloads, lines)
            pending.append((len(lines), pool.submit(_check_chunk_in_worker, lines, payloads)))
            while len(pending) > 2 * workers:
                yield from _collect(pending.popleft(), progress)
        while pending:
            yield from _collect(pending.popleft(), progress)


def _collect(item: tuple[int, Future[list[Checked]]], progress: Progress | None) -> list[Checked]:
    count, future = item
    result = future.result()
    if progress:
        progress(count)
    return result


# --- cross-entry checks, in order ----------------------------------------------------------


class _Chain:
    """Seq contiguity, prev links, recorded order, nonce reuse, and the Merkle tree."""

    def __init__(self, view: LedgerView, report: Report, tree: RangeTree | None,
                 sizes: set[int]) -> None:
        self.report = report
        self.start = view.prefix.size
        self.position = view.prefix.size
        self.prev_seq = view.prefix.size - 1
        self.prev_leaf = view.prefix.last if view.prefix.size else ZERO_HASH
        self.prev_recorded: str | None = None
        self.nonces: dict[str, int] = {}
        self.tree = tree
        self.sizes = sizes
        self.roots: dict[int, bytes] = {}

    def add(self, checked: Checked) -> None:
        seq = checked.seq if checked.seq is not None else self.position
        for reason in checked.reasons:
            self.report.fail(seq, reason)
        if checked.seq is not None:
            self._check_seq(checked.seq)
        if checked.prev is not None and checked.prev != self.prev_leaf:
            where = f"seq {self.prev_seq}" if self.position > self.start else "the prefix"
            self.report.fail(seq, f"prev does not match the leaf hash of the previous entry "
                             f"({where})")
        self._check_recorded(seq, checked.recorded)
        self._check_nonce(seq, checked.actor, checked.nonce)
        self.prev_leaf = checked.leaf.hex()
        self.prev_seq = seq
        self.position += 1
        if self.tree is not None:
            self.tree.add(checked.leaf)
            if self.position in self.sizes:
                self.roots[self.position] = self.tree.root()

    def _check_seq(self, seq: int) -> None:
        if seq == self.position or seq == self.prev_seq + 1:
            return
        if self.position == self.start:
            self.report.fail(seq, f"the first entry has seq {seq}, expected {self.start}")
        elif seq > self.prev_seq + 1:
            missing = (
                f"entry {self.prev_seq + 1} is missing"
                if seq == self.prev_seq + 2
                else f"entries {self.prev_seq + 1}..{seq - 1} are missing"
            )
            self.report.fail(seq, f"seq {seq} follows seq {self.prev_seq}: {missing}")
        else:
            self.report.fail(seq, f"seq {seq} follows seq {self.prev_seq}: out of order")

    def _check_recorded(self, seq: int, recorded: str | None) -> None:
        if recorded is None:
            return
        if self.prev_recorded is not None and recorded < self.prev_recorded:
            self.report.fail(seq, f"recorded {recorded} is earlier than the previous entry's "
                             f"{self.prev_recorded} (recorded must never decrease)")
        self.prev_recorded = recorded

    def _check_nonce(self, seq: int, actor: str | None, nonce: str | None) -> None:
        if actor is None or nonce is None:
            return
        earlier = self.nonces.setdefault(f"{len(actor)}:{actor}{nonce}", seq)  # unambiguous
        if earlier != seq:
            self.report.fail(seq, f"nonce {nonce!r} of actor {actor!r} was already used at "
                             f"seq {earlier} (replay)")

    def finish(self, payloads: Mapping[int, Any] | PayloadSource) -> None:
        report = self.report
        report.entries = self.position - self.start
        if report.entries == 0:
            report.fail(None, "there are no entries to verify")
            return
        report.first, report.last = self.start, self.position - 1
        if self.tree is not None:
            report.root = self.tree.root().hex()
        if isinstance(payloads, Mapping):
            for seq in sorted(s for s in payloads if not self.start <= s < self.position):
                report.fail(seq, "there is a payload for this seq but no entry")


def _start_tree(prefix: Prefix, sizes: Sequence[int], report: Report) -> RangeTree | None:
    """The tree over the prefix roots, or None (and a failure) if the prefix is malformed."""
    if not isinstance(prefix.size, int) or prefix.size < 0:
        report.fail(None, "prefix: size must be a non-negative integer")
        return None
    if prefix.size == 0 and prefix.last is not None:
        report.fail(None, "prefix: last must be null when the range starts at seq 0")
    if prefix.size > 0 and not is_hex64(prefix.last):
        report.fail(None, "prefix: last must be the leaf hash of the entry before the range")
    if not all(is_hex64(root) for root in prefix.subtrees):
        report.fail(None, "prefix: subtrees must be 64-character lowercase hex hashes")
        return None
    roots = [bytes.fromhex(root) for root in prefix.subtrees]
    try:
        return RangeTree(prefix.size, roots, consistency_keys(sizes))
    except ValueError as exc:
        report.fail(None, f"prefix: {exc}")
        return None


# --- checkpoints ---------------------------------------------------------------------------


class _Note(NamedTuple):
    size: int
    root: bytes
    checkpoint: notes.Checkpoint


def _ledger_keys(ring: KeyRing, pinned: PublicKey | None, report: Report) -> list[PublicKey]:
    keys = ring.ledger_keys()
    if pinned is None:
        return keys
    if pinned not in keys:
        report.fail(None, f"the pinned ledger key {pinned.key_id[:16]} is not among the "
                    "ledger's key records")
    return [pinned]


def _ledger_signature_problem(checkpoint: notes.Checkpoint, keys: list[PublicKey]) -> str | None:
    first = checkpoint.signatures[0]
    if first.name != checkpoint.origin:
        return f"the first signature line is by {first.name!r}, not by the ledger"
    candidates = [key for key in keys if notes.key_hint(key.key_id) == first.hint]
    if not candidates:
        return f"not signed by the ledger key (key hint {first.hint.hex()} matches no ledger key)"
    if not any(notes.verify_signature(checkpoint.body, first, key) for key in candidates):
        return "the ledger signature does not verify"
    return None


def _parse_checkpoints(
    view: LedgerView, ring: KeyRing, pinned: PublicKey | None, report: Report
) -> list[_Note]:
    ledger_keys = _ledger_keys(ring, pinned, report)
    parsed = []
    for number, text in enumerate(view.checkpoints, 1):
        try:
            checkpoint = notes.parse(text)
        except notes.NoteError as exc:
            report.fail(None, f"checkpoint #{number} is not a valid note: {exc}")
            continue
        size = checkpoint.size
        if checkpoint.origin != view.origin:
            report.fail(None, f"checkpoint of size {size} is for origin {checkpoint.origin!r}, "
                        f"not {view.origin!r}", size)
            continue
        problem = _ledger_signature_problem(checkpoint, ledger_keys)
        if problem:
            report.fail(None, f"checkpoint of size {size}: {problem}", size)
        parsed.append(_Note(size, checkpoint.root, checkpoint))
    return parsed


def _witnesses(ring: KeyRing, given: Sequence[Witness] | None) -> list[Witness]:
    if given is not None:
        return list(given)
    return [Witness(record.name, key) for record, key in ring.by_use("witness")]


def _check_witnesses(
    parsed: list[_Note], witnesses: list[Witness], k: int | None, report: Report
) -> None:
    """Count valid cosignatures; a line whose name and key hint match a witness must verify."""
    for item in parsed:
        valid, problems = witness_cosigners(item.checkpoint, witnesses)
        for problem in problems:
            report.fail(None, f"checkpoint of size {item.size}: {problem}", item.size)
        cosigners = set(report.cosigned.get(item.size, ())) | set(valid)
        report.cosigned[item.size] = sorted(cosigners)
        if k is not None:
            report.settled[item.size] = len(cosigners) >= k


def _check_roots(parsed: list[_Note], chain: _Chain, report: Report) -> None:
    """Each checkpoint's root against the recomputed one; forks; coverage of the last entry."""
    if report.last is None:
        return
    last = report.last
    by_size: dict[int, set[bytes]] = {}
    for item in parsed:
        by_size.setdefault(item.size, set()).add(item.root)
    for size, roots in sorted(by_size.items()):
        if len(roots) > 1:
            report.fail(None, f"{len(roots)} checkpoints of size {size} have different roots "
                        "(a fork)", size)
        if size <= chain.start:
            report.fail(None, f"checkpoint of size {size} covers no entry of this range, which "
                        f"starts at seq {chain.start}", size)
        elif size > last + 1:
            report.fail(None, f"checkpoint of size {size} is beyond the last entry (seq {last}): "
                        f"entries {last + 1}..{size - 1} are missing", size)
        elif chain.tree is not None:
            recomputed = chain.roots[size]
            for root in sorted(roots - {recomputed}):
                report.fail(None, f"checkpoint of size {size}: root {root.hex()} does not match "
                            f"the root recomputed from the entries, {recomputed.hex()}", size)
    if last + 1 not in by_size:
        report.fail(last, f"no checkpoint covers the last entry (none has size {last + 1})")
    if chain.tree is not None:
        _check_consistency(by_size, chain, chain.tree, last)


def _check_consistency(
    by_size: dict[int, set[bytes]], chain: _Chain, tree: RangeTree, last: int
) -> None:
    """An explicit RFC 9162 consistency proof between each pair of successive checkpoints."""
    sizes = sorted(size for size in by_size if chain.start < size <= last + 1)
    for old, new in zip(sizes, sizes[1:], strict=False):
        if len(by_size[old]) != 1 or len(by_size[new]) != 1:
            continue
        (old_root,), (new_root,) = by_size[old], by_size[new]
        path = consistency_path(tree, old, new)
        if not verify_consistency(old, new, old_root, new_root, path, SM3):
            chain.report.fail(None, f"checkpoints of size {old} and {new} are not consistent: "
                              "no consistency proof from the entries links their roots", new)


# --- the entry point -----------------------------------------------------------------------


def verify(
    view: LedgerView,
    *,
    ledger_key: PublicKey | None = None,
    witnesses: Sequence[Witness] | None = None,
    k: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> Report:
    """Check everything in ``view``; every failure is in the report, none is raised.

    ``ledger_key`` pins the key that must sign checkpoints (the auditor's trust anchor);
    without it, the key records of use ``ledger`` are used. ``witnesses`` default to the
    key records of use ``witness``; with ``k``, each checkpoint size is reported settled
    when at least k distinct witnesses cosigned it. ``workers`` processes check signatures
    (default: the CPU count; 1 runs everything in this process); ``progress`` is called with
    the number of entries in each finished chunk.
    """
    report = Report(checkpoints=len(view.checkpoints))
    ring = KeyRing.build(view.keys, view.origin, report.fail)
    parsed = _parse_checkpoints(view, ring, ledger_key, report)
    _check_witnesses(parsed, _witnesses(ring, witnesses), k, report)
    sizes = sorted({item.size for item in parsed if item.size > view.prefix.size})
    tree = _start_tree(view.prefix, sizes, report)
    chain = _Chain(view, report, tree, set(sizes))
    count = workers or os.cpu_count() or 1
    for checked in _checked_entries(view, ring, count, chunk, progress):
        chain.add(checked)
    chain.finish(view.payloads)
    _check_roots(parsed, chain, report)
    return report

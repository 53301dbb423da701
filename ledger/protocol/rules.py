"""Whether a statement is acceptable at a position in the chain, given the key state.

:func:`refusals` is the one function that decides it. The append path calls it under the
append lock, for the seq and ``recorded`` it is about to write; the verification core calls
it for every entry it reads. Each refusal has a stable ``code`` (the same on both sides, and
in a verifier's JSON report), the ``field`` it is about and a reason for people.

The rules (docs/ledger-format.md sections 6-8):

* the statement is a v2 statement for this ledger;
* its key is live for entry n (registered before n, neither revoked nor replaced before n),
  or n = 0 and entry 0 registers that key as the ledger's first key (the trust anchor);
* the key belongs to the actor, is not a witness key, and ``valid_from <= time <
  valid_until``;
* ``recorded - 5 min <= time <= recorded + 5 min`` (five minutes, fixed by the format);
* the SM2 signature verifies over the statement bytes;
* ``payload`` is SM3(salt || canonical payload), where the payload is present;
* kinds under ``ledger.`` are the ledger's own: actor the origin, payload present and well
  formed, key registrations, revocations and redactions consistent with the chain so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from ledger.protocol.format import (
    FormatError,
    check_statement,
    commitment,
    is_well_formed,
    payload_bytes,
    statement_bytes,
)
from ledger.protocol.keystate import KeyPosition, KeyState
from ledger.protocol.records import (
    KEY_REGISTERED,
    KEY_REVOKED,
    LEDGER_KINDS,
    PAYLOAD_REDACTED,
    KeyRecord,
    entry_subject,
    is_reserved,
    key_subject,
    read_redaction,
    read_registration,
    read_revocation,
)

TIME_WINDOW = timedelta(minutes=5)
# A key the platform registers is valid from this long before its registration's time: any
# statement acceptable at a later position has time >= its recorded - 5 min >= the
# registration's recorded - 5 min >= the registration's time - 10 min.
KEY_BACKDATE = 2 * TIME_WINDOW


class Code:
    """The stable codes of refusals and verification failures."""

    FORMAT: Final = "format"
    LEDGER: Final = "ledger-origin"
    ANCHOR: Final = "trust-anchor"
    KEY_UNKNOWN: Final = "key-unknown"
    KEY_ENDED: Final = "key-ended"
    KEY_OWNER: Final = "key-owner"
    KEY_USE: Final = "key-use"
    KEY_WINDOW: Final = "key-window"
    TIME_WINDOW: Final = "time-window"
    SIGNATURE: Final = "signature"
    PAYLOAD_SALT: Final = "payload-salt"
    PAYLOAD: Final = "payload-commitment"
    PAYLOAD_MISSING: Final = "payload-missing"
    LEDGER_KIND: Final = "ledger-kind"
    SUBJECT: Final = "subject"
    KEY_RECORD: Final = "key-record"
    KEY_DUPLICATE: Final = "key-duplicate"
    KEY_REPLACES: Final = "key-replaces"
    REVOCATION: Final = "revocation"
    REDACTION: Final = "redaction"
    REDACTION_IGNORED: Final = "redaction-ignored"
    NONCE_REPLAY: Final = "nonce-replay"
    ENTRY: Final = "entry"
    SEQ: Final = "seq"
    PREV: Final = "prev"
    RECORDED_ORDER: Final = "recorded-order"
    # What only a verifier finds: checkpoints, the tree, and a database's derived rows.
    CHECKPOINT: Final = "checkpoint"
    CHECKPOINT_SIGNER: Final = "checkpoint-signer"
    CHECKPOINT_ROOT: Final = "checkpoint-root"
    FORK: Final = "fork"
    CONSISTENCY: Final = "consistency"
    COSIGNATURE: Final = "cosignature"
    UNCOVERED: Final = "uncovered"
    TRUNCATED: Final = "truncated"
    PREFIX: Final = "prefix"
    KEY_STATE: Final = "key-state"
    COLUMN: Final = "column"
    MERKLE_NODE: Final = "merkle-node"
    KEY_CACHE: Final = "key-cache"
    RANGE: Final = "range"


@dataclass(frozen=True)
class Refusal:
    code: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class _Missing:
    def __repr__(self) -> str:
        return "WITHHELD"


WITHHELD: Final = _Missing()
"""The payload of an entry that the reader does not have (withheld from it, or erased)."""


@dataclass(frozen=True)
class Candidate:
    """A signed statement with its payload, as submitted or as read from an entry."""

    statement: Any
    signature: bytes
    salt: bytes | None = None
    payload: Any = WITHHELD
    statement_data: bytes | None = None  # the canonical statement bytes, if already known
    payload_data: bytes | None = None  # the canonical payload bytes, if already known

    def data(self) -> bytes:
        return self.statement_data if self.statement_data is not None else \
            statement_bytes(self.statement)


class History(Protocol):
    """What the rules need to know of earlier entries besides the keys (for redactions)."""

    def reserved(self, seq: int) -> bool | None:
        """Is entry ``seq`` of a ``ledger.*`` kind? None if unknown (before a bundle's range)."""
        ...

    def is_redacted(self, seq: int) -> bool: ...


class _NoHistory:
    def reserved(self, seq: int) -> bool | None:
        return None

    def is_redacted(self, seq: int) -> bool:
        return False


NO_HISTORY: Final = _NoHistory()
SignatureCheck = Callable[[KeyRecord, bytes, bytes], bool]


def verify_signature(key: KeyRecord, data: bytes, signature: bytes) -> bool:
    return key.public_key.verify(signature, data)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1])  # a well-formed ledger time, naive UTC


# --- the one function ----------------------------------------------------------------------


def refusals(
    candidate: Candidate, *, seq: int, recorded: str | None, keys: KeyState,
    check_signature: SignatureCheck = verify_signature, history: History = NO_HISTORY,
) -> list[Refusal]:
    """Everything that makes ``candidate`` unacceptable as entry ``seq`` recorded at
    ``recorded``, given the key state (which must have followed the chain up to entry
    seq-1 at least; being positional, it may know later entries too); empty if acceptable.
    (``recorded`` None: an entry whose own recorded field is broken, reported apart.)"""
    statement = candidate.statement
    if not is_well_formed(statement):
        try:
            check_statement(statement)
        except FormatError as exc:
            return [Refusal(Code.FORMAT, exc.field, exc.reason)]
    found: list[Refusal] = []
    if statement["ledger"] != keys.origin:
        found.append(Refusal(Code.LEDGER, "statement.ledger", f"is {statement['ledger']!r}, "
                             f"not this ledger's origin {keys.origin!r}"))
    signer, problems = _signer(candidate, seq, keys)
    found += problems
    if recorded is not None:
        found += _time(statement["time"], recorded)
    if signer is not None and not check_signature(signer, candidate.data(), candidate.signature):
        found.append(Refusal(Code.SIGNATURE, "signature", "does not verify over the canonical "
                             f"statement bytes with key {signer.key[:16]}"))
    found += _payload(candidate)
    if is_reserved(statement["kind"]):
        found += _ledger_kind(candidate, seq, keys, history)
    return found


def static_refusals(candidate: Candidate, key: KeyRecord | None, origin: str,
                    check_signature: SignatureCheck = verify_signature) -> list[Refusal]:
    """The part of :func:`refusals` that does not depend on the position: format, origin,
    signature (with ``key``, if known) and payload commitment. The append path runs it
    before taking the lock, to refuse early and to verify signatures outside the lock."""
    statement = candidate.statement
    try:
        check_statement(statement)
    except FormatError as exc:
        return [Refusal(Code.FORMAT, exc.field, exc.reason)]
    found: list[Refusal] = []
    if statement["ledger"] != origin:
        found.append(Refusal(Code.LEDGER, "statement.ledger", f"is {statement['ledger']!r}, "
                             f"not this ledger's origin {origin!r}"))
    if key is not None and key.key == statement["key"] and \
            not check_signature(key, candidate.data(), candidate.signature):
        found.append(Refusal(Code.SIGNATURE, "signature", "does not verify over the canonical "
                             f"statement bytes with key {key.key[:16]}"))
    return found + _payload(candidate)


# --- the signer ------------------------------------------------------------------------------


def _anchor(candidate: Candidate, keys: KeyState) -> tuple[KeyRecord | None, list[Refusal]]:
    """Entry 0: it registers the ledger's first key and is signed by that key."""
    statement = candidate.statement
    refused = Refusal(Code.ANCHOR, "statement.key", "entry 0 must register the ledger's first "
                      "key (use ledger) and be signed by that very key")
    if statement["kind"] != KEY_REGISTERED or candidate.payload is WITHHELD:
        return None, [refused]
    try:
        record = read_registration(candidate.payload, keys.origin)
    except FormatError:
        return None, [refused]  # the payload's own fault is reported by _ledger_kind
    if record.use != "ledger" or record.key != statement["key"] or record.replaces is not None:
        return None, [refused]
    return record, _key_problems(record, statement)


def _signer(candidate: Candidate, seq: int, keys: KeyState) -> (
    tuple[KeyRecord | None, list[Refusal]]
):
    statement = candidate.statement
    if seq == 0:
        return _anchor(candidate, keys)
    kid = statement["key"]
    position = keys.get(kid)
    if position is None or position.registered >= seq:
        return None, [Refusal(Code.KEY_UNKNOWN, "statement.key",
                              f"key {kid[:16]} is not registered before entry {seq}")]
    if not position.live_for(seq):
        return position.record, [_ended(position, seq)]
    return position.record, _key_problems(position.record, statement)


def _ended(position: KeyPosition, seq: int) -> Refusal:
    return Refusal(Code.KEY_ENDED, "statement.key",
                   f"key {position.record.key[:16]} was {position.how or 'ended'} at entry "
                   f"{position.ended}, so it cannot sign entry {seq}")


def _key_problems(record: KeyRecord, statement: dict[str, Any]) -> list[Refusal]:
    found = []
    short = record.key[:16]
    if record.owner != statement["actor"]:
        found.append(Refusal(Code.KEY_OWNER, "statement.key", f"key {short} belongs to "
                             f"{record.owner!r}, not to the actor {statement['actor']!r}"))
    if record.use == "witness":
        found.append(Refusal(Code.KEY_USE, "statement.key", f"key {short} is a witness key; "
                             "witness keys only cosign checkpoints"))
    time = statement["time"]
    if not record.valid_at(time):
        until = f" until {record.valid_until}" if record.valid_until else ""
        found.append(Refusal(Code.KEY_WINDOW, "statement.time", f"{time} is outside key "
                             f"{short}'s validity (from {record.valid_from}{until})"))
    return found


def _time(time: str, recorded: str) -> list[Refusal]:
    gap = _moment(time) - _moment(recorded)
    if gap > TIME_WINDOW:
        return [Refusal(Code.TIME_WINDOW, "statement.time", f"{time} is more than 5 minutes "
                        f"after the time the ledger records it, {recorded}")]
    if -gap > TIME_WINDOW:
        return [Refusal(Code.TIME_WINDOW, "statement.time", f"{time} is more than 5 minutes "
                        f"before the time the ledger records it, {recorded}")]
    return []


# --- the payload -------------------------------------------------------------------------------


def _payload(candidate: Candidate) -> list[Refusal]:
    if candidate.payload is WITHHELD:
        return []
    if candidate.salt is None:
        return [Refusal(Code.PAYLOAD_SALT, "salt", "is missing: every payload has its salt")]
    try:
        data = candidate.payload_data if candidate.payload_data is not None else \
            payload_bytes(candidate.payload)
        digest = commitment(candidate.salt, data)
    except FormatError as exc:
        return [Refusal(Code.PAYLOAD_SALT if exc.field == "salt" else Code.FORMAT, exc.field,
                        exc.reason)]
    if digest != candidate.statement["payload"]:
        return [Refusal(Code.PAYLOAD, "statement.payload", "is not SM3(salt || canonical "
                        f"payload): that is {digest[:16]}…, the statement says "
                        f"{candidate.statement['payload'][:16]}…")]
    return []


# --- the ledger's own kinds ------------------------------------------------------------------


def _ledger_kind(candidate: Candidate, seq: int, keys: KeyState, history: History) -> (
    list[Refusal]
):
    statement = candidate.statement
    kind = statement["kind"]
    if kind not in LEDGER_KINDS:
        return [Refusal(Code.LEDGER_KIND, "statement.kind", f"{kind!r} is under 'ledger.', "
                        "which is reserved for the ledger's own kinds")]
    found = []
    if statement["actor"] != keys.origin:
        found.append(Refusal(Code.LEDGER_KIND, "statement.actor", f"{kind} is the ledger's own "
                             f"kind: its actor is the origin {keys.origin!r}"))
    if candidate.payload is WITHHELD:
        return found + [Refusal(Code.PAYLOAD_MISSING, "payload", f"the payload of a {kind} "
                                "entry is never withheld or erased")]
    try:
        if kind == KEY_REGISTERED:
            found += _registration(candidate, seq, keys)
        elif kind == KEY_REVOKED:
            found += _revocation(candidate, seq, keys)
        elif kind == PAYLOAD_REDACTED:
            found += _redaction(candidate, seq, history)
    except FormatError as exc:
        code = Code.REDACTION if kind == PAYLOAD_REDACTED else Code.KEY_RECORD
        found.append(Refusal(code, exc.field, exc.reason))
    return found


def _subject(statement: dict[str, Any], expected: str) -> list[Refusal]:
    if statement["subject"] == expected:
        return []
    return [Refusal(Code.SUBJECT, "statement.subject", f"must be {expected!r}")]


def _registration(candidate: Candidate, seq: int, keys: KeyState) -> list[Refusal]:
    record = read_registration(candidate.payload, keys.origin)
    found = _subject(candidate.statement, key_subject(record.key))
    earlier = keys.get(record.key)
    if earlier is not None and earlier.registered < seq:
        found.append(Refusal(Code.KEY_DUPLICATE, "payload.key", f"key {record.key[:16]} was "
                             f"already registered at entry {earlier.registered}"))
    if record.replaces is not None:
        found += _replaces(record, seq, keys)
    if record.use == "witness":
        for other in keys:
            if other.record.use == "witness" and other.record.name == record.name and \
                    other.record.owner != record.owner and other.registered < seq:
                found.append(Refusal(Code.KEY_RECORD, "payload.name", f"witness name "
                                     f"{record.name!r} belongs to {other.record.owner!r}"))
                break
    return found


def _replaces(record: KeyRecord, seq: int, keys: KeyState) -> list[Refusal]:
    old = keys.get(record.replaces or "")
    short = (record.replaces or "")[:16]
    if old is None or not old.live_for(seq):
        return [Refusal(Code.KEY_REPLACES, "payload.replaces",
                        f"key {short} is not a live key at entry {seq}")]
    if (old.record.owner, old.record.use) != (record.owner, record.use):
        return [Refusal(Code.KEY_REPLACES, "payload.replaces", f"key {short} is a "
                        f"{old.record.use} key of {old.record.owner!r}: a key replaces only "
                        "a key of the same owner and use")]
    return []


def _revocation(candidate: Candidate, seq: int, keys: KeyState) -> list[Refusal]:
    revocation = read_revocation(candidate.payload)
    found = _subject(candidate.statement, key_subject(revocation.key))
    if not keys.live_for(revocation.key, seq):
        found.append(Refusal(Code.REVOCATION, "payload.key", f"key {revocation.key[:16]} is "
                             f"not a live key at entry {seq}"))
    return found


def _redaction(candidate: Candidate, seq: int, history: History) -> list[Refusal]:
    redaction = read_redaction(candidate.payload)
    target = redaction.seq
    found = _subject(candidate.statement, entry_subject(target))
    if target >= seq:
        return found + [Refusal(Code.REDACTION, "payload.seq", f"entry {target} does not "
                                f"precede the redaction (entry {seq})")]
    if history.reserved(target):
        found.append(Refusal(Code.REDACTION, "payload.seq", f"entry {target} is of a ledger.* "
                             "kind, whose payload is never erased"))
    if history.is_redacted(target):
        found.append(Refusal(Code.REDACTION, "payload.seq", f"the payload of entry {target} "
                             "is already erased"))
    return found

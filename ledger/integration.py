"""Integration: giving checked statements their place at the tail of the chain.

Both ways into the ledger end here: a synchronous append (:mod:`ledger.append`) integrates
its statements in the caller's own transaction, the integrator (:mod:`ledger.queue`)
integrates queued ones in batches. Either way a statement is first checked without the
append lock (format, signature, payload commitment: :func:`check`), then, under the lock,
:func:`integrate_locked` reads the tail, the key positions and the nonces, lets
:func:`ledger.protocol.rules.refusals` (the function the verifier uses) decide for the seq and
``recorded`` about to be written, and inserts the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection

from crypto.canonical import parse
from crypto.errors import CanonicalizationError
from ledger import conf, custody, jobs, keystore, store
from ledger.errors import AppendRefused, NotInTransaction
from ledger.models import Entry, KeyEnd, LedgerKey, MerkleNode, Payload
from ledger.protocol.format import (
    FormatError,
    b64decode_strict,
    decode_salt,
    entry_bytes_fast,
    format_time,
    leaf_hash,
    payload_bytes,
    statement_bytes,
)
from ledger.protocol.keystate import REPLACED, REVOKED, KeyState
from ledger.protocol.merkle import SM3, closed_subtrees
from ledger.protocol.records import (
    KEY_KINDS,
    KEY_REGISTERED,
    KEY_REVOKED,
    PAYLOAD_REDACTED,
    KeyRecord,
    entry_subject,
    is_reserved,
    read_redaction,
    read_registration,
    read_revocation,
)
from ledger.protocol.rules import (
    Candidate,
    Code,
    Refusal,
    SignatureCheck,
    refusals,
    static_refusals,
)


@dataclass(frozen=True)
class Submission:
    """A signed statement as a client submits it: the payload and the salt (base64 of 16
    bytes) of its commitment travel beside it."""

    statement: dict[str, Any]
    signature: str
    payload: Any
    salt: str
    restricted: bool = False


@dataclass(frozen=True)
class Checked:
    """A statement checked outside the lock, ready to integrate. ``at``: when a queued
    statement was accepted (its ``recorded`` is not earlier); None for now."""

    submission: Submission
    candidate: Candidate
    payload_text: str
    at: datetime | None = None
    pending_id: int | None = None


class PreVerified:
    """Signatures verified before the lock, so that the rules find them under it at no cost.

    The rules call it as their signature check; anything not verified before is verified
    then (a key registered while this append waited for the lock).
    """

    def __init__(self) -> None:
        self._good: set[tuple[str, bytes, bytes]] = set()

    def __call__(self, key: KeyRecord, data: bytes, signature: bytes) -> bool:
        if (key.key, data, signature) in self._good:
            return True
        if key.public_key.verify(signature, data):
            self._good.add((key.key, data, signature))
            return True
        return False


def require_transaction() -> None:
    if not connection.in_atomic_block:
        raise NotInTransaction(
            "the ledger appends only inside transaction.atomic(): wrap the change and its "
            "entry in one transaction, so that they commit together or not at all"
        )



def schedule_checkpoint(old_size: int, new_size: int) -> None:
    """Seal a checkpoint every SHULIAN_CHECKPOINT_EVERY entries, after the caller's commit
    (the embedded default; with a broker, beat seals). Whatever goes wrong while sealing is
    logged, never raised into a caller whose change has already committed."""
    every = settings.SHULIAN_CHECKPOINT_EVERY
    if every <= 0 or not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    if old_size // every != new_size // every:
        jobs.after_commit(jobs.SEAL_CHECKPOINT)


def _refuse(problems: Sequence[Refusal], index: int | None = None) -> None:
    if problems:
        raise AppendRefused.of(problems[0], index)


def known_records(batch: Sequence[Submission]) -> dict[str, KeyRecord]:
    """The records of the keys a batch's decisions need: the signers, the keys its registry
    entries name, the witness keys of the same name (read before the lock, cached)."""
    signers: set[str] = {s.statement["key"] for s in batch if isinstance(s.statement, dict)
                         and isinstance(s.statement.get("key"), str)}
    named: set[str] = set()
    witness_names: set[str] = set()
    for sub in batch:
        more, names = _named_keys(sub)
        named |= more
        witness_names |= names
    return keystore.records({*signers, *named}, witness_names=witness_names)


def _named_keys(sub: Submission) -> tuple[set[str], set[str]]:
    """Key ids (and witness names) that a statement's decision needs beyond its signer."""
    statement = sub.statement
    if not isinstance(statement, dict) or statement.get("kind") not in KEY_KINDS:
        return set(), set()
    payload = sub.payload if isinstance(sub.payload, dict) else {}
    named = {payload.get(field) for field in ("key", "replaces")}
    names = {payload.get("name")} if payload.get("use") == "witness" else set()
    return {kid for kid in named if isinstance(kid, str)}, \
        {name for name in names if isinstance(name, str)}


def check(sub: Submission, keys: dict[str, KeyRecord], verified: PreVerified) -> Checked:
    """Everything that can be checked without the lock; AppendRefused names the field."""
    try:
        signature = b64decode_strict(sub.signature, "signature")
        salt = decode_salt(sub.salt)
        payload_data = payload_bytes(sub.payload)
        data = statement_bytes(sub.statement) if isinstance(sub.statement, dict) else None
    except FormatError as exc:
        raise AppendRefused(exc.field, exc.reason,
                            Code.PAYLOAD_SALT if exc.field == "salt" else Code.FORMAT) from None
    except CanonicalizationError as exc:
        raise AppendRefused("statement" + exc.path[1:], exc.reason) from None
    candidate = Candidate(sub.statement, signature, salt, sub.payload, data, payload_data)
    kid = sub.statement.get("key") if isinstance(sub.statement, dict) else None
    signer = keys.get(kid) if isinstance(kid, str) else None
    _refuse(static_refusals(candidate, signer, conf.origin(), verified))
    return Checked(sub, candidate, payload_data.decode("utf-8"))


def check_all(batch: Sequence[Submission], keys: dict[str, KeyRecord],
              verified: PreVerified) -> list[Checked]:
    """:func:`check` for each statement of a batch; AppendRefused carries the statement's
    place in the batch (``index``)."""
    checked = []
    for index, sub in enumerate(batch):
        try:
            checked.append(check(sub, keys, verified))
        except AppendRefused as exc:
            exc.index = index
            raise
    return checked


class _History:
    """Earlier entries, as the rules for a redaction need them (read only for redactions)."""

    def reserved(self, seq: int) -> bool | None:
        data = Entry.objects.filter(seq=seq).values_list("data", flat=True).first()
        return None if data is None else is_reserved(str(parse(data)["statement"]["kind"]))

    def is_redacted(self, seq: int) -> bool:
        return Entry.objects.filter(kind=PAYLOAD_REDACTED, subject=entry_subject(seq)).exists()


def integrate_locked(items: Sequence[Checked], known: dict[str, KeyRecord],
                     verified: SignatureCheck, *, lock: bool = False) -> list[Entry]:
    """Give ``items`` the next seqs and write them; the caller holds the append lock in its
    transaction (with ``lock``, it is taken here, with the first read). AppendRefused (with
    ``index``, the item's place) if one is refused there."""
    pairs = {(i.submission.statement["actor"], i.submission.statement["nonce"]) for i in items
             if i.pending_id is None}
    wanted = set(known) | {i.submission.statement["key"] for i in items}
    tail, positions, used = store.tail_and_positions(wanted, pairs,
                                                     lock=store.APPEND if lock else None)
    recorded = _recorded_times(items, tail.recorded)
    keys = keystore.state_for(known, positions)
    _decide(items, tail.size, [format_time(moment) for moment in recorded], keys, used,
            verified)
    try:
        entries = _insert(items, tail, recorded)
    except IntegrityError as exc:
        # a nonce taken meanwhile by a statement being accepted into the queue (the nonce
        # index is shared, and acceptance does not wait for the append lock)
        if "nonce" not in str(exc):
            raise
        raise AppendRefused("statement.nonce", "was already used by this actor (a replay)",
                            Code.NONCE_REPLAY) from None
    _follow_ledger_kinds(items, tail.size)
    store.saw_recorded(recorded[-1])
    return entries


def _recorded_times(items: Sequence[Checked], last: datetime | None) -> list[datetime]:
    """``recorded`` never decreases: each item's is the later of when it was accepted (now,
    for a synchronous append) and the entry's before it."""
    now = conf.now()
    times = []
    previous = last
    for item in items:
        moment = item.at or now
        if previous is not None and previous > moment:
            moment = previous
        times.append(moment)
        previous = moment
    return times


def _decide(items: Sequence[Checked], size: int, recorded: Sequence[str], keys: KeyState,
            used: set[tuple[str, str]], verified: SignatureCheck) -> None:
    """Under the lock: the rules for each item at its seq, the key state following the
    batch, so that a key registered early in a batch may sign later in it."""
    history = _History()
    seen: set[tuple[str, str]] = set()
    for offset, item in enumerate(items):
        seq = size + offset
        statement = item.submission.statement
        _refuse(refusals(item.candidate, seq=seq, recorded=recorded[offset], keys=keys,
                         check_signature=verified, history=history), offset)
        pair = (statement["actor"], statement["nonce"])
        # a queued statement took its nonce when it was accepted (the nonce index holds it)
        if item.pending_id is None and (pair in used or pair in seen):
            raise AppendRefused("statement.nonce", f"{statement['nonce']!r} was already used "
                                f"by {statement['actor']!r} (a replay)", Code.NONCE_REPLAY,
                                index=offset)
        seen.add(pair)
        keys.apply(seq, statement["kind"], item.submission.payload)


def _insert(items: Sequence[Checked], tail: store.Tail, recorded: Sequence[datetime]) -> (
    list[Entry]
):
    frontier = store.frontier(tail.size, tail.head if tail.size else None)
    prev = tail.head
    entries: list[Entry] = []
    payloads: list[tuple[int, str, str, bool]] = []
    nodes: list[list[tuple[int, str]]] = []  # the Merkle nodes each leaf closes
    for offset, item in enumerate(items):
        seq = tail.size + offset
        sub = item.submission
        statement = sub.statement
        data = entry_bytes_fast(seq=seq, prev=prev, statement_data=item.candidate.data(),
                                sig=sub.signature, recorded=format_time(recorded[offset]))
        leaf = leaf_hash(data)
        nodes.append([(MerkleNode.pack(level, index), node.hex())
                      for level, index, node in closed_subtrees(seq, leaf, frontier, SM3)])
        entry = Entry(
            seq=seq, leaf_hash=leaf.hex(), prev=prev, data=data.decode("utf-8"),
            kind=statement["kind"], actor=statement["actor"], subject=statement["subject"],
            key_id=statement["key"], nonce=statement["nonce"], commitment=statement["payload"],
            statement_time=datetime.fromisoformat(statement["time"]),
            recorded=recorded[offset], pending_id=item.pending_id,
        )
        entries.append(entry)
        payloads.append((seq, item.payload_text, sub.salt, sub.restricted))
        prev = entry.leaf_hash
    store.insert(entries, payloads, nodes)  # the database takes the nonces (ledger.triggers)
    store.remember_frontier(tail.size + len(entries), prev, frontier)
    for entry in entries:  # they are in the database now, as if saved by the ORM
        entry._state.adding = False
        entry._state.db = "default"
    return entries


def _follow_ledger_kinds(items: Sequence[Checked], size: int) -> None:
    """What the ledger's own entries change, in the same transaction as they are appended:
    the key cache mirrors the registry entries; a redaction erases its target's payload."""
    for offset, item in enumerate(items):
        statement = item.submission.statement
        seq = size + offset
        if statement["kind"] == PAYLOAD_REDACTED:
            target = read_redaction(item.submission.payload).seq
            Payload.objects.filter(entry_id=target).update(data="", salt="")
        elif statement["kind"] == KEY_REGISTERED:
            record = read_registration(item.submission.payload, conf.origin())
            LedgerKey.objects.create(
                key_id=record.key, owner=record.owner, name=record.name, use=record.use,
                pem=record.pem, valid_from=datetime.fromisoformat(record.valid_from),
                valid_until=datetime.fromisoformat(record.valid_until)
                if record.valid_until else None,
                replaces=record.replaces or "", registered_seq=seq,
            )
            if record.replaces is not None:
                _end(record.replaces, seq, REPLACED, record.key)
            custody.forget(record.owner)  # a key held in memory may be the one replaced
        elif statement["kind"] == KEY_REVOKED:
            revocation = read_revocation(item.submission.payload)
            _end(revocation.key, seq, REVOKED, revocation.reason)
            custody.forget()


def _end(key_id: str, seq: int, how: str, reason: str) -> None:
    KeyEnd.objects.create(key=LedgerKey.objects.get(key_id=key_id), seq=seq, how=how,
                          reason=reason)

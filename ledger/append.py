"""The one way to write to the ledger: ``append`` / ``append_many`` of signed statements.

A statement is judged by :func:`ledger.protocol.rules.refusals`, the function the verifier
uses too. What does not depend on the position (format, signature, payload commitment) is
checked before the append lock is taken, so signatures are verified outside it; under the
lock the tail, the key positions and the nonces are read and the same function decides, for
the seq and ``recorded`` about to be written. The rows are inserted inside the caller's
transaction, so a caller that rolls back takes its entry with it and leaves no gap; an
append outside a transaction is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from crypto.canonical import parse
from crypto.errors import CanonicalizationError
from ledger import conf, jobs, keystore, store
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
from ledger.protocol.keystate import REPLACED, REVOKED
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
from ledger.protocol.rules import Candidate, Code, Refusal, refusals, static_refusals


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
class _Checked:
    submission: Submission
    candidate: Candidate
    payload_text: str


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


def _refuse(problems: Sequence[Refusal]) -> None:
    if problems:
        raise AppendRefused.of(problems[0])


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


def _check(sub: Submission, keys: dict[str, KeyRecord], verified: PreVerified) -> _Checked:
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
    return _Checked(sub, candidate, payload_data.decode("utf-8"))


class _History:
    """Earlier entries, as the rules for a redaction need them (read only for redactions)."""

    def reserved(self, seq: int) -> bool | None:
        data = Entry.objects.filter(seq=seq).values_list("data", flat=True).first()
        return None if data is None else is_reserved(str(parse(data)["statement"]["kind"]))

    def is_redacted(self, seq: int) -> bool:
        return Entry.objects.filter(kind=PAYLOAD_REDACTED, subject=entry_subject(seq)).exists()


def append_many(submissions: Iterable[Submission]) -> list[Entry]:
    """Append signed statements in order, atomically: all of them or none."""
    require_transaction()
    batch = list(submissions)
    if not batch:
        return []
    signers: set[str] = {s.statement["key"] for s in batch if isinstance(s.statement, dict)
                         and isinstance(s.statement.get("key"), str)}
    named: set[str] = set()
    witness_names: set[str] = set()
    for sub in batch:
        more, names = _named_keys(sub)
        named |= more
        witness_names |= names
    known = keystore.records({*signers, *named}, witness_names=witness_names)
    verified = PreVerified()
    checked = [_check(sub, known, verified) for sub in batch]
    with transaction.atomic():
        store.lock_for_append()
        tail = store.tail()
        now = max(conf.now(), tail.recorded) if tail.recorded else conf.now()
        _decide(checked, tail.size, format_time(now), known, verified)
        entries = _insert(checked, tail, now)
        _follow_ledger_kinds(checked, tail.size)
    store.saw_recorded(now)
    _schedule_checkpoint(tail.size, tail.size + len(entries))
    return entries


def append(statement: dict[str, Any], signature: str, payload: Any, salt: str, *,
           restricted: bool = False) -> Entry:
    """Append one signed statement; AppendRefused (naming the field) writes nothing."""
    return append_many([Submission(statement, signature, payload, salt, restricted)])[0]


def _decide(items: Sequence[_Checked], size: int, recorded: str, known: dict[str, KeyRecord],
            verified: PreVerified) -> None:
    """Under the lock: the rules for each item at its seq, the key state following the
    batch, so that a key registered early in a batch may sign later in it."""
    pairs = {(i.submission.statement["actor"], i.submission.statement["nonce"]) for i in items}
    wanted = set(known) | {i.submission.statement["key"] for i in items}
    positions, used = store.positions_and_nonces(wanted, pairs)
    keys = keystore.state_for(known, positions)
    history = _History()
    seen: set[tuple[str, str]] = set()
    for offset, item in enumerate(items):
        seq = size + offset
        statement = item.submission.statement
        _refuse(refusals(item.candidate, seq=seq, recorded=recorded, keys=keys,
                         check_signature=verified, history=history))
        pair = (statement["actor"], statement["nonce"])
        if pair in used or pair in seen:
            raise AppendRefused("statement.nonce", f"{statement['nonce']!r} was already used "
                                f"by {statement['actor']!r} (a replay)", Code.NONCE_REPLAY)
        seen.add(pair)
        keys.apply(seq, statement["kind"], item.submission.payload)


def _insert(items: Sequence[_Checked], tail: store.Tail, now: datetime) -> list[Entry]:
    recorded = format_time(now)
    frontier = store.frontier(tail.size, tail.head if tail.size else None)
    prev = tail.head
    entries: list[Entry] = []
    payloads: list[tuple[int, str, str, bool]] = []
    nodes: list[tuple[int, str]] = []
    for offset, item in enumerate(items):
        seq = tail.size + offset
        sub = item.submission
        statement = sub.statement
        data = entry_bytes_fast(seq=seq, prev=prev, statement_data=item.candidate.data(),
                                sig=sub.signature, recorded=recorded)
        leaf = leaf_hash(data)
        for level, index, node in closed_subtrees(seq, leaf, frontier, SM3):
            nodes.append((MerkleNode.pack(level, index), node.hex()))
        entry = Entry(
            seq=seq, leaf_hash=leaf.hex(), prev=prev, data=data.decode("utf-8"),
            kind=statement["kind"], actor=statement["actor"], subject=statement["subject"],
            key_id=statement["key"], nonce=statement["nonce"], commitment=statement["payload"],
            statement_time=datetime.fromisoformat(statement["time"]), recorded=now,
        )
        entries.append(entry)
        payloads.append((seq, item.payload_text, sub.salt, sub.restricted))
        prev = entry.leaf_hash
    store.insert(entries, payloads, nodes)
    store.remember_frontier(tail.size + len(entries), prev, frontier)
    for entry in entries:  # they are in the database now, as if saved by the ORM
        entry._state.adding = False
        entry._state.db = "default"
    return entries


def _follow_ledger_kinds(items: Sequence[_Checked], size: int) -> None:
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
        elif statement["kind"] == KEY_REVOKED:
            revocation = read_revocation(item.submission.payload)
            _end(revocation.key, seq, REVOKED, revocation.reason)


def _end(key_id: str, seq: int, how: str, reason: str) -> None:
    KeyEnd.objects.create(key=LedgerKey.objects.get(key_id=key_id), seq=seq, how=how,
                          reason=reason)


def _schedule_checkpoint(old_size: int, new_size: int) -> None:
    """Seal a checkpoint every SHULIAN_CHECKPOINT_EVERY entries, after the caller's commit.

    Whatever goes wrong while sealing is logged, never raised into a caller whose change
    has already committed (beat seals again within a minute).
    """
    every = settings.SHULIAN_CHECKPOINT_EVERY
    if every <= 0 or not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    if old_size // every != new_size // every:
        jobs.after_commit(jobs.SEAL_CHECKPOINT)

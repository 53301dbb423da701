"""The one way to write to the ledger.

``append`` / ``append_many`` take statements signed by anyone (a client with its own key,
or the server with a custodial key); ``record`` is the helper other apps call for
server-side actions. Every check runs before the append lock is taken; under the lock
only the tail is read and the rows inserted, inside the caller's transaction, so a caller
that rolls back takes its entry with it and leaves no gap.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction

from crypto.errors import KeyFormatError
from crypto.sm2 import PrivateKey, PublicKey
from crypto.sm3 import sm3_hex
from ledger import keyring, note, store
from ledger.errors import AppendRefused, KeyRefused
from ledger.format import (
    FormatError,
    b64decode_strict,
    b64encode,
    check_statement,
    entry_bytes_fast,
    format_time,
    leaf_hash,
    parse_time,
    payload_bytes,
    payload_hash,
    statement_bytes,
)
from ledger.keys import public_key, usable_signing_key
from ledger.merkle import SM3, closed_subtrees, frontier_root
from ledger.models import Checkpoint, CustodialKey, Entry, KeyUse, LedgerKey, MerkleNode

STATEMENT_USES = (KeyUse.STATEMENT, KeyUse.LEDGER)
_WITNESS_NAME = re.compile(r"[^\s+]{1,128}")


@dataclass(frozen=True)
class Submission:
    """A signed statement as a client submits it, with its payload."""

    statement: dict[str, Any]
    signature: str
    payload: Any
    restricted: bool = False


@dataclass(frozen=True)
class _Checked:
    submission: Submission
    statement_data: bytes
    payload_text: str
    key: LedgerKey
    time: datetime


def origin() -> str:
    return str(settings.SHULIAN_LEDGER_ORIGIN)


def _now() -> datetime:
    return datetime.now(UTC)


def _key_valid_at(key: LedgerKey, moment: datetime) -> bool:
    if moment < key.valid_from:
        return False
    if key.valid_until is not None and moment >= key.valid_until:
        return False
    return key.revoked_at is None or moment < key.revoked_at


def _check(sub: Submission, keys: dict[str, LedgerKey]) -> _Checked:
    """Everything that can be checked without the lock; AppendRefused names the field."""
    statement = sub.statement
    try:
        check_statement(statement)
        payload_data = payload_bytes(sub.payload)
        signature = b64decode_strict(sub.signature, "signature")
    except FormatError as exc:
        raise AppendRefused(exc.field, exc.reason) from None
    if statement["ledger"] != origin():
        raise AppendRefused("statement.ledger", f"must be this ledger's origin {origin()!r}")
    key = keys.get(statement["key"])
    if key is None:
        raise AppendRefused("statement.key", "no such key is registered")
    if key.owner != statement["actor"]:
        raise AppendRefused("statement.key", f"belongs to {key.owner!r}, not to the actor")
    if key.use not in STATEMENT_USES:
        raise AppendRefused("statement.key", f"is a {key.use} key and cannot sign statements")
    moment = parse_time(statement["time"], "statement.time")
    if not _key_valid_at(key, moment):
        raise AppendRefused("statement.key", "was not valid (or was revoked) at statement.time")
    if sm3_hex(payload_data) != statement["payload"]:
        raise AppendRefused("statement.payload", "is not the SM3 of the canonical payload")
    data = statement_bytes(statement)
    if not public_key(key).verify(signature, data):
        raise AppendRefused("signature", "does not verify over the canonical statement bytes")
    return _Checked(sub, data, payload_data.decode("utf-8"), key, moment)


def _check_under_lock(items: Sequence[_Checked], now: datetime) -> None:
    skew = timedelta(seconds=settings.SHULIAN_MAX_CLOCK_SKEW_SECONDS)
    pairs = {(item.submission.statement["actor"], item.submission.statement["nonce"])
             for item in items}
    revoked, used = store.conflicts({item.key.pk for item in items}, now, pairs)
    seen: set[tuple[str, str]] = set()
    for item in items:
        statement = item.submission.statement
        if item.time > now + skew:
            raise AppendRefused("statement.time", "is too far in the future")
        if item.key.pk in revoked:
            raise AppendRefused("statement.key", "has been revoked")
        pair = (statement["actor"], statement["nonce"])
        if pair in seen:
            raise AppendRefused("statement.nonce", "is used twice in this batch")
        seen.add(pair)
    if used:
        raise AppendRefused("statement.nonce", "was already used by this actor (replay)")


def append_many(submissions: Iterable[Submission]) -> list[Entry]:
    """Append signed statements in order, atomically: all of them or none."""
    batch = list(submissions)
    if not batch:
        return []
    key_ids = {s.statement.get("key") for s in batch if isinstance(s.statement, dict)}
    keys = {k.key_id: k for k in LedgerKey.objects.filter(key_id__in=key_ids)}
    checked = [_check(sub, keys) for sub in batch]
    with transaction.atomic():
        store.lock_for_append()
        tail = store.tail()
        now = max(_now(), tail.recorded) if tail.recorded else _now()
        _check_under_lock(checked, now)
        entries = _insert(checked, tail, now)
    _schedule_checkpoint(tail.size, tail.size + len(entries))
    return entries


def append(
    statement: dict[str, Any], signature: str, payload: Any, *, restricted: bool = False
) -> Entry:
    """Append one signed statement; AppendRefused (naming the field) writes nothing."""
    return append_many([Submission(statement, signature, payload, restricted)])[0]


def _insert(items: Sequence[_Checked], tail: store.Tail, now: datetime) -> list[Entry]:
    recorded = format_time(now)
    frontier = store.frontier(tail.size, tail.head if tail.size else None)
    prev = tail.head
    entries: list[Entry] = []
    payloads: list[tuple[int, str, bool]] = []
    nodes: list[tuple[int, str]] = []
    for offset, item in enumerate(items):
        seq = tail.size + offset
        sub = item.submission
        data = entry_bytes_fast(seq=seq, prev=prev, statement_data=item.statement_data,
                                sig=sub.signature, recorded=recorded)
        leaf = leaf_hash(data)
        for level, index, node in closed_subtrees(seq, leaf, frontier, SM3):
            nodes.append((MerkleNode.pack(level, index), node.hex()))
        entry = Entry(
            seq=seq, leaf_hash=leaf.hex(), prev=prev, data=data.decode("utf-8"),
            kind=sub.statement["kind"], actor=sub.statement["actor"],
            subject=sub.statement["subject"], key_id=sub.statement["key"],
            nonce=sub.statement["nonce"], payload_hash=sub.statement["payload"],
            statement_time=item.time, recorded=now,
        )
        entries.append(entry)
        payloads.append((seq, item.payload_text, sub.restricted))
        prev = entry.leaf_hash
    store.insert(entries, payloads, nodes)
    store.remember_frontier(tail.size + len(entries), prev, frontier)
    for entry in entries:  # they are in the database now, as if saved by the ORM
        entry._state.adding = False
        entry._state.db = "default"
    return entries


def _schedule_checkpoint(old_size: int, new_size: int) -> None:
    every = settings.SHULIAN_CHECKPOINT_EVERY
    if every <= 0 or not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    if old_size // every == new_size // every:
        return
    from ledger import tasks

    transaction.on_commit(tasks.seal_checkpoint.delay)


# --- statements signed by the server ------------------------------------------------------


def sign_statement(
    *, actor: str, kind: str, subject: str, payload: Any, key: LedgerKey | None = None,
    time: datetime | None = None,
) -> Submission:
    """Build and sign a statement with ``actor``'s custodial key (no append)."""
    signing = key or usable_signing_key(actor)
    try:
        custody = signing.custody
    except CustodialKey.DoesNotExist:
        raise AppendRefused("actor", f"{actor!r} has no custodial key on this server") from None
    try:
        digest = payload_hash(payload)
    except FormatError as exc:
        raise AppendRefused(exc.field, exc.reason) from None
    statement = {
        "v": 1, "ledger": origin(), "kind": kind, "actor": actor, "key": signing.key_id,
        "subject": subject, "payload": digest, "nonce": secrets.token_hex(16),
        "time": format_time(time or _now()),
    }
    signature = keyring.unseal(custody).sign(statement_bytes(statement))
    return Submission(statement, b64encode(signature), payload)


def record(
    *, actor: str, kind: str, subject: str, payload: Any, restricted: bool = False,
    key: LedgerKey | None = None,
) -> Entry:
    """Sign with ``actor``'s custodial key and append; for server-side actions.

    Call it inside the transaction that makes the change it records.
    """
    sub = sign_statement(actor=actor, kind=kind, subject=subject, payload=payload, key=key)
    return append_many([Submission(sub.statement, sub.signature, sub.payload, restricted)])[0]


# --- keys ----------------------------------------------------------------------------------


def _key_payload(key: LedgerKey) -> dict[str, Any]:
    return {
        "key": key.key_id, "owner": key.owner, "name": key.name, "use": key.use,
        "pem": key.pem, "valid_from": format_time(key.valid_from),
        "valid_until": format_time(key.valid_until) if key.valid_until else None,
    }


def ensure_ledger_key() -> LedgerKey:
    """The ledger's own key; generated, kept in custody and self-registered on first use."""
    existing = (
        LedgerKey.objects.filter(use=KeyUse.LEDGER, owner=origin(), revoked_at__isnull=True)
        .order_by("-valid_from").first()
    )
    if existing is not None:
        return existing
    private = PrivateKey.generate()
    with transaction.atomic():
        key = LedgerKey.objects.create(
            key_id=private.public_key.key_id, owner=origin(), name=origin(), use=KeyUse.LEDGER,
            pem=private.public_key.pem, valid_from=_now() - timedelta(seconds=1),
        )
        keyring.store(key, private)
        entry = record(actor=origin(), kind="ledger.key.registered",
                       subject=f"ledger/key/{key.key_id}", payload=_key_payload(key), key=key)
        key.registered_seq = entry.seq
        key.save(update_fields=["registered_seq"])
    return key


def register_key(
    *, owner: str, pem: str, use: str = KeyUse.STATEMENT, name: str | None = None,
    valid_from: datetime | None = None, valid_until: datetime | None = None,
    actor: str | None = None, replaces: LedgerKey | None = None,
) -> LedgerKey:
    """Register a public key for ``owner``; recorded as ``ledger.key.registered``."""
    if use not in KeyUse.values:
        raise KeyRefused("use", f"must be one of {', '.join(KeyUse.values)}")
    if not owner or len(owner) > 128:
        raise KeyRefused("owner", "must be a participant code of 1-128 characters")
    try:
        public = PublicKey.from_pem(pem)
    except KeyFormatError as exc:
        raise KeyRefused("pem", str(exc)) from None
    if LedgerKey.objects.filter(key_id=public.key_id).exists():
        raise KeyRefused("pem", "this key is already registered")
    start = valid_from or _now() - timedelta(seconds=1)
    if valid_until is not None and valid_until <= start:
        raise KeyRefused("valid_until", "must be after valid_from")
    ensure_ledger_key()
    with transaction.atomic():
        key = LedgerKey.objects.create(
            key_id=public.key_id, owner=owner, name=name or owner, use=use, pem=public.pem,
            valid_from=start, valid_until=valid_until,
        )
        payload = _key_payload(key)
        if replaces is not None:
            payload["replaces"] = replaces.key_id
        entry = record(actor=actor or origin(), kind="ledger.key.registered",
                       subject=f"ledger/key/{key.key_id}", payload=payload)
        key.registered_seq = entry.seq
        key.save(update_fields=["registered_seq"])
    return key


def issue_custodial_key(*, owner: str, use: str = KeyUse.STATEMENT, name: str | None = None,
                        actor: str | None = None) -> LedgerKey:
    """Generate a key pair for ``owner``, keep the private half sealed, register the public."""
    private = PrivateKey.generate()
    with transaction.atomic():
        key = register_key(owner=owner, pem=private.public_key.pem, use=use, name=name,
                           actor=actor)
        keyring.store(key, private)
    return key


def rotate_key(*, key_id: str, new_pem: str | None = None, actor: str | None = None) -> LedgerKey:
    """Replace a key: the new one is valid from now, the old one until now.

    Entries the old key signed before now stay valid. Without ``new_pem`` a custodial
    key is generated (only for keys the server already holds).
    """
    with transaction.atomic():
        old = LedgerKey.objects.select_for_update().filter(key_id=key_id).first()
        if old is None:
            raise KeyRefused("key_id", "no such key")
        now = _now()
        if not _key_valid_at(old, now):
            raise KeyRefused("key_id", "only a key valid now can be rotated")
        private = None
        if new_pem is None:
            if not CustodialKey.objects.filter(key=old).exists():
                raise KeyRefused("new_pem", "is required: the server does not hold this key")
            private = PrivateKey.generate()
            new_pem = private.public_key.pem
        new = register_key(owner=old.owner, pem=new_pem, use=old.use, name=old.name,
                           valid_from=now, actor=actor, replaces=old)
        if private is not None:
            keyring.store(new, private)
        old.valid_until = now
        old.save(update_fields=["valid_until"])
    return new


def revoke_key(*, key_id: str, reason: str, actor: str | None = None) -> LedgerKey:
    """Revoke a key from now on; recorded as ``ledger.key.revoked``."""
    if not reason.strip():
        raise KeyRefused("reason", "is required")
    with transaction.atomic():
        key = LedgerKey.objects.select_for_update().filter(key_id=key_id).first()
        if key is None:
            raise KeyRefused("key_id", "no such key")
        if key.revoked_at is not None:
            raise KeyRefused("key_id", "is already revoked")
        if key.use == KeyUse.LEDGER and key.owner == origin():
            raise KeyRefused("key_id", "the ledger's own key is rotated, not revoked")
        # The revocation entry itself is signed by the actor, so record it first.
        now = _now()
        record(actor=actor or origin(), kind="ledger.key.revoked",
               subject=f"ledger/key/{key.key_id}",
               payload={"key": key.key_id, "revoked_at": format_time(now), "reason": reason})
        key.revoked_at = now
        key.revocation_reason = reason
        key.save(update_fields=["revoked_at", "revocation_reason"])
    return key


# --- checkpoints --------------------------------------------------------------------------


def seal_checkpoint() -> Checkpoint | None:
    """Sign a checkpoint of the current tree unless the newest one already covers it."""
    signing = ensure_ledger_key()
    with transaction.atomic():
        store.lock_for_append()
        size = store.tail().size
        latest = Checkpoint.objects.order_by("-size").first()
        if size == 0 or (latest is not None and latest.size >= size):
            return latest
        root = frontier_root(store.frontier(size), SM3)
        signature = note.sign(origin(), size, root, origin(), keyring.unseal(signing.custody))
        checkpoint = note.Checkpoint(origin(), size, root, (signature,))
        sealed = Checkpoint.objects.create(size=size, root=root.hex(), note=checkpoint.text())
        _schedule_cosignatures(sealed.size)
        return sealed


def _schedule_cosignatures(size: int) -> None:
    """After the checkpoint commits, ask the witnesses to cosign it (never blocks appends:
    a failure there is logged, not raised into the caller)."""
    if not settings.SHULIAN_WITNESSES:
        return
    from ledger import tasks

    transaction.on_commit(partial(tasks.collect_cosignatures.delay, size), robust=True)


# --- witnesses -------------------------------------------------------------------------------


def register_witness(*, name: str, pem: str, owner_code: str, by: str | None = None) -> LedgerKey:
    """Register a department's witness key (use ``witness``); the data authority does this.

    ``name`` is the witness's name in cosignature lines: one word, not the ledger's origin,
    and owned by one department only (a new key under the same name is a rotation).
    Recorded as ``ledger.key.registered``, signed by ``by`` (default: the ledger).
    """
    if not isinstance(name, str) or not _WITNESS_NAME.fullmatch(name):
        raise KeyRefused("name", "must be one word of at most 128 characters, no '+' or spaces")
    if name == origin():
        raise KeyRefused("name", "is the ledger's own name")
    other = (LedgerKey.objects.filter(use=KeyUse.WITNESS, name=name)
             .exclude(owner=owner_code).first())
    if other is not None:
        raise KeyRefused("name", f"is already the witness name of {other.owner!r}")
    return register_key(owner=owner_code, pem=pem, use=KeyUse.WITNESS, name=name,
                        actor=by or origin())

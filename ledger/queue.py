"""Accept, then integrate: statements queued in the caller's transaction, integrated in batches.

**Accepting** (:func:`submit`) checks everything a statement can be checked for without a
place in the chain — format, signature (in the caller's process, so that signatures are
verified by every request worker in parallel), payload commitment — and, holding the key
registry's lock shared, judges its key and time with the format's rules for the next seq,
at the earliest and the latest time the integrator may record it; takes its nonce; and queues
it, in the caller's transaction, with the change it records. No global lock is taken.

**Integrating** (:func:`integrate`, run by the integrator: :mod:`ledger.integrator`) takes the
append lock, gives up to :data:`BATCH` queued statements their seqs in queue order, writes
entries and Merkle nodes and removes them from the queue, in one transaction: one durable
commit per batch, and a statement is integrated exactly once whatever crashes (the queue row
and the entry change together). Each entry's ``recorded`` is when its statement was accepted,
or the entry's before it if later; a transaction that queues must commit within
:data:`ALLOWANCE` (on PostgreSQL a deferred trigger holds it to that), which keeps every
queued statement within the five minutes the format allows, however late the integrator.

A change of the key registry takes that lock exclusively: it waits for the statements being
accepted, then integrates the queue before itself (:func:`drain_locked`), so a statement is
never integrated under a key state other than the one it was accepted under.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from ledger import conf, jobs, keystore, store
from ledger.errors import AppendRefused
from ledger.integration import (
    Checked,
    PreVerified,
    Submission,
    check_all,
    integrate_locked,
    known_records,
    require_transaction,
    schedule_checkpoint,
)
from ledger.models import Entry, Pending
from ledger.protocol.format import b64decode_strict, decode_salt, format_time
from ledger.protocol.records import KeyRecord, is_reserved
from ledger.protocol.rules import WITHHELD, Candidate, Code, refusals
from ledger.triggers import COMMIT_BOUND_SECONDS

BATCH = 256
ALLOWANCE = timedelta(seconds=COMMIT_BOUND_SECONDS)
CHANNEL = "ledger_pending"  # PostgreSQL NOTIFY channel the integrator listens on
INTEGRATED = "ledger_integrated"  # ... and the one callers waiting for their seqs listen on


def submit(submissions: Iterable[Submission]) -> list[int]:
    """Accept signed statements into the queue, in the caller's transaction; their queue ids.

    AppendRefused (naming the field) for a statement that is not acceptable; nothing is
    queued then. The ledger's own kinds are not queued (they are appended synchronously).
    """
    require_transaction()
    batch = list(submissions)
    if not batch:
        return []
    for sub in batch:
        kind = sub.statement.get("kind") if isinstance(sub.statement, dict) else None
        if isinstance(kind, str) and is_reserved(kind):
            raise AppendRefused("statement.kind", f"{kind} is the ledger's own kind: the "
                                "ledger appends those itself", Code.LEDGER_KIND)
    known = known_records(batch)
    verified = PreVerified()
    checked = check_all(batch, known, verified)
    # The batch is queued by one statement after its refusals are decided: it needs no
    # savepoint of its own in the caller's transaction.
    accepted = _judge(checked, known, verified)
    try:
        ids = store.enqueue([_row(item, accepted) for item in checked], notify=CHANNEL)
    except IntegrityError:
        raise AppendRefused("statement.nonce", "was already used by this actor (a replay)",
                            Code.NONCE_REPLAY) from None
    if settings.SHULIAN_INTEGRATE_IN_PROCESS:
        jobs.after_commit(jobs.INTEGRATE)
    return ids


def _judge(items: Sequence[Checked], known: dict[str, KeyRecord],
           verified: PreVerified) -> datetime:
    """The format's rules for the next seq, at the earliest and the latest time the
    integrator may record the statement; the nonce not taken. When they were accepted."""
    wanted = set(known) | {item.submission.statement["key"] for item in items}
    pairs = {(i.submission.statement["actor"], i.submission.statement["nonce"]) for i in items}
    # the registry lock held shared until the caller's commit (taken with the read)
    tail, positions, used = store.tail_and_positions(wanted, pairs, lock=store.SHARED_REGISTRY)
    accepted = max(conf.now(), tail.recorded) if tail.recorded else conf.now()
    keys = keystore.state_for(known, positions)
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        for moment in (accepted, accepted + ALLOWANCE):
            found = refusals(item.candidate, seq=tail.size, recorded=format_time(moment),
                             keys=keys, check_signature=verified)
            if found:
                raise AppendRefused.of(found[0], index)
        statement = item.submission.statement
        pair = (statement["actor"], statement["nonce"])
        if pair in used or pair in seen:
            raise AppendRefused("statement.nonce", f"{statement['nonce']!r} was already used "
                                f"by {statement['actor']!r} (a replay)", Code.NONCE_REPLAY,
                                index=index)
        seen.add(pair)
    return accepted


def _row(item: Checked, accepted: datetime) -> list[object]:
    sub = item.submission
    statement = sub.statement
    return [item.candidate.data().decode("utf-8"), sub.signature, item.payload_text, sub.salt,
            sub.restricted, statement["actor"], statement["nonce"], statement["key"], accepted]


# --- integrating ------------------------------------------------------------------------------


def _item(row: Sequence[Any]) -> Checked:
    """A queued statement as the integrator takes it. It was checked when it was accepted
    (signature, payload commitment) and is never of the ledger's own kinds, so its payload
    stays the canonical text it was queued as (withheld from the rules), and its statement,
    canonical JSON this module wrote, is read with the plain JSON reader."""
    pending_id, statement, signature, payload, salt, restricted, _, _, _, queued_at = row
    sub = Submission(json.loads(statement), signature, WITHHELD, salt, bool(restricted))
    candidate = Candidate(sub.statement, b64decode_strict(signature, "signature"),
                          decode_salt(salt), WITHHELD, statement.encode("utf-8"),
                          payload.encode("utf-8"))
    return Checked(sub, candidate, payload, at=queued_at, pending_id=int(pending_id))


def _accepted(key: KeyRecord, data: bytes, signature: bytes) -> bool:
    """A queued statement's signature was verified when it was accepted."""
    return True


def _integrate_batch(limit: int) -> list[Entry]:
    """Up to ``limit`` queued statements, in queue order; the caller holds the append lock.

    A statement refused at its position (never expected: it was judged when accepted) is
    set aside with the reason, for the health check, and the rest go on."""
    items = [_item(row) for row in store.pending(limit)]
    known = known_records([item.submission for item in items])
    while items:
        try:
            with transaction.atomic():  # a savepoint: a refused batch writes nothing
                entries = integrate_locked(items, known, _accepted)
                store.dequeue([item.pending_id for item in items if item.pending_id])
            return entries
        except AppendRefused as exc:
            index = exc.index or 0
            set_aside = items.pop(index)
            store.set_aside(set_aside.pending_id or 0, str(exc))
    return []


def integrate(limit: int = BATCH, *, seal: bool = True) -> int:
    """Integrate one batch of queued statements, in a transaction of its own; how many.
    Waiters are told at its commit (PostgreSQL: NOTIFY on :data:`INTEGRATED`). ``seal``:
    schedule a checkpoint every SHULIAN_CHECKPOINT_EVERY entries (the integrator process
    seals on its own clock instead)."""
    with transaction.atomic():
        store.lock_for_append()
        entries = _integrate_batch(limit)
        if entries:
            store.notify(INTEGRATED)
    if entries and seal:
        schedule_checkpoint(entries[0].seq, entries[-1].seq + 1)
    return len(entries)


def drain(*, seal: bool = True) -> int:
    """Integrate until the queue is empty; how many."""
    total = 0
    while count := integrate(seal=seal):
        total += count
    return total


def drain_locked() -> int:
    """Integrate the whole queue in the caller's transaction (it holds the append lock)."""
    total = 0
    while entries := _integrate_batch(BATCH):
        total += len(entries)
    return total


# --- the caller waiting for its seq -------------------------------------------------------------


def integrated(ids: Sequence[int]) -> dict[int, Entry]:
    """The entries that queued statements became, by queue id (those integrated so far;
    the columns of a reference to them)."""
    rows = Entry.objects.filter(pending_id__in=list(ids)).only(
        "seq", "leaf_hash", "kind", "actor", "pending_id")
    return {entry.pending_id: entry for entry in rows if entry.pending_id is not None}


def waiting(ids: Sequence[int]) -> bool:
    """Is any of these statements still in the queue (neither integrated nor set aside)?"""
    return Pending.objects.filter(pk__in=list(ids), problem="").exists()


def wait(ids: Sequence[int], timeout: float) -> dict[int, Entry]:
    """Wait up to ``timeout`` seconds for queued statements to be integrated; the entries
    they became. PostgreSQL: looks again whenever the integrator commits a batch (LISTEN),
    at least every 50 ms; SQLite: after 2 ms, then twice as long each time (at most 50 ms)."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    listening = store.listen(INTEGRATED)
    while waiting(ids):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if listening:
            store.await_notification(min(0.05, left))
        else:
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)
    return integrated(ids)

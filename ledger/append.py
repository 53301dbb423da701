"""The synchronous way to write to the ledger: ``append`` / ``append_many`` integrate signed
statements in the caller's own transaction, so that the caller gets its entries at once.

A caller that rolls back takes its entries with it and leaves no gap; an append outside a
transaction is refused. A batch that changes the key registry or erases a payload (the
ledger's own kinds) first integrates every statement queued before it (:mod:`ledger.queue`),
so that those are judged with the key state they were accepted under.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from ledger import queue, store
from ledger.integration import (
    PreVerified,
    Submission,
    check_all,
    integrate_locked,
    known_records,
    require_transaction,
    schedule_checkpoint,
)
from ledger.models import Entry
from ledger.protocol.records import is_reserved


def append_many(submissions: Iterable[Submission]) -> list[Entry]:
    """Append signed statements in order, atomically: all of them or none."""
    require_transaction()
    batch = list(submissions)
    if not batch:
        return []
    known = known_records(batch)
    verified = PreVerified()
    checked = check_all(batch, known, verified)
    registry = any(isinstance(sub.statement.get("kind"), str)
                   and is_reserved(sub.statement["kind"]) for sub in batch)
    if registry:
        with transaction.atomic():  # several writes: all of them or none
            store.lock_registry()
            store.lock_for_append()
            queue.drain_locked()
            entries = integrate_locked(checked, known, verified)
    elif len(batch) > store.ONE_STATEMENT:
        with transaction.atomic():  # written in several statements
            entries = integrate_locked(checked, known, verified, lock=True)
    else:
        # Refusals are decided before anything is written, and the batch is written by one
        # statement: it needs no savepoint of its own in the caller's transaction.
        entries = integrate_locked(checked, known, verified, lock=True)
    schedule_checkpoint(entries[0].seq, entries[-1].seq + 1)
    return entries


def append(statement: dict[str, Any], signature: str, payload: Any, salt: str, *,
           restricted: bool = False) -> Entry:
    """Append one signed statement; AppendRefused (naming the field) writes nothing."""
    return append_many([Submission(statement, signature, payload, salt, restricted)])[0]

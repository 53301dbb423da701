"""Periodic ledger work (Celery beat; eager in the embedded default)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from ledger import checkpoints, queue, selectors, witnesses


@shared_task(name="ledger.tasks.integrate")
def integrate() -> int:
    """Integrate the queued statements (the embedded default runs it after each commit that
    queued some; production runs ``manage.py integrate`` instead)."""
    return queue.drain()


@shared_task(name="ledger.tasks.seal_checkpoint")
def seal_checkpoint() -> int | None:
    """Seal a checkpoint of the current tree if it has grown; returns the covered size."""
    checkpoint = checkpoints.seal_checkpoint()
    return checkpoint.size if checkpoint else None


@shared_task(bind=True, name="ledger.tasks.collect_cosignatures", max_retries=8)
def collect_cosignatures(self: Task, size: int | None = None) -> dict[str, Any]:
    """Collect witnesses' cosignatures of checkpoints up to ``size`` (default: all).

    Scheduled after each seal and by beat every minute. With a worker, a checkpoint left
    unsettled because a witness was unreachable is retried with exponential back-off;
    eagerly (embedded default) it is tried once and left for the next seal.
    """
    eager = bool(self.request.is_eager)
    outcome = witnesses.collect(size, force=not eager)
    if outcome.unreachable and size is not None and not eager \
            and self.request.retries < self.max_retries:
        checkpoint = selectors.checkpoints().filter(size=size).first()
        if checkpoint is not None and not selectors.is_settled(checkpoint):
            raise self.retry(countdown=min(5 * 2 ** self.request.retries, 600))
    return outcome.to_json()

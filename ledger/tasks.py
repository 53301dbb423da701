"""Periodic ledger work (Celery beat; eager in the embedded default)."""

from __future__ import annotations

from celery import shared_task

from ledger import services


@shared_task(name="ledger.tasks.seal_checkpoint")
def seal_checkpoint() -> int | None:
    """Seal a checkpoint of the current tree if it has grown; returns the covered size."""
    checkpoint = services.seal_checkpoint()
    return checkpoint.size if checkpoint else None

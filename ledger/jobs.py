"""Work the ledger starts after a commit (sealing, collecting cosignatures), by task name.

Tasks are looked up in Celery's registry by name, so the modules that schedule work need not
import :mod:`ledger.tasks` (which imports them). Eagerly (the embedded default) the task
runs in this process after the commit; with a broker, a worker runs it. ``robust``: what
goes wrong there is logged, never raised into the caller whose change has committed.
"""

from __future__ import annotations

from typing import Any

from celery import Task, current_app
from django.db import transaction

SEAL_CHECKPOINT = "ledger.tasks.seal_checkpoint"
INTEGRATE = "ledger.tasks.integrate"
COLLECT_COSIGNATURES = "ledger.tasks.collect_cosignatures"


def task(name: str) -> Task:
    """The registered task of that name (each app registers its tasks when Django starts,
    in its AppConfig.ready)."""
    found: Task = current_app.tasks[name]
    return found


def after_commit(name: str, *args: Any) -> None:
    """Run task ``name`` once the current transaction has committed (at once outside one)."""
    transaction.on_commit(lambda: task(name).delay(*args), robust=True)

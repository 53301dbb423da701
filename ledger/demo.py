"""The demo scenario, loaded once by ``manage.py load_demo``. Later apps extend it."""

from __future__ import annotations

from collections.abc import Iterator

from ledger import selectors, services
from ledger.models import Checkpoint


def load() -> Iterator[str]:
    key = services.ensure_ledger_key()
    yield f"ledger {services.origin()}: key {key.key_id[:16]}…"
    if not Checkpoint.objects.exists():
        services.seal_checkpoint()
    status = selectors.status()
    sealed = status.checkpoint.size if status.checkpoint else "-"
    yield f"ledger size {status.size}, last checkpoint at size {sealed}"

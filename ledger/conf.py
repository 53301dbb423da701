"""The ledger's origin and its clock: the two facts of the environment the append path reads."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings


def origin() -> str:
    """The ledger's name in statements and checkpoints (``SHULIAN_LEDGER_ORIGIN``)."""
    return str(settings.SHULIAN_LEDGER_ORIGIN)


def now() -> datetime:
    """The wall clock, in UTC. Nothing the ledger decides depends on it being monotonic:
    ``recorded`` never decreases (the append path takes the later of this and the tail's),
    and keys are judged by position, not by time."""
    return datetime.now(UTC)

"""Retention of personal information (GB/T 35273-2020 §6.1: kept no longer than its purpose
needs): a payload of a personal kind (``contracts.personal``) is erased once it is older
than its kind's retention period and no open workflow still needs it (an objection being
handled keeps its filer's contact details). The erasure is the same as an approved request's
(``personal.erase``), with the ledger as actor; the Celery beat task
``contracts.tasks.erase_expired_personal_information`` runs it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from contracts import common, personal
from kernel.errors import InvalidInput
from ledger.models import Entry


def basis(kind: str, days: float) -> str:
    return (f"GB/T 35273-2020 §6.1: the retention period of {days:g} days for {kind} "
            "ended (保存期限届满)")


def due_for_erasure(at: datetime | None = None) -> list[Entry]:
    """Payloads past their kind's retention period, not erased, that no open workflow
    still needs, in ledger order."""
    moment = at or common.now()
    found: list[Entry] = []
    for kind in personal.PERSONAL_KINDS:
        days = personal.retention_days(kind)
        if days is None:
            continue
        expired = (Entry.objects.filter(kind=kind, recorded__lte=moment - timedelta(days=days))
                   .exclude(payload_row__data="").order_by("seq"))
        found.extend(entry for entry in expired if not personal.still_needed(entry))
    return sorted(found, key=lambda entry: entry.seq)


def erase_expired(at: datetime | None = None) -> int:
    """Erase every payload :func:`due_for_erasure`, each in its own transaction; the
    number erased. Idempotent, and safe beside another worker doing the same."""
    erased = 0
    for entry in due_for_erasure(at):
        days = personal.retention_days(entry.kind)
        try:
            with transaction.atomic():
                personal.erase(entry=entry, basis=basis(entry.kind, days or 0))
        except InvalidInput:
            if personal.is_erased(entry.seq):
                continue  # another worker erased it first
            raise
        erased += 1
    return erased

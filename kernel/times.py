"""Times as people read them: in Asia/Shanghai (the project's TIME_ZONE), to the minute.

Ledger records keep UTC (``ledger.protocol.format``); messages, pages and exports show a
moment with :func:`local`, and a date with :func:`local_date` (order codes, day buckets).
"""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone


def local(moment: datetime | None, seconds: bool = False) -> str:
    """``2026-12-10 00:00`` (Asia/Shanghai); an empty string for None."""
    if moment is None:
        return ""
    shown = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_date(moment: datetime | None = None) -> date:
    """The calendar date in Asia/Shanghai of ``moment`` (default: now)."""
    return timezone.localdate(moment or timezone.now())

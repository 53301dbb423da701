"""The working-day calendar (工作日): weekends, public holidays and make-up working days (调休).

Where the data comes from, per year:

- the ``Holiday`` table, if it holds any row of that year (``manage.py import_holidays FILE``
  loads a year into it, replacing that year's rows; the admin edits single days after that);
- otherwise the file ``contracts/data/holidays/<year>.json`` shipped with the code, which
  cites the State Council General Office notice it copies (2027 is provisional);
- otherwise (no data for the year) Monday to Friday are working days.

Deadlines are counted in Asia/Shanghai local days and, as for any statutory period
(《民法典》第二百零一条), the day of the event itself does not count: a deadline of n working
days ends at the end of the nth working day after that day.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from contracts.models import Holiday
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from kernel import caches
from kernel.errors import InvalidInput
from ledger import services as ledger

SHANGHAI = ZoneInfo("Asia/Shanghai")
DATA_DIR = Path(__file__).resolve().parent / "data" / "holidays"
MAX_WORKING_DAYS = 3660


@dataclass(frozen=True)
class Day:
    day: date
    working: bool
    name: str


@dataclass(frozen=True)
class YearDocument:
    """One year's holiday arrangement as published (file format of data/holidays/*.json)."""

    year: int
    source: str
    provisional: bool
    days: tuple[Day, ...]


def _date(text: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise InvalidInput(field, _("“%(text)s” is not a date YYYY-MM-DD"), text=text) from None


def _expand(index: int, block: dict[str, Any], year: int) -> Iterator[Day]:
    where = f"holidays[{index}]"
    name = str(block.get("name", "")).strip()
    if not name:
        raise InvalidInput(f"{where}.name", _("is required"))
    off = block.get("off")
    if not isinstance(off, list) or len(off) != 2:
        raise InvalidInput(f"{where}.off", _("must be [first day off, last day off]"))
    first, last = _date(off[0], f"{where}.off[0]"), _date(off[1], f"{where}.off[1]")
    if last < first:
        raise InvalidInput(f"{where}.off", _("the last day is before the first"))
    day = first
    while day <= last:
        yield Day(day, False, name)
        day += timedelta(days=1)
    for n, text in enumerate(block.get("work", [])):
        yield Day(_date(text, f"{where}.work[{n}]"), True, f"{name} 调休上班")


def parse_document(document: Any) -> YearDocument:
    """Check one year's arrangement; InvalidInput names the first problem."""
    if not isinstance(document, dict):
        raise InvalidInput("document", _("must be a JSON object"))
    year = document.get("year")
    if not isinstance(year, int) or not 1949 < year < 2200:
        raise InvalidInput("year", _("must be a year such as 2026"))
    source = str(document.get("source", "")).strip()
    if not source:
        raise InvalidInput("source", _("must cite the notice the arrangement comes from"))
    blocks = document.get("holidays")
    if not isinstance(blocks, list):
        raise InvalidInput("holidays", _("must be a list"))
    days: dict[date, Day] = {}
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise InvalidInput(f"holidays[{index}]", _("must be an object"))
        for day in _expand(index, block, year):
            if day.day.year != year:
                raise InvalidInput(f"holidays[{index}]", _("%(day)s is not in %(year)s"),
                                   day=day.day, year=year)
            if day.day in days:
                raise InvalidInput(f"holidays[{index}]", _("%(day)s is listed twice"),
                                   day=day.day)
            days[day.day] = day
    return YearDocument(year, source, bool(document.get("provisional", False)),
                        tuple(sorted(days.values(), key=lambda d: d.day)))


def read_file(path: Path) -> YearDocument:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput("file", _("cannot read %(path)s: %(problem)s"), path=path,
                           problem=exc) from None
    return parse_document(document)


@functools.cache
def shipped(year: int) -> YearDocument | None:
    """The arrangement shipped with the code for ``year``, if any."""
    path = DATA_DIR / f"{year}.json"
    return read_file(path) if path.exists() else None


def _read_year(year: int) -> dict[date, bool]:
    rows = dict(Holiday.objects.filter(day__year=year).values_list("day", "working"))
    if rows:
        return rows
    document = shipped(year)
    return {d.day: d.working for d in document.days} if document else {}


# Each year's days as last read, per database, until a monotonic deadline: the table
# changes about once a year (import_year), so deadlines computed in other processes may
# use the previous arrangement for at most SHULIAN_CALENDAR_CACHE_SECONDS.
_years: dict[tuple[str, int], tuple[float, dict[date, bool]]] = {}


def _year_overrides(year: int) -> dict[date, bool]:
    slot = (str(connection.settings_dict["NAME"]), year)
    now = monotonic()
    found = _years.get(slot)
    if found is not None and found[0] > now:
        return found[1]
    days = _read_year(year)
    seconds = float(settings.SHULIAN_CALENDAR_CACHE_SECONDS)
    if seconds > 0:
        _years[slot] = (now + seconds, days)
    return days


@caches.register
def forget_years() -> None:
    _years.clear()


class Calendar:
    """Working days, reading each year's data once per instance."""

    def __init__(self) -> None:
        self._years: dict[int, dict[date, bool]] = {}

    def is_working_day(self, day: date) -> bool:
        if day.year not in self._years:
            self._years[day.year] = _year_overrides(day.year)
        override = self._years[day.year].get(day)
        return day.weekday() < 5 if override is None else override


def local_date(moment: datetime | date) -> date:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise InvalidInput("moment", _("must be a timezone-aware datetime"))
        return moment.astimezone(SHANGHAI).date()
    return moment


def local_text(moment: datetime) -> str:
    """A moment as people here read it: Asia/Shanghai, to the minute."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def end_of_day(day: date) -> datetime:
    """The last microsecond of ``day`` in Asia/Shanghai, as an aware datetime."""
    return datetime.combine(day, time.max, tzinfo=SHANGHAI)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def is_working_day(day: date) -> bool:
    return Calendar().is_working_day(day)


def add_working_days(moment: datetime, n: int) -> datetime:
    """The deadline n working days after ``moment``: the end of the nth working day after
    its local day (n = 0: the end of that day itself)."""
    if not 0 <= n <= MAX_WORKING_DAYS:
        raise InvalidInput("n", _("must be between 0 and %(n)s"), n=MAX_WORKING_DAYS)

    calendar = Calendar()
    day = local_date(moment)
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return end_of_day(day)


def working_days_between(start: datetime | date, end: datetime | date) -> int:
    """Working days after ``start``'s local day up to and including ``end``'s (negative if
    ``end`` is earlier), so that ``working_days_between(t, add_working_days(t, n)) == n``."""
    first, last = local_date(start), local_date(end)
    if last < first:
        return -working_days_between(last, first)
    calendar = Calendar()
    return sum(
        1 for offset in range(1, (last - first).days + 1)
        if calendar.is_working_day(first + timedelta(days=offset))
    )


def import_year(document: YearDocument) -> int:
    """Replace ``document.year`` in the Holiday table (which then takes precedence over the
    shipped file); recorded by the platform as ``contracts.calendar.imported``."""

    days = [{"day": d.day.isoformat(), "working": d.working, "name": d.name}
            for d in document.days]
    ledger.ensure_ledger_key()
    forget_years()
    transaction.on_commit(forget_years)
    with transaction.atomic():
        Holiday.objects.filter(day__year=document.year).delete()
        Holiday.objects.bulk_create(
            Holiday(day=d.day, working=d.working, name=d.name[:100], source=document.source)
            for d in document.days
        )
        ledger.record(
            actor=ledger.origin(), kind="contracts.calendar.imported",
            subject=f"contracts/calendar/{document.year}",
            payload={"year": document.year, "source": document.source,
                     "provisional": document.provisional, "days": len(days),
                     "days_sm3": sm3_hex(canonical(days))},
        )
    return len(days)

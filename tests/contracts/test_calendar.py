"""The working-day calendar: weekends, public holidays and make-up working days (调休)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

import pytest
from django.core.management import CommandError, call_command

from contracts import calendar
from contracts.calendar import SHANGHAI
from contracts.models import Holiday
from kernel.errors import InvalidInput
from ledger.models import Entry

pytestmark = pytest.mark.django_db


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour), tzinfo=SHANGHAI)


def end(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.max, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("day", "working"), [
    ("2025-01-01", False),  # 元旦, a Wednesday
    ("2025-01-26", True),   # Sunday, 调休上班 before 春节
    ("2025-01-28", False),  # 春节 eve
    ("2025-02-04", False),  # last day of 春节
    ("2025-02-05", True),
    ("2025-02-08", True),   # Saturday, 调休上班
    ("2025-04-27", True),   # Sunday, 调休上班 before 劳动节
    ("2025-05-05", False),  # Monday, 劳动节
    ("2025-06-02", False),  # Monday, 端午
    ("2025-09-28", True),   # Sunday, 调休上班
    ("2025-10-08", False),  # Wednesday, 国庆/中秋
    ("2025-10-11", True),   # Saturday, 调休上班
    ("2025-10-12", False),  # an ordinary Sunday
    ("2026-01-02", False),  # Friday, 元旦
    ("2026-01-04", True),   # Sunday, 调休上班
    ("2026-02-13", True),   # Friday
    ("2026-02-14", True),   # Saturday, 调休上班
    ("2026-02-16", False),  # Monday, 春节
    ("2026-02-23", False),  # Monday, last day of 春节
    ("2026-02-24", True),
    ("2026-02-28", True),   # Saturday, 调休上班
    ("2026-05-09", True),   # Saturday, 调休上班
    ("2026-06-19", False),  # Friday, 端午
    ("2026-09-20", True),   # Sunday, 调休上班
    ("2026-09-25", False),  # Friday, 中秋
    ("2026-10-07", False),  # Wednesday, 国庆
    ("2026-10-10", True),   # Saturday, 调休上班
    ("2027-02-05", False),  # Friday, 除夕 (provisional, statutory)
    ("2027-02-08", False),  # Monday, 初三 (provisional, statutory)
    ("2027-06-09", False),  # Wednesday, 端午 (provisional)
    ("2027-06-10", True),
    ("2028-01-03", True),   # no data for 2028: Monday to Friday
    ("2028-01-08", False),
])
def test_is_working_day(day: str, working: bool) -> None:
    assert calendar.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(("start", "n", "deadline"), [
    # Friday before 春节 2026: Sat 14 is a make-up working day (1), 15-23 off, then
    # Tue 24 (2), Wed 25 (3), Thu 26 (4), Fri 27 (5).
    ("2026-02-13", 5, "2026-02-27"),
    ("2026-02-13", 1, "2026-02-14"),
    ("2026-02-13", 2, "2026-02-24"),
    # Filed on a holiday: counting starts the next day.
    ("2026-02-16", 2, "2026-02-25"),
    # An ordinary weekend: Friday + 1 -> Monday.
    ("2026-03-06", 1, "2026-03-09"),
    ("2026-03-06", 5, "2026-03-13"),
    # 国庆 2026: Sep 30 (Wed) + 2 -> Oct 8 (Thu), Oct 9 (Fri); Oct 10 (Sat) works.
    ("2026-09-30", 2, "2026-10-09"),
    ("2026-09-30", 3, "2026-10-10"),
    # Sep 19 (Sat) + 1 -> Sep 20 (Sun, make-up working day).
    ("2026-09-19", 1, "2026-09-20"),
    # 2025 国庆/中秋: Sep 30 (Tue) + 1 -> Oct 9 (Thu).
    ("2025-09-30", 1, "2025-10-09"),
    # Across a year boundary: Dec 31 2025 (Wed) + 1: Jan 1-3 2026 are off, Sunday Jan 4 works.
    ("2025-12-31", 1, "2026-01-04"),
    ("2026-06-18", 15, "2026-07-10"),
    ("2026-02-13", 0, "2026-02-13"),
])
def test_add_working_days(start: str, n: int, deadline: str) -> None:
    due = calendar.add_working_days(at(start), n)
    assert due == end(deadline)
    assert due.tzinfo is not None
    assert calendar.working_days_between(at(start), due) == n


def test_deadline_counts_local_days_not_utc() -> None:
    # 15:30 UTC on Friday 13 is 23:30 in Shanghai: still Friday, so +1 is Saturday 14.
    assert calendar.add_working_days(datetime(2026, 2, 13, 15, 30, tzinfo=UTC), 1) == end(
        "2026-02-14")
    # 17:00 UTC on Friday 13 is already Saturday 14 in Shanghai: +1 is Tuesday 24.
    assert calendar.add_working_days(datetime(2026, 2, 13, 17, 0, tzinfo=UTC), 1) == end(
        "2026-02-24")


def test_working_days_between() -> None:
    assert calendar.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6
    assert calendar.working_days_between(date(2026, 2, 28), date(2026, 2, 13)) == -6
    assert calendar.working_days_between(date(2026, 10, 1), date(2026, 10, 7)) == 0


def test_add_working_days_refuses_naive_and_negative() -> None:
    with pytest.raises(InvalidInput) as naive:
        calendar.add_working_days(datetime(2026, 2, 13, 10), 1)
    assert naive.value.field == "moment"
    with pytest.raises(InvalidInput):
        calendar.add_working_days(at("2026-02-13"), -1)


def test_shipped_files_cite_their_source() -> None:
    for year in (2025, 2026):
        document = calendar.shipped(year)
        assert document is not None and not document.provisional
    assert "国办发明电〔2024〕12号" in calendar.shipped(2025).source
    assert "国办发明电〔2025〕7号" in calendar.shipped(2026).source
    provisional = calendar.shipped(2027)
    assert provisional.provisional
    assert "全国年节及纪念日放假办法" in provisional.source
    assert "import_holidays" in provisional.source
    assert not [d for d in provisional.days if d.working]


def test_table_takes_precedence_for_its_year() -> None:
    Holiday.objects.create(day=date(2026, 3, 2), working=False, name="本地假日")
    # The table now holds 2026 alone: the shipped 春节 is no longer applied.
    assert not calendar.is_working_day(date(2026, 3, 2))
    assert calendar.is_working_day(date(2026, 2, 16))
    assert not calendar.is_working_day(date(2025, 1, 1))


def test_import_holidays_replaces_a_year_and_is_recorded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    official = {
        "year": 2027, "source": "国务院办公厅关于2027年部分节假日安排的通知（test）",
        "holidays": [{"name": "春节", "off": ["2027-02-06", "2027-02-13"],
                      "work": ["2027-02-20"]}],
    }
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(official, ensure_ascii=False), encoding="utf-8")
    call_command("import_holidays", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert calendar.is_working_day(date(2027, 2, 5))  # provisional 除夕 replaced
    assert not calendar.is_working_day(date(2027, 2, 12))
    assert calendar.is_working_day(date(2027, 2, 20))
    assert Holiday.objects.filter(day__year=2027).count() == 9
    entry = Entry.objects.get(kind="contracts.calendar.imported")
    assert entry.subject == "contracts/calendar/2027"
    call_command("import_holidays", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Holiday.objects.filter(day__year=2027).count() == 9


@pytest.mark.parametrize(("document", "field"), [
    ({"year": 2027, "holidays": []}, "source"),
    ({"year": "2027", "source": "x", "holidays": []}, "year"),
    ({"year": 2027, "source": "x", "holidays": [{"name": "a", "off": ["2027-01-02"]}]},
     "holidays[0].off"),
    ({"year": 2027, "source": "x", "holidays": [{"name": "a", "off": ["2026-12-31",
                                                                        "2027-01-01"]}]},
     "holidays[0]"),
    ({"year": 2027, "source": "x", "holidays": [{"name": "a", "off": ["2027-01-01",
                                                                        "2027-13-01"]}]},
     "holidays[0].off[1]"),
])
def test_bad_documents_name_the_field(document, field, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        calendar.parse_document(document)
    assert refused.value.field == field
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_holidays", str(path))
    assert not Holiday.objects.exists()

"""CSV exports neutralise cells a spreadsheet would run as a formula (OWASP: cells beginning
with = + - @, tab or carriage return get a leading single quote), in the one place CSV is
written; the regulator's exports go through it."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from kernel.spreadsheet import csv_text
from operators.models import Participant
from tests.portal.conftest import world  # noqa: F401 (the portal tests' world)
from tests.portal.test_pages import client

ATTACKS = ["=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=HYPERLINK(\"http://x\")"]
HARMLESS = ["数据运营公司", "a=b", "1250.00", "-12.50", "", "'already quoted"]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


@pytest.mark.parametrize("value", ATTACKS)
def test_a_formula_cell_is_quoted(value: str) -> None:
    assert _cells(csv_text(["h"], [[value]]))[1] == ["'" + value]


@pytest.mark.parametrize("value", HARMLESS)
def test_other_cells_are_written_as_they_are(value: str) -> None:
    assert _cells(csv_text(["h"], [[value]]))[1] == [value]


def test_numbers_stay_numbers_and_headers_are_neutralised_too() -> None:
    rows = _cells(csv_text(["=h", "n"], [[-5, 2.5]]))
    assert rows == [["'=h", "n"], ["-5", "2.5"]]


@pytest.mark.django_db
def test_the_regulators_export_neutralises_a_participants_name(world: Any) -> None:  # noqa: F811
    seller = world.parties["operator"]
    Participant.objects.filter(pk=seller.pk).update(name_zh=ATTACKS[0])
    response = client(world, "regulator").get("/audit/regulator/turnover.csv")
    rows = _cells(response.content.decode("utf-8"))
    row = next(r for r in rows if r[0] == seller.code)
    assert row[1] == "'" + ATTACKS[0]
    assert all(not cell.startswith(("=", "+", "@")) for r in rows for cell in r)

"""CSV for spreadsheets, the one place CSV is written: UTF-8 with a byte-order mark (so that
spreadsheet programs read Chinese), and every text cell that a spreadsheet would take for a
formula (beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) prefixed with
a single quote, as OWASP advises against CSV injection. Numbers stay numbers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def cell(value: Any) -> Any:
    """``value`` as it may stand in a cell: a text that would start a formula neutralised."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.fullmatch(
            value):
        return "'" + value
    return value


def csv_text(headers: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([cell(value) for value in headers])
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()

"""``manage.py import_holidays FILE``: load a year's official holiday arrangement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts import calendar
from kernel.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "Load one year's public holidays and make-up working days (调休) from a JSON file in "
        "the format of contracts/data/holidays/*.json into the Holiday table, replacing that "
        "year's rows; the table then takes precedence over the shipped file for that year."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            document = calendar.read_file(options["file"])
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        count = calendar.import_year(document)
        note = " (provisional)" if document.provisional else ""
        self.stdout.write(f"{document.year}{note}: {count} days loaded from {document.source}")

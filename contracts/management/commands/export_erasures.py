"""``manage.py export_erasures [--out FILE]``: write the erasure log (contracts.erasure_log)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from contracts import erasure_log


class Command(BaseCommand):
    help = ("Write every erasure the ledger recorded, one JSON line each (no personal "
            "information), to FILE or standard output; keep it with the backups, outside the "
            "database, so that `reapply_erasures` can erase again what a restored backup "
            "still holds.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        out = options["out"]
        target = out.open("w", encoding="utf-8") if out else sys.stdout
        count = 0
        try:
            for line in erasure_log.lines():
                target.write(line + "\n")
                count += 1
        finally:
            if out:
                target.close()
        if out:
            self.stdout.write(f"{count} erasure(s) written to {out}")

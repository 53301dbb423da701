"""``manage.py reapply_erasures FILE``: after restoring a backup, erase again what the
erasure log (``export_erasures``) says was erased since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts import erasure_log
from kernel.errors import InvalidInput


class Command(BaseCommand):
    help = ("Erase again, each with a new ledger.payload.redacted entry citing the first, "
            "every payload the erasure log FILE records as erased that this (restored) "
            "database still holds. Run it before the portal serves again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = options["file"].read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{options['file']}: {exc.strerror}") from None
        try:
            done = erasure_log.reapply(text.splitlines())
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"erased again: {len(done.erased)} {done.erased}")
        self.stdout.write(f"already erased here: {len(done.already)}")
        if done.beyond:
            self.stdout.write(f"not in this database (lost with the restore): {done.beyond}")

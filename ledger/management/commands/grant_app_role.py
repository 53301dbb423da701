from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ledger import roles


class Command(BaseCommand):
    help = ("Give the application's PostgreSQL role exactly its privileges: INSERT and SELECT "
            "on the ledger's tables, the other tables as the application needs them, no "
            "ownership. Run it as the owner role, after migrate (see ledger/roles.py).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the application connects as")
        parser.add_argument("--show", action="store_true", help="print the statements")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            statements = roles.grant(connection, options["role"])
        except NotImplementedError as exc:
            raise CommandError(str(exc)) from None
        if options["show"]:
            for statement in statements:
                self.stdout.write(statement + ";")
        self.stdout.write(f"granted {options['role']} its privileges on "
                          f"{connection.settings_dict['NAME']}")

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import services
from ledger.errors import KeyRefused


class Command(BaseCommand):
    help = ("Register a department's witness public key (use 'witness') in the key registry "
            "(a ledger.key.registered entry, recorded by the ledger); prints the key id to put "
            "in SHULIAN_WITNESSES.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the witness's name in cosignatures")
        parser.add_argument("--pem", required=True, help="the witness's public key file (PEM)")
        parser.add_argument("--owner", required=True, help="the department's participant code")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pem = Path(options["pem"]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {options['pem']}: {exc}") from None
        try:
            key = services.register_witness(name=options["name"], pem=pem,
                                            owner_code=options["owner"])
        except KeyRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key.key_id)

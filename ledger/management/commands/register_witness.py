from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger import services
from ledger.errors import KeyRefused


class Command(BaseCommand):
    help = ("Register a department's witness public key (use 'witness') in the key registry; "
            "prints the key id to put in SHULIAN_WITNESSES.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="the witness's name in cosignatures")
        parser.add_argument("--pem", required=True, help="the witness's public key file (PEM)")
        parser.add_argument("--owner", required=True, help="the department's participant code")
        parser.add_argument("--by", help="participant code of the data authority registering "
                            "it (default: the ledger itself)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            pem = Path(options["pem"]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {options['pem']}: {exc}") from None
        try:
            key = services.register_witness(name=options["name"], pem=pem,
                                            owner_code=options["owner"], by=options["by"])
        except KeyRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(key.key_id)

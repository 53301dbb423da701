from django.core.management.base import BaseCommand, CommandParser

from audit import services


class Command(BaseCommand):
    help = ("Write an audit bundle (ZIP) that `python -m audit.offline verify` checks with no "
            "database. Payloads the --as participant may not read are left out.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, metavar="FILE")
        parser.add_argument("--from", dest="first", type=int, default=None, metavar="SEQ")
        parser.add_argument("--to", dest="last", type=int, default=None, metavar="SEQ")
        parser.add_argument("--as", dest="as_code", default=None, metavar="CODE",
                            help="export for this participant (withholds what it may not read)")

    def handle(self, *args: object, **options: object) -> None:
        manifest = services.export_bundle(
            str(options["out"]), first=options["first"], last=options["last"],  # type: ignore[arg-type]
            as_code=options["as_code"],  # type: ignore[arg-type]
        )
        self.stdout.write(f"wrote {options['out']}: entries {manifest['from']}..{manifest['to']}"
                          f" of {manifest['ledger']}")

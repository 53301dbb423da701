import json

from django.core.management.base import BaseCommand, CommandParser

from ledger import selectors, services


class Command(BaseCommand):
    help = "Print the ledger's size, head hash and last checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: object, **options: object) -> None:
        status = selectors.status()
        checkpoint = status.checkpoint
        report = {
            "origin": services.origin(),
            "size": status.size,
            "head": status.head,
            "checkpoint_size": checkpoint.size if checkpoint else None,
            "checkpoint_root": checkpoint.root if checkpoint else None,
            "checkpoint_at": checkpoint.created.isoformat() if checkpoint else None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        width = max(len(k) for k in report)
        for key, value in report.items():
            self.stdout.write(f"{key.ljust(width)}  {value if value is not None else '-'}")

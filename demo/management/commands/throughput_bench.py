import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo import throughput


class Command(BaseCommand):
    help = ("Appends and domain actions per second through a real gunicorn server with N "
            "concurrent HTTP clients, in a scratch database of the configured engine, beside "
            "`openssl speed sm2` measured in the same run (see demo/throughput.py).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--single", type=int, default=150,
                            help="records per client, one per request")
        parser.add_argument("--batches", type=int, default=8,
                            help=f"requests per client of {throughput.BATCH} records")
        parser.add_argument("--objections", type=int, default=40, help="per client")
        parser.add_argument("--openssl-seconds", type=float, default=3.0)
        parser.add_argument("--json", action="store_true", help="last line: one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["clients"] < 1:
            raise CommandError("--clients must be at least 1")
        say = self.stderr.write if options["json"] else self.stdout.write
        figures = throughput.run(options["clients"], options["single"], options["batches"],
                                 options["objections"], options["openssl_seconds"], report=say)
        if figures["integrated_records"] != figures["expected_records"]:
            raise CommandError(f"only {figures['integrated_records']} of "
                               f"{figures['expected_records']} records were integrated")
        if options["json"]:
            self.stdout.write(json.dumps(figures))
        else:
            for name, value in figures.items():
                self.stdout.write(f"{name:<30} {value}")

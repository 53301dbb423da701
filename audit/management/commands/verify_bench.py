import json
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import services
from crypto.bench import openssl_sm2
from ledger import bench


class Command(BaseCommand):
    help = ("Entries verified per second by the verification core over a scratch database "
            "of the configured engine, beside `openssl speed sm2` verify/s in the same run; "
            "ratio = verified/s / (openssl per-core verify/s x workers).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entries", type=int, default=20000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--openssl-seconds", type=float, default=3.0)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        entries, workers = int(options["entries"]), int(options["workers"])  # type: ignore[call-overload]
        say = self.stderr.write if options["json"] else self.stdout.write
        with bench.scratch_database():
            say(f"filling a scratch ledger with {entries} entries…")
            bench.fill(entries, report=lambda _line: None)
            start = time.perf_counter()
            _, report = services.verify_range(workers=workers)
            seconds = time.perf_counter() - start
        if not report.ok:
            raise CommandError(f"the scratch ledger did not verify: {report.failures[:3]}")
        _, openssl_verify = openssl_sm2(float(options["openssl_seconds"]))  # type: ignore[arg-type]
        verified = report.entries / seconds
        figures = {
            "entries": report.entries, "workers": workers, "seconds": round(seconds, 2),
            "verified_per_s": round(verified, 1), "openssl_sm2_verify_per_s": openssl_verify,
            "ratio": round(verified / (openssl_verify * workers), 3) if openssl_verify else None,
        }
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        for key, value in figures.items():
            self.stdout.write(f"{key.ljust(26)}  {value}")

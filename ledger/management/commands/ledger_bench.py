import json

from django.core.management.base import BaseCommand, CommandParser

from ledger import bench


class Command(BaseCommand):
    help = (
        "Benchmark appends and proofs in a scratch database of the configured engine, "
        "beside `openssl speed sm2` measured in the same run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--entries", type=int, default=5000)
        parser.add_argument("--batch", type=int, default=500, help="append_many batch size")
        parser.add_argument("--scale", action="store_true",
                            help="fill to --entries (e.g. 1000000) and report proof latency")
        parser.add_argument("--writers", type=int, default=0,
                            help="instead: N processes recording at once (latency, fairness)")
        parser.add_argument("--seconds", type=float, default=10.0, help="with --writers")
        parser.add_argument("--openssl-seconds", type=float, default=3.0)
        parser.add_argument("--json", action="store_true",
                            help="last line: one JSON object with the figures")

    def handle(self, *args: object, **options: object) -> None:
        entries = int(options["entries"])  # type: ignore[call-overload]
        say = self.stdout.write if not options["json"] else self.stderr.write
        with bench.scratch_database():
            if options["writers"]:
                figures = bench.writers(int(options["writers"]),  # type: ignore[call-overload]
                                        float(options["seconds"]), report=say)  # type: ignore[arg-type]
            elif options["scale"]:
                figures = bench.fill(entries, report=say)
            else:
                figures = bench.run(entries, batch=int(options["batch"]),  # type: ignore[call-overload]
                                    openssl_seconds=float(options["openssl_seconds"]),  # type: ignore[arg-type]
                                    report=say)
        if options["json"]:
            self.stdout.write(json.dumps(figures))
            return
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            self.stdout.write(f"{key.ljust(width)}  {value}")

import json
import sys

from django.core.management.base import BaseCommand, CommandParser

from audit import services
from audit.progress import progress_bar


class Command(BaseCommand):
    help = ("Verify the live ledger with the verification core; on success append an "
            "audit.verification.completed attestation. Exit 0 clean, 1 on any failure.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first", type=int, default=None, metavar="SEQ")
        parser.add_argument("--to", dest="last", type=int, default=None, metavar="SEQ")
        parser.add_argument("--workers", type=int, default=None,
                            help="processes for signature checks (default: CPU count)")
        parser.add_argument("--as", dest="as_code", default=None, metavar="CODE",
                            help="attest with this participant's (auditor's) key")
        parser.add_argument("--json", action="store_true", help="one JSON object, no bar")

    def handle(self, *args: object, **options: object) -> None:
        show = not options["json"] and sys.stderr.isatty()
        with progress_bar(show, "verifying") as (bar, total_hint):
            span, report, entry = services.verify_ledger(
                first=options["first"], last=options["last"],  # type: ignore[arg-type]
                workers=options["workers"], as_code=options["as_code"],  # type: ignore[arg-type]
                progress=bar,
            )
        result = report.to_json()
        result.update({"from": span.first, "to": span.last,
                       "attestation_seq": entry.seq if entry else None})
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            for failure in report.failures:
                self.stdout.write(failure.line())
            for line in report.erasures():
                self.stdout.write(line)
            if report.uncovered:
                first, last = report.uncovered
                self.stdout.write(f"entries {first}..{last} are not yet covered by a signed "
                                  "checkpoint (not a failure; `manage.py seal_checkpoint` "
                                  "seals them)")
            verdict = "OK" if report.ok else f"{len(report.failures)} FAILURE(S)"
            self.stdout.write(f"{verdict}: entries {span.first}..{span.last}, "
                              f"{report.checkpoints} checkpoints"
                              + (f", attested as entry {entry.seq}" if entry else ""))
        if not report.ok:
            sys.exit(1)

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ledger import selectors, witnesses


class Command(BaseCommand):
    help = ("Ask the configured witnesses (SHULIAN_WITNESSES) to cosign the checkpoints they "
            "have not cosigned yet, and report which checkpoints are settled.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, help="only checkpoints up to this size")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        if not witnesses.configured():
            self.stderr.write("no witnesses are configured (SHULIAN_WITNESSES)")
        outcome = witnesses.collect(options["size"], force=True)
        unsettled = [c.size for c in selectors.unsettled_checkpoints(older_than=0)]
        if options["json"]:
            self.stdout.write(json.dumps({**outcome.to_json(), "k": selectors.witness_k(),
                                          "unsettled": unsettled}))
            return
        for size, names in sorted(outcome.cosigned.items()):
            self.stdout.write(f"checkpoint {size}: cosigned by {', '.join(names)}")
        for label, names in (("unreachable", outcome.unreachable),
                             ("refused", outcome.refused)):
            if names:
                self.stdout.write(f"{label}: {', '.join(names)}")
        for problem in outcome.problems:
            self.stderr.write(problem)
        k = selectors.witness_k()
        if k:
            self.stdout.write(f"k = {k}; unsettled checkpoints: "
                              f"{', '.join(map(str, unsettled)) or 'none'}")

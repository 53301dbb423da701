import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ledger import integrator, queue


class Command(BaseCommand):
    help = ("Integrate queued statements as they arrive (the integrator: one per ledger, "
            "holding a lease). --once integrates what is queued now and exits.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="drain the queue and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            self.stdout.write(f"integrated {queue.drain()}")
            return
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        total = integrator.run(stop=lambda: stopping)
        self.stdout.write(f"integrated {total}; stopped")

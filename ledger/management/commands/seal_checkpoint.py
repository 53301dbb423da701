from django.core.management.base import BaseCommand

from ledger import services


class Command(BaseCommand):
    help = "Sign a checkpoint of the current ledger tree (no-op if the newest covers it)."

    def handle(self, *args: object, **options: object) -> None:
        checkpoint = services.seal_checkpoint()
        if checkpoint is None:
            self.stdout.write("ledger is empty: nothing to seal")
            return
        self.stdout.write(checkpoint.note, ending="")

from django.core.management.base import BaseCommand

from demo import loader as demo


class Command(BaseCommand):
    help = "Load the demo scenario once (idempotent): participants, keys, catalogue, workflows."

    def handle(self, *args: object, **options: object) -> None:
        for line in demo.load():
            self.stdout.write(line)

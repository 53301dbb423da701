from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import loader as demo


class Command(BaseCommand):
    help = ("Load the demo scenario once (idempotent): participants, keys, catalogue, "
            "workflows. Its accounts have published demo-only passwords: refused in "
            "production mode (SHULIAN_HTTPS).")

    def handle(self, *args: object, **options: object) -> None:
        if settings.SHULIAN_HTTPS:
            raise CommandError("the demo's accounts have published passwords: load_demo "
                               "does not run in production mode (SHULIAN_HTTPS is set)")
        for line in demo.load():
            self.stdout.write(line)

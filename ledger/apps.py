from django.apps import AppConfig
from django.db.models.signals import post_migrate

from ledger import roles


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(roles.grant_after_migrate, sender=self)
        # Registers its Celery tasks in this process too (a web process runs them eagerly,
        # or sends them by name): models are ready now, so the tasks module may be imported.
        from ledger import tasks  # noqa: F401

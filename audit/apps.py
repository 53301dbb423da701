from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers its Celery tasks in this process too (a web process runs them eagerly,
        # or sends them by name): models are ready now, so the tasks module may be imported.
        from audit import tasks  # noqa: F401

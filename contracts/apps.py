from django.apps import AppConfig
from django.core import checks


class ContractsConfig(AppConfig):
    name = "contracts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(retention_check, checks.Tags.compatibility)


def retention_check(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    """SHULIAN_RETENTION may name only the personal payload kinds (contracts.personal)."""
    from django.core.exceptions import ImproperlyConfigured

    from contracts import personal

    try:
        for kind in personal.PERSONAL_KINDS:
            personal.retention_days(kind)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="contracts.E001")]
    return []

"""What every portal page test shares: the scenario built once per module (and rolled back
after it) and static files linked by name."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.portal.scenario import build


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def plain_static(settings: Any) -> None:
    """Templates link static files by name (no manifest from collectstatic in tests)."""
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

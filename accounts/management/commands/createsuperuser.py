"""Django's createsuperuser, with the password rules on both of its paths: the password of
``--noinput`` (DJANGO_SUPERUSER_PASSWORD) is validated too, and the interactive prompt's
offer to bypass the validators is declined."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError

from accounts import passwords
from kernel.errors import InvalidInput


def _never_bypass(prompt: str = "") -> str:
    if "Bypass password validation" in prompt:
        return "N"
    return input(prompt)


class Command(createsuperuser.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        field = str(getattr(self.UserModel, "USERNAME_FIELD", "username"))
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not options["interactive"] and password is not None:
            username = options.get(field) or os.environ.get(f"DJANGO_SUPERUSER_{field.upper()}")
            try:
                passwords.check(password, username=username or "")
            except InvalidInput as refused:
                raise CommandError(f"DJANGO_SUPERUSER_PASSWORD: {refused.reason}") from None
        createsuperuser.input = _never_bypass  # type: ignore[attr-defined]
        try:
            super().handle(*args, **options)
        finally:
            del createsuperuser.input  # type: ignore[attr-defined]

"""Passwords: Django's validators (``AUTH_PASSWORD_VALIDATORS``: at least 12 characters, not a
common password, not like the username, not all digits) on every path that sets one.

* :func:`check` and :func:`create_account`: the project's own services, with an error
  naming the field (the application form);
* :func:`guard`, before every save of an account: a password set with ``set_password``
  (password change, the admin's forms, ``changepassword``) is validated again, so that no
  path skips the rules; ``createsuperuser`` (which stores the hash itself) validates in both
  its modes (``accounts.management.commands.createsuperuser``).

The demo loader alone stores its published ``demo-<username>`` passwords without them, by
writing the hash itself (``demo.participants.demo_password``): demo data is never deployed,
and ``load_demo`` refuses to run in production mode.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from kernel.errors import InvalidInput


def check(password: str, *, username: str, field: str = "password") -> None:
    """InvalidInput naming ``field`` with every reason the validators give, in the user's
    language."""
    if not isinstance(password, str) or not password:
        raise InvalidInput(field, "is required")
    user = get_user_model()(username=username)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise InvalidInput(field, " ".join(exc.messages)) from None


def username_taken(username: str) -> bool:
    return get_user_model().objects.filter(username=username).exists()


def create_account(*, username: str, password: str) -> User:
    """A new active account; the caller makes sure ``username`` is free (so that no form
    has to say whether an account exists)."""
    check(password, username=username)
    with transaction.atomic():
        user = get_user_model().objects.create_user(username=username, password=password)
    assert isinstance(user, User)
    return user


def guard(sender: Any, instance: Any, **kwargs: Any) -> None:
    """``pre_save`` of the user model: the raw password ``set_password`` left, validated."""
    raw = getattr(instance, "_password", None)
    if raw is not None:
        validate_password(raw, user=instance)

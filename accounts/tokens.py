"""API tokens (django-rest-knox): only their SHA-512 digest is stored; each expires
``REST_KNOX["TOKEN_TTL"]`` after it was issued (SHULIAN_TOKEN_HOURS, default 10). Their owner
lists and revokes them; every token of an account is revoked when its password changes
(whichever path changes it) and by logout-all.

A token is named by ``id``: the first 16 hex digits of its digest (never part of the secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model, user_logged_in
from django.contrib.auth.hashers import is_password_usable
from django.db.models import QuerySet
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from knox.models import AuthToken

from accounts import lockout
from kernel.errors import DomainError, NotFound

ID_LENGTH = 16


@dataclass(frozen=True)
class Issued:
    token: str
    id: str
    expiry: datetime | None


def issue(*, user: Any) -> Issued:
    """A new token for ``user``; the secret is returned once and never stored."""
    instance, token = AuthToken.objects.create(user=user)
    return Issued(token=token, id=instance.digest[:ID_LENGTH], expiry=instance.expiry)


class SignInRefused(DomainError):
    """The credentials open no account (the same answer whether the account exists)."""


def obtain(request: Any, *, username: str, password: str) -> Issued:
    """A token for these credentials: a sign-in (counted by the lockout, and refused during
    one: TooManyAttempts), recorded like any sign-in."""
    user = lockout.sign_in(request, username=username, password=password)
    if user is None:
        raise SignInRefused("unable to sign in with these credentials")
    issued = issue(user=user)
    user_logged_in.send(sender=type(user), request=request, user=user)
    return issued


def live(user: Any) -> QuerySet[AuthToken]:
    """The user's tokens that have not expired, newest first."""
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by(
        "-created", "digest")


def token_id(token: AuthToken) -> str:
    return token.digest[:ID_LENGTH]


def revoke(*, user: Any, id: str) -> None:  # noqa: A002 (the token's public name)
    """Revoke one of ``user``'s own tokens; NotFound for any other id."""
    if len(id) != ID_LENGTH or any(c not in "0123456789abcdef" for c in id):
        raise NotFound(f"no token {id}")
    deleted, _ = AuthToken.objects.filter(user=user, digest__startswith=id).delete()
    if not deleted:
        raise NotFound(f"no token {id}")


def revoke_all(*, user: Any) -> int:
    """Revoke every token of ``user`` (logout-all); how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


# --- a changed password revokes every token ----------------------------------------------


def _password_changing(sender: Any, instance: Any, update_fields: Any = None,
                       **kwargs: Any) -> None:
    """Note, before the save, whether it sets a new password (``set_password`` leaves the
    raw one in ``_password``; a hash upgrade at sign-in does not) or disables password
    sign-in."""
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    changing = getattr(instance, "_password", None) is not None
    if not changing and not is_password_usable(instance.password):
        stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True)
        changing = is_password_usable(stored.first())
    instance._shulian_password_changed = changing


def _revoke_on_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    if getattr(instance, "_shulian_password_changed", False):
        instance._shulian_password_changed = False
        revoke_all(user=instance)


def connect() -> None:
    user = get_user_model()
    pre_save.connect(_password_changing, sender=user, dispatch_uid="accounts.tokens.changing")
    post_save.connect(_revoke_on_password_change, sender=user,
                      dispatch_uid="accounts.tokens.revoke")

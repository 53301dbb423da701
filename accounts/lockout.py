"""Failed sign-ins lock out (django-axes): after ``AXES_FAILURE_LIMIT`` failures for one
account, or from one address, every password check for that account or from that address is
refused, with the right password too, until ``AXES_COOLOFF_TIME`` has passed since the last
failure. Every way in checks passwords through :func:`django.contrib.auth.authenticate` with
the request (the portal's sign-in, the admin's, the API's token endpoint, the old password of
a password change: :func:`check_password`), so every way in counts and is refused alike.

A refusal is ``429 Too Many Requests`` with ``Retry-After`` (seconds) and a message in the
user's language: JSON under /api/, the sign-in page otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel.edge import error_response, is_api
from kernel.errors import TooManyAttempts


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before any password is tried. A check without a request comes from
    in-process code (a management command, a test), not from a client: it is not counted."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def retry_after(request: HttpRequest, username: str | None) -> int:
    """Seconds until the lockout that refused ``request`` ends (at least 1)."""
    cool_off = settings.AXES_COOLOFF_TIME
    matching = Q(ip_address=getattr(request, "axes_ip_address", None))
    if username:
        matching |= Q(username=username)
    latest = AccessAttempt.objects.filter(matching).aggregate(last=Max("attempt_time"))["last"]
    if latest is None:
        return max(1, int(cool_off.total_seconds()))
    return max(1, math.ceil((latest + cool_off - timezone.now()).total_seconds()))


def message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return _("Too many failed sign-ins for this account or from this address. Try again in "
             "%(minutes)d minutes.") % {"minutes": minutes}


def locked_out(request: HttpRequest, username: str | None) -> TooManyAttempts:
    seconds = retry_after(request, username)
    return TooManyAttempts(message(seconds), retry_after=seconds)


def locked_out_response(request: HttpRequest, original_response: HttpResponse | None = None,
                        credentials: dict[str, Any] | None = None) -> HttpResponse:
    """What a locked-out client is told (``AXES_LOCKOUT_CALLABLE``)."""
    username = (credentials or {}).get("username") or request.POST.get("username")
    refusal = locked_out(request, username)
    if is_api(request):
        return error_response(refusal)
    response = render(request, "registration/locked_out.html",
                      {"message": refusal.message}, status=refusal.status)
    response["Retry-After"] = str(refusal.retry_after)
    return response


def sign_in(request: HttpRequest, *, username: str, password: str) -> Any | None:
    """The account these credentials open, None if they open none; TooManyAttempts when the
    account or the address is locked out."""
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        raise locked_out(request, username)
    return user


def check_password(request: HttpRequest, user: Any, password: str) -> bool:
    """Is ``password`` ``user``'s password? Counted like a sign-in (and refused in a
    lockout), so that a session cannot be used to guess it."""
    found = sign_in(request, username=user.get_username(), password=password)
    return found is not None and found.pk == user.pk

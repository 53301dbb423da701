"""Portal sessions end SHULIAN_SESSION_IDLE_MINUTES (default 30) after the last request and
SHULIAN_SESSION_HOURS (default 10) after the sign-in, whichever comes first; then the person
signs in again. The session's cookie is HttpOnly and SameSite=Lax (``__Host-`` and Secure in
production mode), its key changes at every sign-in, and a sign-out or a change of the
password ends it (Django's own session handling, configured in config/settings.py).

The times are kept in the session itself: when the person signed in, and when they were last
seen (written at most once a minute, so that reading pages rarely writes the session).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from kernel.edge import is_api

SIGNED_IN = "shulian.signed_in"
SEEN = "shulian.seen"
SEEN_EVERY_SECONDS = 60


def signed_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: a sign-in to the portal (``login()`` put the user in the session;
    an API token's sign-in does not and opens no session) starts both clocks."""
    session = getattr(request, "session", None)
    if session is not None and session.get(SESSION_KEY) is not None:
        now = time.time()
        session[SIGNED_IN] = now
        session[SEEN] = now


def expired(session: Any, now: float) -> bool:
    started, seen = session.get(SIGNED_IN), session.get(SEEN)
    if not isinstance(started, int | float) or not isinstance(seen, int | float):
        return True  # a session from before these clocks, or one tampered with
    return (now - started > settings.SESSION_COOKIE_AGE
            or now - seen > settings.SHULIAN_SESSION_IDLE_SECONDS)


class SessionLifetimeMiddleware:
    """Signs out a session that has been idle or open too long (after the authentication
    middleware: the request then goes on as anonymous, so a page asks to sign in again)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if session.get(SESSION_KEY) is not None:
            now = time.time()
            if expired(session, now):
                logout(request)
                if not is_api(request):
                    messages.info(request, _("Your session has ended. Please sign in again."))
            elif now - session[SEEN] >= SEEN_EVERY_SECONDS:
                session[SEEN] = now
        return self.get_response(request)

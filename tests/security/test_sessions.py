"""Portal sessions: an HttpOnly, SameSite=Lax cookie that lives SHULIAN_SESSION_HOURS; a new
session key at every sign-in; a sign-out ends the session on the server; a change of the
password ends every other session; a session idle for SHULIAN_SESSION_IDLE_MINUTES, or open
for SHULIAN_SESSION_HOURS, is signed out (the API's session authentication too)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from accounts import sessions
from tests.security.conftest import PASSWORD

INBOX = "/inbox/"  # a page for signed-in people only
HOURS, IDLE = settings.SESSION_COOKIE_AGE, settings.SHULIAN_SESSION_IDLE_SECONDS


def signed_in(password: str = PASSWORD) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/accounts/login/", {"username": "alice", "password": password})
    assert response.status_code == 302, response.content[:300]
    return client


def in_session(client: Client) -> bool:
    """Does the client's session still open its account (the inbox, not the sign-in)?"""
    return client.get(INBOX).status_code == 200


def with_cookie(key: str) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def set_clocks(client: Client, *, signed_in_ago: float, seen_ago: float) -> None:
    session = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    now = time.time()
    session[sessions.SIGNED_IN] = now - signed_in_ago
    session[sessions.SEEN] = now - seen_ago
    session.save()


def test_the_lifetimes() -> None:
    assert HOURS == 10 * 3600 and IDLE == 30 * 60


@pytest.mark.django_db
def test_the_session_cookie(account: Any) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == HOURS
    assert cookie["path"] == "/" and not cookie["domain"]


@pytest.mark.django_db
def test_signing_in_gives_a_new_session_key(account: Any) -> None:
    """A session key planted before the sign-in (session fixation) opens nothing after it."""
    planted = SessionStore()
    planted["lang"] = "en"
    planted.save()
    client = with_cookie(planted.session_key or "")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key != planted.session_key and in_session(client)
    assert not SessionStore().exists(planted.session_key or "")
    assert not in_session(with_cookie(planted.session_key or ""))


@pytest.mark.django_db
def test_signing_out_ends_the_session_on_the_server(account: Any) -> None:
    client = signed_in()
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/accounts/logout/").status_code == 200
    assert not in_session(client)
    assert not in_session(with_cookie(key))  # a copy of the cookie opens nothing either


@pytest.mark.django_db
def test_a_password_change_ends_every_other_session(account: Any) -> None:
    here, elsewhere = signed_in(), signed_in()
    new = "Another-Strong-Pass-7"
    response = here.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert in_session(here) and not in_session(elsewhere)


@pytest.mark.django_db
@pytest.mark.parametrize(("signed_in_ago", "seen_ago", "kept"), [
    (HOURS - 120, IDLE - 120, True),      # both clocks within their bounds
    (HOURS - 120, IDLE + 1, False),       # idle too long
    (HOURS + 1, 10, False),               # open too long, although used a moment ago
])
def test_an_idle_or_old_session_is_signed_out(account: Any, signed_in_ago: float,
                                              seen_ago: float, kept: bool) -> None:
    client = signed_in()
    set_clocks(client, signed_in_ago=signed_in_ago, seen_ago=seen_ago)
    assert in_session(client) is kept
    if not kept:
        page = client.get("/accounts/login/").content.decode()
        assert "Your session has ended. Please sign in again." in page
        # The API's session authentication ends with it.
        assert client.get("/api/v1/auth/tokens/").status_code in (401, 403)


@pytest.mark.django_db
def test_a_session_in_use_is_kept_beyond_the_idle_time(account: Any) -> None:
    """Each request (at most once a minute) moves the idle clock on."""
    client = signed_in()
    set_clocks(client, signed_in_ago=IDLE - 60, seen_ago=IDLE - 60)
    assert in_session(client)  # seen now
    stored = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    assert time.time() - stored[sessions.SEEN] < 60
    assert in_session(client)


@pytest.mark.django_db
def test_a_session_without_the_clocks_is_signed_out(account: Any) -> None:
    client = signed_in()
    session = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
    del session[sessions.SIGNED_IN]
    session.save()
    assert not in_session(client)

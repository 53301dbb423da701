"""Failed sign-ins lock out, per account and per address, on every way in: the portal's
sign-in, the admin's, the API's token endpoint and the old password of a password change.
A lockout is a 429 with Retry-After and a clear message; it ends when the window has passed.
The token endpoint and the write API are throttled too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests.security.conftest import PASSWORD, from_address

LIMIT = settings.AXES_FAILURE_LIMIT
WINDOW = settings.AXES_COOLOFF_TIME


def portal(client: Client, username: str, password: str) -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def admin(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/", {"username": username, "password": password,
                                         "next": "/admin/"})


def token(client: Client, username: str, password: str) -> Any:
    return client.post("/api/v1/auth/token/", {"username": username, "password": password},
                       content_type="application/json")


def signed_in(way: Callable[..., Any], response: Any) -> bool:
    if way is token:
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302


WAYS = [portal, admin, token]


def _staff(account: Any) -> Any:
    account.is_staff = True
    account.save()
    return account


@pytest.mark.django_db
@pytest.mark.parametrize("way", WAYS, ids=lambda w: w.__name__)
def test_the_account_locks_after_the_limit_and_then_refuses_the_right_password(
        account: Any, way: Callable[..., Any]) -> None:
    _staff(account)
    client = from_address("10.0.0.1")
    for _ in range(LIMIT):
        assert not signed_in(way, way(client, "alice", "wrong-password-1"))
    refused = way(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= WINDOW.total_seconds()
    message = refused.json()["error"]["message"] if way is token else refused.content.decode()
    assert "Too many failed sign-ins" in message
    # Per account: from another address, the account is still locked.
    assert way(from_address("10.0.0.2"), "alice", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_an_address_locks_for_every_account(account: Any) -> None:
    client = from_address("10.0.0.3")
    for n in range(LIMIT):
        token(client, f"nobody-{n}", "wrong-password-1")
    assert token(client, "alice", PASSWORD).status_code == 429
    assert signed_in(token, token(from_address("10.0.0.4"), "alice", PASSWORD))


@pytest.mark.django_db
def test_the_lockout_ends_when_the_window_has_passed(account: Any) -> None:
    client = from_address("10.0.0.5")
    for _ in range(LIMIT):
        portal(client, "alice", "wrong-password-1")
    assert portal(client, "alice", PASSWORD).status_code == 429
    # The window passes: the failures now lie further back than the cool-off time.
    AccessAttempt.objects.update(attempt_time=timezone.now() - WINDOW - timedelta(seconds=1))
    assert portal(client, "alice", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_failures_below_the_limit_do_not_lock_and_a_success_resets_them(account: Any) -> None:
    client = from_address("10.0.0.6")
    for _ in range(LIMIT - 1):
        token(client, "alice", "wrong-password-1")
    assert signed_in(token, token(client, "alice", PASSWORD))
    for _ in range(LIMIT - 1):
        token(client, "alice", "wrong-password-1")
    assert signed_in(token, token(client, "alice", PASSWORD))


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/accounts/password_change/", "/admin/password_change/"])
def test_guessing_the_old_password_of_a_password_change_locks_too(account: Any,
                                                                  page: str) -> None:
    client = from_address("10.0.0.7")
    client.force_login(_staff(account))
    for n in range(LIMIT):
        response = client.post(page, {
            "old_password": "wrong-password-1", "new_password1": "Another-Strong-Pass-7",
            "new_password2": "Another-Strong-Pass-7"})
        # Refused as a wrong password, until the failure that reaches the limit locks.
        assert response.status_code == (200 if n < LIMIT - 1 else 429)
    response = client.post(page, {
        "old_password": PASSWORD, "new_password1": "Another-Strong-Pass-7",
        "new_password2": "Another-Strong-Pass-7"})
    assert response.status_code == 429 and "Retry-After" in response
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


@pytest.mark.django_db
def test_the_lockout_message_is_in_the_users_language(account: Any) -> None:
    client = from_address("10.0.0.8", HTTP_ACCEPT_LANGUAGE="zh-hans")
    for _ in range(LIMIT):
        token(client, "alice", "wrong-password-1")
    assert "登录失败次数过多" in token(client, "alice", PASSWORD).json()["error"]["message"]


@pytest.mark.django_db
def test_the_token_endpoint_is_throttled_per_address(account: Any) -> None:
    rate = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    client = from_address("10.0.0.9")
    answers = [token(client, f"user-{n}", "x").status_code for n in range(rate + 1)]
    # The lockout per address answers first; what the throttle adds is that no address can
    # try more than its budget per minute, even spread over accounts that are not locked.
    assert answers[-1] == 429
    assert all(code in (400, 429) for code in answers)


@pytest.mark.django_db
def test_the_write_api_is_throttled_per_user(account: Any, monkeypatch: Any) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    from accounts import tokens

    # A budget of 3 writes a minute (the rates are read when a throttle is made).
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {**SimpleRateThrottle.THROTTLE_RATES, "write": "3/min"})
    client = Client(HTTP_AUTHORIZATION=f"Token {tokens.issue(user=account).token}")
    codes = [client.post("/api/v1/objections/", {}, content_type="application/json")
             .status_code for _ in range(4)]
    assert codes[:3] == [400, 400, 400] and codes[3] == 429
    throttled = client.post("/api/v1/objections/", {}, content_type="application/json")
    assert int(throttled["Retry-After"]) > 0
    assert client.get("/api/v1/objections/").status_code == 200  # reads have their own


@pytest.mark.django_db
def test_a_forwarded_for_header_does_not_change_the_address_without_a_proxy(
        account: Any) -> None:
    """Without trusted proxies (the embedded default), X-Forwarded-For is the client's own
    claim: rotating it does not escape the lockout of its address."""
    for n in range(LIMIT):
        token(from_address("10.0.1.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"),
              f"nobody-{n}", "wrong-password-1")
    fresh = from_address("10.0.1.1", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert token(fresh, "alice", PASSWORD).status_code == 429

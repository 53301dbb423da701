"""API tokens: stored only as digests, expiring after the configured lifetime, listed and
revoked by their owner, all revoked by logout-all and whenever the password changes."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from tests.security.conftest import PASSWORD

NEW_PASSWORD = "Another-Strong-Pass-7"


def obtain(username: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
    response = Client().post("/api/v1/auth/token/", {"username": username,
                                                      "password": password},
                             content_type="application/json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def as_(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def works(token: str) -> bool:
    return as_(token).get("/api/v1/auth/tokens/").status_code == 200


@pytest.mark.django_db
def test_the_database_holds_a_digest_not_the_token(account: Any) -> None:
    token = obtain()["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert token not in stored
    assert hashlib.sha512(token.encode()).hexdigest() in stored


@pytest.mark.django_db
def test_a_token_expires_after_the_configured_lifetime(account: Any) -> None:
    issued = obtain()
    expiry = timezone.datetime.fromisoformat(issued["expiry"].replace("Z", "+00:00"))
    lifetime = expiry - timezone.now()
    assert timedelta(hours=10) - timedelta(minutes=1) < lifetime <= timedelta(hours=10)
    assert settings.REST_KNOX["TOKEN_TTL"] == timedelta(hours=10)
    assert works(issued["token"])
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    refused = as_(issued["token"]).get("/api/v1/auth/tokens/")
    assert refused.status_code == 401 and refused.json()["error"]["status"] == 401


@pytest.mark.django_db
def test_the_owner_lists_and_revokes_tokens(account: Any) -> None:
    first, second = obtain(), obtain()
    listed = as_(first["token"]).get("/api/v1/auth/tokens/").json()
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    assert [t["current"] for t in listed] == [False, True]
    assert all(first["token"][:8] not in t["id"] for t in listed)
    assert as_(first["token"]).delete(f"/api/v1/auth/tokens/{second['id']}/").status_code == 204
    assert not works(second["token"]) and works(first["token"])


@pytest.mark.django_db
def test_nobody_revokes_anothers_token(account: Any) -> None:
    from accounts import passwords

    passwords.create_account(username="mallory", password=PASSWORD)
    alice, mallory = obtain(), obtain("mallory")
    refused = as_(mallory["token"]).delete(f"/api/v1/auth/tokens/{alice['id']}/")
    assert refused.status_code == 404
    assert works(alice["token"])


@pytest.mark.django_db
def test_logout_revokes_this_token_and_logout_all_every_token(account: Any) -> None:
    first, second, third = obtain(), obtain(), obtain()
    assert as_(first["token"]).post("/api/v1/auth/logout/").status_code == 204
    assert not works(first["token"]) and works(second["token"])
    answer = as_(second["token"]).post("/api/v1/auth/logout-all/")
    assert answer.status_code == 200 and answer.json() == {"revoked": 2}
    assert not works(second["token"]) and not works(third["token"])


def _change_in_the_portal(user: Any) -> None:
    client = Client()
    client.force_login(user)
    response = client.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD})
    assert response.status_code == 302


def _change_in_the_admin(user: Any) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root-admin", None, PASSWORD)
    client = Client()
    client.force_login(admin)
    response = client.post(f"/admin/auth/user/{user.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 302


def _change_in_code(user: Any) -> None:
    user.set_password(NEW_PASSWORD)
    user.save()


@pytest.mark.django_db
@pytest.mark.parametrize("change", [_change_in_the_portal, _change_in_the_admin,
                                    _change_in_code], ids=lambda c: c.__name__)
def test_a_password_change_revokes_every_token(account: Any, change: Any) -> None:
    old = [obtain()["token"], obtain()["token"]]
    change(account)
    assert not any(works(token) for token in old)
    assert works(obtain(password=NEW_PASSWORD)["token"])


@pytest.mark.django_db
def test_a_sign_in_that_upgrades_the_hash_revokes_nothing(account: Any, settings: Any) -> None:
    token = obtain()["token"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.ScryptPasswordHasher",
                                 *settings.PASSWORD_HASHERS]
    stored = type(account).objects.get(pk=account.pk).password
    obtain()  # the sign-in rehashes the password with the preferred hasher
    assert type(account).objects.get(pk=account.pk).password != stored
    assert works(token)


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Token abc", "Token " + "g" * 64, "Token " + "a" * 63,
                                    "Token a\u00e9" + "a" * 62])
def test_a_malformed_token_is_401(account: Any, header: str) -> None:
    response = Client(HTTP_AUTHORIZATION=header).get("/api/v1/auth/tokens/")
    assert response.status_code == 401 and response.json()["error"]["status"] == 401


@pytest.mark.django_db
def test_existing_clients_still_get_a_token_by_form_or_json(account: Any) -> None:
    by_form = Client().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD})
    assert by_form.status_code == 200 and works(by_form.json()["token"])
    refused = Client().post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert refused.status_code == 400 and refused.json()["error"]["status"] == 400

"""The password rules (at least 12 characters, not common, not like the username, not all
digits) hold on every path that sets a password, against one table of weak passwords; the
application form does not tell whether an account exists."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import translation

from accounts import passwords
from kernel.errors import InvalidInput
from operators import uscc
from operators.models import Participant
from tests.security.conftest import PASSWORD

USERNAME = "wang.fang.2026"
# (password, the rule that refuses it); ``{u}`` is the account's username.
WEAK = [
    ("Sh0rt-pw", "too short"),
    ("password1234", "too common"),
    ("839201746153", "entirely numeric"),
    ("{u}!", "too similar"),
]
STRONG = "Lantern-Orchid-Basalt-42"


def _weak(template: str, username: str) -> str:
    return template.format(u=username)


def _person(username: str = USERNAME) -> Any:
    return passwords.create_account(username=username, password=PASSWORD)


def _staff_client() -> Client:
    admin = get_user_model().objects.create_superuser("root-admin", None, PASSWORD)
    client = Client()
    client.force_login(admin)
    return client


def by_service(password: str) -> bool:
    try:
        passwords.create_account(username=USERNAME, password=password)
    except InvalidInput as refusal:
        assert refusal.field == "password"
        return False
    return True


def by_application_form(password: str) -> bool:
    code = uscc.make("91", "350100", "WEAKPW01")
    Client().post("/participants/apply/", {
        "code": code, "name_zh": "弱密码公司", "kind": "merchant", "merchant_type": "service",
        "contact_name": "王芳", "contact_phone": "0591-1", "contact_email": "w@example.com",
        "account-password": password.replace(USERNAME, code)})
    made = Participant.objects.filter(code=code).exists()
    assert made == get_user_model().objects.filter(username=code).exists()
    return made


def by_password_change(password: str) -> bool:
    user = _person()
    client = Client()
    client.force_login(user)
    client.post("/accounts/password_change/", {
        "old_password": PASSWORD, "new_password1": password, "new_password2": password})
    user.refresh_from_db()
    return user.check_password(password)


def by_admin_add(password: str) -> bool:
    _staff_client().post("/admin/auth/user/add/", {
        "username": USERNAME, "password1": password, "password2": password,
        "usable_password": "true"})
    return get_user_model().objects.filter(username=USERNAME).exists()


def by_admin_set_password(password: str) -> bool:
    user = _person()
    _staff_client().post(f"/admin/auth/user/{user.pk}/password/", {
        "password1": password, "password2": password, "usable_password": "true"})
    user.refresh_from_db()
    return user.check_password(password)


def by_createsuperuser(password: str) -> bool:
    os.environ["DJANGO_SUPERUSER_PASSWORD"] = password
    try:
        call_command("createsuperuser", "--noinput", "--username", USERNAME,
                     "--email", "w@example.com", stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as refused:
        assert "DJANGO_SUPERUSER_PASSWORD" in str(refused)
    finally:
        del os.environ["DJANGO_SUPERUSER_PASSWORD"]
    return get_user_model().objects.filter(username=USERNAME).exists()


def by_set_password(password: str) -> bool:
    user = _person()
    user.set_password(password)
    with contextlib.suppress(ValidationError):
        user.save()
    user.refresh_from_db()
    return user.check_password(password)


PATHS = [by_service, by_application_form, by_password_change, by_admin_add,
         by_admin_set_password, by_createsuperuser, by_set_password]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__)
@pytest.mark.parametrize(("template", "rule"), WEAK, ids=[rule for _, rule in WEAK])
def test_a_weak_password_is_refused(path: Callable[[str], bool], template: str,
                                    rule: str) -> None:
    assert not path(_weak(template, USERNAME))


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__)
def test_a_strong_password_is_accepted(path: Callable[[str], bool]) -> None:
    assert path(STRONG)


@pytest.mark.django_db
@pytest.mark.parametrize(("template", "rule"), WEAK, ids=[rule for _, rule in WEAK])
def test_the_service_names_the_field_and_the_rule(template: str, rule: str) -> None:
    with translation.override("en"), pytest.raises(InvalidInput) as refused:
        passwords.create_account(username=USERNAME, password=_weak(template, USERNAME))
    assert refused.value.field == "password" and rule in refused.value.reason


@pytest.mark.django_db
def test_the_application_form_tells_nothing_about_existing_accounts() -> None:
    """An applicant names no username: the account is the company's new code. An existing
    account's name is never asked about, and a taken code reads like a registered one."""
    _person("authority")
    code = uscc.make("91", "350100", "ENUMER01")
    form = {"code": code, "name_zh": "探测公司", "kind": "merchant", "merchant_type": "service",
            "contact_name": "王芳", "contact_phone": "0591-1", "contact_email": "w@example.com",
            "account-password": STRONG, "account-username": "authority"}
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = client.get("/participants/apply/").content.decode()
    assert "account-username" not in page
    assert client.post("/participants/apply/", form).status_code == 302
    assert Participant.objects.get(code=code).memberships.get().user.get_username() == code
    # A code already taken, by a participant or by an account named like it, reads alike.
    taken_by_account = uscc.make("91", "350100", "ENUMER02")
    _person(taken_by_account)
    answers = []
    for taken in (code, taken_by_account):
        answer = Client(HTTP_ACCEPT_LANGUAGE="en").post(
            "/participants/apply/", {**form, "code": taken})
        assert answer.status_code == 200
        page = answer.content.decode().replace(taken, "CODE")
        answers.append(re.sub(r"[A-Za-z0-9]{64}", "CSRF-TOKEN", page))
    assert "is already registered" in answers[0]
    assert answers[0] == answers[1]

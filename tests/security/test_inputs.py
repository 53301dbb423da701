"""One input policy at the edge, on SQLite and PostgreSQL alike: text the databases cannot
store (NUL, a lone surrogate) is a 400 naming where it was, in every path parameter of every
route, in query parameters, form fields, headers, cookies, JSON strings and keys and the
statements clients sign; a malformed or out-of-range path parameter is a 404; every API
error is JSON, a database error included (a JSON 500)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import tokens
from tests.api.conftest import World

NUL = "a\x00b"
SURROGATE = "a\ud800b"
HUGE = str(2**63)


def routes(patterns: Any = None, prefix: str = "") -> Iterator[str]:
    """Every route as a template, e.g. ``api/v1/participants/<str:code>/keys/``."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern) and not route.startswith("^"):
            yield prefix + route


PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
TEXT_ROUTES = sorted({r for r in routes() if re.search(r"<(str:)?\w+>", r)
                      and "admin/" not in r and ".csv" not in r})
INT_ROUTES = sorted({r for r in routes() if "<int:" in r and "admin/" not in r})


def fill(route: str, text: str, number: str = "1") -> tuple[str, str]:
    """The route with its first text parameter set to ``text`` (others harmless), and that
    parameter's name."""
    named = None

    def value(match: re.Match[str]) -> str:
        nonlocal named
        kind, name = match.group(1) or "str", match.group(2)
        if kind == "int":
            return number
        if named is None:
            named = name
            return text
        return "X"

    path = "/" + PARAM.sub(value, route)
    assert named is not None
    return path, named


def field_of(response: Any) -> list[str]:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == response.status_code
    return list(body["error"].get("fields", {}))


@pytest.fixture
def client(db: None) -> Client:
    # No password (nothing to hash): the token is the credential here.
    user = get_user_model().objects.create_user(username="alice", password=None)
    return Client(HTTP_AUTHORIZATION=f"Token {tokens.issue(user=user).token}",
                  raise_request_exception=False)


def test_the_routes_are_all_there() -> None:
    assert len(TEXT_ROUTES) >= 30 and len(INT_ROUTES) >= 20


@pytest.mark.django_db
@pytest.mark.parametrize("route", TEXT_ROUTES)
def test_unstorable_text_in_a_path_parameter_is_a_400_naming_it(client: Client,
                                                                route: str) -> None:
    """(A URL carries no lone surrogate: its percent-encoded bytes are no UTF-8.)"""
    path, name = fill(route, NUL)
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        assert response.status_code == 400, (method, path, response.content[:300])
        if path.startswith("/api/"):
            assert field_of(response) == [name]
        else:
            assert name in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("route", INT_ROUTES)
@pytest.mark.parametrize("number", [HUGE, "abc", "-1", "1.5"])
def test_a_malformed_number_in_the_path_is_a_404(client: Client, route: str, number: str) -> None:
    path = "/" + PARAM.sub(lambda m: number if m.group(1) == "int" else "X", route)
    response = client.get(path)
    assert response.status_code == 404, (path, response.content[:300])
    if path.startswith("/api/"):
        field_of(response)


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    "/api/v1/ledger/entries/", "/api/v1/ledger/keys/", "/api/v1/participants/",
    "/api/v1/catalog/resources/", "/api/v1/objections/", "/api/v1/regulator/overdue/",
    "/catalogue/", "/participants/", "/ledger/", "/workflows/requests/",
])
@pytest.mark.parametrize("name", ["kind", "q", "as"])
def test_unstorable_text_in_a_query_parameter_is_a_400_naming_it(client: Client, path: str,
                                                                 name: str) -> None:
    response = client.get(path, {name: NUL})
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert field_of(response) == [name]


@pytest.mark.django_db
def test_headers_and_cookies_are_checked_too(client: Client) -> None:
    by_header = client.get("/api/v1/participants/", HTTP_X_PARTICIPANT=NUL)
    assert by_header.status_code == 400 and field_of(by_header) == ["X-Participant"]
    client.cookies["sessionid"] = NUL
    by_cookie = client.get("/api/v1/participants/")
    assert by_cookie.status_code == 400 and field_of(by_cookie) == ["cookie sessionid"]
    page = Client()
    page.cookies["sessionid"] = NUL
    assert page.get("/").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"resource": NUL, "ground": "accuracy", "description": "x"}, "resource"),
    ({"resource": "R", "ground": "accuracy", "description": "x", "extra": {"deep": [NUL]}},
     "extra.deep[0]"),
    ({"resource": "R", "ground": "accuracy", "description": SURROGATE}, "description"),
    ({NUL: 1}, NUL),
    ({"statement": {"v": 2, "nonce": NUL, "kind": "contracts.objection.filed"},
      "signature": "AA==", "payload": {}, "salt": "AA=="}, "statement.nonce"),
    ({"statement": {"v": 2, "nonce": "n"}, "signature": "AA==", "salt": "AA==",
      "payload": {"resource": "R", "description": "a\u0000"}}, "payload.description"),
])
def test_unstorable_text_in_a_json_body_is_a_400_naming_its_path(client: Client, body: Any,
                                                                 field: str) -> None:
    response = client.post("/api/v1/objections/", json.dumps(body),
                        content_type="application/json")
    assert response.status_code == 400 and field_of(response) == [field]


@pytest.mark.django_db
def test_unstorable_text_in_a_form_field_is_a_400_naming_it() -> None:
    page = Client().post("/participants/apply/", {"code": "91350100MA2Y00001A",
                                                  "name_zh": NUL})
    assert page.status_code == 400 and "name_zh" in page.content.decode()


@pytest.mark.django_db
def test_unstorable_text_in_an_api_multipart_body_is_a_400_naming_it(w: World) -> None:
    from contracts.models import Grant

    provider = Client(HTTP_AUTHORIZATION=f"Token {w.tokens['provider']}")
    grant = Grant.objects.filter(resource__code="RS-OPEN").get()
    upload = provider.post(f"/api/v1/grants/{grant.pk}/deliveries/",
                           {"rows": NUL, "file": io.BytesIO(b"uscc\n1\n")})
    assert upload.status_code == 400 and field_of(upload) == ["rows"]


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and field_of(response) == []
    assert Client().get("/no-such-page/").status_code == 404


@pytest.mark.django_db
def test_the_latest_checkpoint_note_and_a_malformed_size(w: World, client: Client) -> None:
    from ledger import selectors

    latest = client.get("/api/v1/ledger/checkpoints/latest/note/")
    assert latest.status_code == 200
    assert latest.content.decode() == selectors.checkpoint_note(selectors.latest_checkpoint())
    assert client.get("/api/v1/ledger/checkpoints/abc/note/").status_code == 404


@pytest.mark.django_db
def test_a_database_error_in_an_api_call_is_a_json_500(client: Client) -> None:
    """A real failure of the database (a table gone, in this test's transaction only)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE catalog_category RENAME TO catalog_category_gone")
    response = client.get("/api/v1/catalog/categories/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"status": 500, "message": "internal server error"}}


BIG = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
MANY = {f"f{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "kind", "body", "status"), [
    ("/participants/apply/", "form", {"name_zh": BIG}, 413),
    ("/accounts/login/", "form", {"username": BIG}, 413),
    ("/api/v1/auth/token/", "form", {"username": BIG}, 413),
    ("/api/v1/objections/", "json", {"description": BIG}, 413),
    ("/participants/apply/", "form", MANY, 400),
    ("/api/v1/auth/token/", "form", MANY, 400),
], ids=["page-big", "login-big", "api-form-big", "api-json-big", "page-many", "api-many"])
def test_a_body_beyond_the_limits_is_refused_with_its_reason(
        client: Client, path: str, kind: str, body: dict[str, str], status: int) -> None:
    """Bodies are bounded (DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS) on
    the pages as in the API, and the refusal says why, never a 500."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    if kind == "json":
        response = client.post(path, json.dumps(body), content_type="application/json")
    else:
        response = client.post(path, body)
    assert response.status_code == status, response.content[:300]
    expected = "too large (at most 2.5 MiB" if status == 413 else "too many fields"
    if path.startswith("/api/"):
        field_of(response)
        assert expected in response.json()["error"]["message"]
    else:
        assert expected in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/participants/"])
def test_a_host_not_allowed_is_a_400(path: str) -> None:
    response = Client(HTTP_HOST="attacker.example", HTTP_ACCEPT_LANGUAGE="zh-hans",
                      raise_request_exception=False).get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):
        field_of(response)
    else:
        assert "请求格式不正确" in response.content.decode()

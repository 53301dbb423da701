"""Participants through the REST API: the directory, admission (数商入场登记), members and
keys, with every error class each endpoint can produce and the permission matrix."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from crypto.sm2 import PrivateKey
from ledger import services as ledger
from ledger.models import Entry, LedgerKey
from operators.models import Membership, Participant, Status
from operators.uscc import make
from tests.api.conftest import Api, World, entries, planned_codes

P = "/api/v1/participants/"


def url(world: World, key: str, action: str = "") -> str:
    return f"{P}{world.code(key)}/{action + '/' if action else ''}"


def error_fields(response: Any) -> dict[str, list[str]]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == response.status_code
    return body["error"].get("fields", {})


def assert_entry(body: dict[str, Any], kind: str, actor: str | None = None) -> None:
    entry = body["entry"]
    assert entry["kind"] == kind
    if actor is not None:
        assert entry["actor"] == actor
    stored = Entry.objects.get(seq=entry["seq"])
    assert stored.leaf_hash == entry["leaf_hash"]


# --- directory -----------------------------------------------------------------------------


def test_the_directory_is_public_and_paginated(api: Api) -> None:
    response = api.anon.get(P)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 9  # every participant but the applicant, who is not admitted
    assert {"next", "previous", "results"} <= set(body)
    assert all("contact_name" not in row for row in body["results"])


@pytest.mark.parametrize(("query", "expected"), [
    ({"kind": "provider"}, {"provider", "provider_b"}),
    ({"kind": "third_party"}, {"certifier", "valuer"}),
    ({"status": "applied"}, {"applicant"}),
    ({"q": "数智"}, {"merchant"}),
    ({"kind": "merchant", "status": "admitted"}, {"merchant"}),
])
def test_directory_filters(api: Api, query: dict[str, str], expected: set[str]) -> None:
    body = api.as_("authority").get(P, query).json()
    codes = {row["code"] for row in body["results"]}
    assert codes == {api.world.code(key) for key in expected}


def test_directory_ordering_and_page_size(api: Api) -> None:
    rows = api.anon.get(f"{P}?ordering=-code&page_size=4").json()
    codes = [row["code"] for row in rows["results"]]
    assert len(codes) == 4 and codes == sorted(codes, reverse=True)
    assert rows["next"] is not None
    names = [r["name_zh"] for r in api.anon.get(f"{P}?ordering=name").json()["results"]]
    assert names == sorted(names)


@pytest.mark.parametrize(("query", "field"), [
    ("kind=bank", "kind"), ("status=happy", "status"), ("ordering=password", "ordering"),
    ("q=" + "x" * 300, "q"), ("q=a%00b", "q"),
])
def test_directory_rejects_bad_filters(api: Api, query: str, field: str) -> None:
    response = api.anon.get(f"{P}?{query}")
    assert response.status_code == 400
    assert field in error_fields(response)


@pytest.mark.parametrize("page", ["abc", "0", "999", "-1", "1.5"])
def test_a_page_that_does_not_exist_is_404_not_500(api: Api, page: str) -> None:
    response = api.anon.get(f"{P}?page={page}")
    assert response.status_code == 404
    error_fields(response)


@pytest.mark.parametrize(("role", "sees"), [
    ("merchant", True), ("authority", True), ("regulator", True), ("auditor", False),
    ("operator", False), ("outsider", False), (None, False),
])
def test_contacts_only_for_members_the_authority_and_regulators(api: Api, role: str | None,
                                                                sees: bool) -> None:
    body = api.as_(role).get(url(api.world, "merchant")).json()
    assert body["restricted"] is (not sees)
    assert ("contact_email" in body) is sees
    if sees:
        assert body["contact_email"] == "merchant@example.com"


@pytest.mark.parametrize("code", ["91110108MA00000000", "nope", "x" * 500])
def test_unknown_participant_is_404(api: Api, code: str) -> None:
    response = api.anon.get(f"{P}{code}/")
    assert response.status_code == 404
    error_fields(response)


# --- applying ------------------------------------------------------------------------------

def application(**overrides: Any) -> dict[str, Any]:
    body = {"code": make("91", "110108", "AP000001"), "name_zh": "新数商", "kind": "merchant",
            "merchant_type": "application", "contact_email": "new@example.com"}
    body.update(overrides)
    return body


def test_a_signed_in_user_applies_and_becomes_its_admin(api: Api) -> None:
    response = api.as_("outsider").post(P, application(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == Status.APPLIED
    assert_entry(body, "operators.registration.applied", actor=body["code"])
    assert body["restricted"] is False and body["contact_email"] == "new@example.com"
    membership = Membership.objects.get(participant__code=body["code"])
    assert membership.user == api.world.user("outsider") and membership.role == "admin"


def test_anonymous_cannot_apply(api: Api) -> None:
    before = entries()
    response = api.anon.post(P, application(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert entries() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"code": "91110108MA01XY2K3X"}, "code"),
    ({"code": ""}, "code"),
    ({"code": 12345}, "code"),
    ({"name_zh": ""}, "name_zh"),
    ({"name_zh": "名" * 201}, "name_zh"),
    ({"name_zh": ["a", "b"]}, "name_zh"),
    ({"kind": "provider"}, "kind"),
    ({"kind": "bank"}, "kind"),
    ({"merchant_type": ""}, "merchant_type"),
    ({"kind": "operator"}, "merchant_type"),
    ({"kind": "third_party", "merchant_type": ""}, "service_type"),
    ({"contact_email": "not an email"}, "contact_email"),
    ({"contact_name": "a\x00b"}, "contact_name"),
])
def test_apply_names_each_bad_field(api: Api, overrides: dict[str, Any], field: str) -> None:
    before = entries()
    response = api.as_("outsider").post(P, application(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert entries() == before


def test_apply_with_a_registered_code_is_400(api: Api) -> None:
    response = api.as_("outsider").post(P, application(code=api.world.code("merchant")),
                                        format="json")
    assert response.status_code == 400
    assert "already registered" in error_fields(response)["code"][0]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b"null",
                                 b'{"code": NaN}'])
def test_malformed_bodies_are_400(api: Api, raw: bytes) -> None:
    response = api.as_("outsider").post(P, raw, content_type="application/json")
    assert response.status_code == 400
    error_fields(response)


def test_a_body_too_large_is_413_json(api: Api) -> None:
    raw = b'{"name_zh": "' + b"a" * 3_000_000 + b'"}'
    response = api.as_("outsider").post(P, raw, content_type="application/json")
    assert response.status_code == 413
    error_fields(response)


@pytest.mark.parametrize("acting", ["a\x00b", "91110108MA00000000"])
def test_acting_for_an_unknown_participant_is_400(api: Api, acting: str) -> None:
    body = {"code": make("11", "110108", "AP000005"), "name_zh": "交通局", "kind": "provider"}
    by_header = api.as_("authority").post(f"{P}departments/", body, format="json",
                                          HTTP_X_PARTICIPANT=acting)
    assert by_header.status_code == 400 and "X-Participant" in error_fields(by_header)
    by_query = api.as_("authority").post(f"{P}departments/?as={quote(acting)}", body,
                                         format="json")
    assert by_query.status_code == 400


def test_register_a_department(api: Api) -> None:
    body = {"code": make("11", "110108", "AP000002"), "name_zh": "交通局", "kind": "provider"}
    response = api.as_("authority").post(f"{P}departments/", body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == Status.ADMITTED
    assert_entry(response.json(), "operators.participant.registered",
                 actor=api.world.code("authority"))


@pytest.mark.parametrize(("role", "status"), [("authority_staff", 403), ("regulator", 403),
                                              ("provider", 403), ("outsider", 403),
                                              (None, 401)])
def test_only_the_authority_registers_departments(api: Api, role: str | None,
                                                   status: int) -> None:
    body = {"code": make("11", "110108", "AP000003"), "name_zh": "交通局", "kind": "provider"}
    before = entries()
    assert api.as_(role).post(f"{P}departments/", body, format="json").status_code == status
    assert entries() == before


def test_a_department_with_a_company_kind_is_400(api: Api) -> None:
    body = {"code": make("11", "110108", "AP000004"), "name_zh": "x", "kind": "merchant"}
    response = api.as_("authority").post(f"{P}departments/", body, format="json")
    assert response.status_code == 400 and "kind" in error_fields(response)


# --- the registration state machine --------------------------------------------------------


def test_review_admit_suspend_reinstate_suspend_revoke(api: Api) -> None:
    client, world = api.as_("authority"), api.world
    steps = [("start-review", {}, "under_review", "review_started"),
             ("admit", {}, "admitted", "admitted"),
             ("suspend", {"reason": "逾期未年检"}, "suspended", "suspended"),
             ("reinstate", {}, "admitted", "reinstated"),
             ("suspend", {"reason": "再次逾期"}, "suspended", "suspended"),
             ("revoke", {"reason": "注销"}, "revoked", "revoked")]
    for action, body, status, kind in steps:
        response = client.post(url(world, "applicant", action), body, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == status
        assert_entry(response.json(), f"operators.registration.{kind}",
                     actor=world.code("authority"))
    assert Participant.objects.get(code=world.code("applicant")).status_reason == "注销"


def test_reject_needs_a_reason(api: Api) -> None:
    client, world = api.as_("authority"), api.world
    client.post(url(world, "applicant", "start-review"), format="json")
    before = entries()
    response = client.post(url(world, "applicant", "reject"), {"reason": "  "}, format="json")
    assert response.status_code == 400 and "reason" in error_fields(response)
    assert entries() == before
    response = client.post(url(world, "applicant", "reject"), {"reason": "材料不全"},
                           format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"


@pytest.mark.parametrize(("key", "action"), [
    ("applicant", "admit"), ("applicant", "suspend"), ("applicant", "reinstate"),
    ("merchant", "admit"), ("merchant", "start-review"), ("merchant", "revoke"),
])
def test_illegal_transitions_are_409_and_change_nothing(api: Api, key: str,
                                                        action: str) -> None:
    before, status = entries(), api.world.participant(key).status
    response = api.as_("authority").post(url(api.world, key, action), {"reason": "x"},
                                         format="json")
    assert response.status_code == 409
    assert "cannot" in response.json()["error"]["message"]
    assert entries() == before and api.world.participant(key).status == status


def test_government_bodies_are_not_reviewed(api: Api) -> None:
    response = api.as_("authority").post(url(api.world, "provider", "suspend"),
                                         {"reason": "x"}, format="json")
    assert response.status_code == 403


def test_reviewing_an_unknown_participant_is_404(api: Api) -> None:
    response = api.as_("authority").post(f"{P}91110108MA00000000/admit/", format="json")
    assert response.status_code == 404


def test_a_reason_that_is_not_text_is_400(api: Api) -> None:
    response = api.as_("authority").post(url(api.world, "applicant", "start-review"),
                                         {"reason": {"a": 1}}, format="json")
    assert response.status_code == 400 and "reason" in error_fields(response)


# --- members -------------------------------------------------------------------------------


def test_members_are_listed_for_those_who_see_contacts(api: Api) -> None:
    body = api.as_("provider_staff").get(url(api.world, "provider", "members")).json()
    assert {row["username"] for row in body["results"]} == {"api-provider",
                                                           "api-provider_staff"}
    assert api.as_("merchant").get(url(api.world, "provider", "members")).status_code == 403
    assert api.anon.get(url(api.world, "provider", "members")).status_code == 403


def test_members_filter_and_ordering(api: Api) -> None:
    client = api.as_("provider")
    staff = client.get(url(api.world, "provider", "members") + "?role=staff").json()
    assert [row["username"] for row in staff["results"]] == ["api-provider_staff"]
    ordered = client.get(url(api.world, "provider", "members") + "?ordering=-username").json()
    assert [row["username"] for row in ordered["results"]] == ["api-provider_staff",
                                                               "api-provider"]
    assert client.get(url(api.world, "provider", "members") + "?role=king").status_code == 400


def test_an_admin_adds_a_member(api: Api) -> None:
    response = api.as_("merchant").post(url(api.world, "merchant", "members"),
                                        {"username": "api-outsider", "role": "reviewer"},
                                        format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "api-outsider" and body["role"] == "reviewer"
    assert_entry(body, "operators.member.added", actor=api.world.code("merchant"))


@pytest.mark.parametrize(("body", "field"), [
    ({"username": "nobody-here"}, "username"), ({"username": "api-outsider", "role": "boss"},
                                                "role"),
    ({}, "username"), ({"username": "u" * 151}, "username"),
])
def test_adding_a_member_names_each_bad_field(api: Api, body: dict[str, Any],
                                              field: str) -> None:
    before = entries()
    response = api.as_("merchant").post(url(api.world, "merchant", "members"), body,
                                        format="json")
    assert response.status_code == 400 and field in error_fields(response)
    assert entries() == before


# --- keys ----------------------------------------------------------------------------------


def test_keys_of_a_participant_are_public(api: Api) -> None:
    body = api.anon.get(url(api.world, "merchant", "keys")).json()
    assert body["count"] == 1
    key = body["results"][0]
    assert key["owner"] == api.world.code("merchant") and "BEGIN PUBLIC KEY" in key["pem"]


def test_issuing_a_key_rotates_the_custodial_one(api: Api) -> None:
    world = api.world
    old = LedgerKey.objects.get(owner=world.code("merchant"))
    response = api.as_("merchant").post(url(world, "merchant", "keys/issue"))
    assert response.status_code == 201
    body = response.json()
    assert body["key_id"] != old.key_id
    # the key registry is the ledger's: the entry is the origin's, signed by the ledger key
    assert_entry(body, "ledger.key.registered", actor=ledger.origin())
    assert body["replaces"] == old.key_id
    ended = api.anon.get(url(world, "merchant", "keys") + "?current=false").json()["results"]
    assert ended[0]["ended_seq"] == body["entry"]["seq"] and ended[0]["ended_how"] == "replaced"
    keys = api.anon.get(url(world, "merchant", "keys") + "?current=true").json()["results"]
    assert [k["key_id"] for k in keys] == [body["key_id"]]
    past = api.anon.get(url(world, "merchant", "keys") + "?current=false").json()["results"]
    assert [k["key_id"] for k in past] == [old.key_id]


def test_uploading_a_public_key(api: Api) -> None:
    pem = PrivateKey.generate().public_key.pem
    client = api.as_("merchant")
    response = client.post(url(api.world, "merchant", "keys/upload"), {"pem": pem},
                           format="json")
    assert response.status_code == 201, response.json()
    assert_entry(response.json(), "ledger.key.registered", actor=ledger.origin())
    assert response.json()["owner"] == api.world.code("merchant")
    again = client.post(url(api.world, "merchant", "keys/upload"), {"pem": pem},
                        format="json")
    assert again.status_code == 400 and "pem" in error_fields(again)


@pytest.mark.parametrize("pem", ["not a key", "", "-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                                   "-----END PUBLIC KEY-----\n", "x" * 20000])
def test_uploading_garbage_is_400(api: Api, pem: str) -> None:
    before = entries()
    response = api.as_("merchant").post(url(api.world, "merchant", "keys/upload"),
                                        {"pem": pem}, format="json")
    assert response.status_code == 400 and "pem" in error_fields(response)
    assert entries() == before


@pytest.mark.parametrize("action", ["keys", "keys/issue", "keys/upload", "members"])
def test_key_and_member_endpoints_of_an_unknown_participant_are_404(api: Api,
                                                                     action: str) -> None:
    client = api.as_("merchant")
    target = f"{P}91110108MA00000000/{action}/"
    response = client.get(target) if action == "keys" else client.post(target, {},
                                                                        format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("query", ["use=magic", "current=perhaps", "ordering=pem"])
def test_key_list_rejects_bad_filters(api: Api, query: str) -> None:
    response = api.anon.get(url(api.world, "merchant", "keys") + f"?{query}")
    assert response.status_code == 400


# --- authentication ------------------------------------------------------------------------


def test_token_from_the_token_endpoint_works(api: Api) -> None:
    user = api.world.user("outsider")
    user.set_password("s3cret-pass-2026")
    user.save()
    response = APIClient().post("/api/v1/auth/token/", {"username": "api-outsider",
                                                        "password": "s3cret-pass-2026"},
                                format="json")
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.post(P, application(), format="json").status_code == 201


def test_a_wrong_token_is_401(api: Api) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert client.get(P).status_code == 401


def test_session_authentication_works_and_needs_csrf(api: Api) -> None:
    user = get_user_model().objects.get(username="api-authority")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    body = client.get(url(api.world, "merchant")).json()
    assert body["restricted"] is False
    refused = client.post(url(api.world, "applicant", "start-review"), format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]


# --- the permission matrix -----------------------------------------------------------------

EVERY_ROLE = ["authority", "authority_staff", "regulator", "auditor", "provider",
              "provider_staff", "merchant", "applicant", "certifier", "outsider", None]

MATRIX: dict[str, tuple[str, str, dict[str, Any], dict[str | None, int]]] = {
    # action: (participant key, path, body, expected status by role; missing: 403)
    # An applicant is invisible to other companies (404, as if missing).
    "start review": ("applicant", "start-review", {}, {
        "authority": 200, None: 401, "provider": 404, "provider_staff": 404, "merchant": 404,
        "certifier": 404, "outsider": 404}),
    "add member": ("provider", "members", {"username": "api-outsider"},
                   {"provider": 201, None: 401}),
    "issue key": ("merchant", "keys/issue", {}, {"merchant": 201, None: 401}),
    "upload key": ("certifier", "keys/upload", {}, {"certifier": 201, None: 401}),
}


@pytest.mark.parametrize("role", EVERY_ROLE)
@pytest.mark.parametrize("action", sorted(MATRIX))
def test_permission_matrix(api: Api, action: str, role: str | None) -> None:
    key, path, body, expected = MATRIX[action]
    if path == "keys/upload":
        body = {"pem": PrivateKey.generate().public_key.pem}
    status = expected.get(role, 403)
    before = entries()
    response = api.as_(role).post(url(api.world, key, path), body, format="json")
    assert response.status_code == status, response.json()
    if status >= 400:
        assert entries() == before
        error_fields(response)
    else:
        assert entries() > before
        assert response.json()["entry"]["seq"] >= before


def test_the_world_has_the_planned_codes(w: World) -> None:
    assert w.participants == planned_codes()

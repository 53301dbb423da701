"""The catalogue through the REST API: categories, resources and their life cycle, versions
(checked against their entries), items, quality rules and checks, products, listings and
certificates; every error class, restricted fields, and the permission matrix."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import DataProduct, DataResource
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from ledger.models import Entry
from tests.api.conftest import Api, World, entries

C = "/api/v1/catalog/"
R = f"{C}resources/"
D = f"{C}products/"


class Fields(dict):  # type: ignore[type-arg]
    """A 400's fields; ``"items" in fields`` also finds ``items[0].name`` and
    ``items.non_field_errors``."""

    def __contains__(self, name: object) -> bool:
        return any(key == name or key.startswith((f"{name}.", f"{name}["))
                   for key in self.keys())


def error_fields(response: Any) -> Fields:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == response.status_code
    return Fields(body["error"].get("fields", {}))


def assert_entry(body: dict[str, Any], kind: str, actor: str | None = None) -> Entry:
    entry = body["entry"]
    assert entry is not None and entry["kind"] == kind
    if actor is not None:
        assert entry["actor"] == actor
    stored = Entry.objects.get(seq=entry["seq"])
    assert stored.leaf_hash == entry["leaf_hash"]
    return stored


def codes(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["code"] for row in response.json()["results"]]


def new_resource(**overrides: Any) -> dict[str, Any]:
    body = {"code": "RS-NEW", "category": "B01", "name": "新目录", "grade": "general",
            "sensitivity": 2, "sharing": "unconditional", "opening": "open",
            "update_frequency": "monthly",
            "items": [{"name": "id", "data_type": "integer"},
                      {"name": "note", "data_type": "text", "description": "备注"}]}
    body.update(overrides)
    return body


# --- categories ----------------------------------------------------------------------------


def test_categories(api: Api) -> None:
    body = api.anon.get(f"{C}categories/").json()
    assert [(c["code"], c["parent"]) for c in body["results"]] == [
        ("B", None), ("B01", "B"), ("T", None)]
    assert codes(api.anon.get(f"{C}categories/?parent=B")) == ["B01"]
    assert codes(api.anon.get(f"{C}categories/?branch=topic")) == ["T"]
    assert codes(api.anon.get(f"{C}categories/?ordering=-code")) == ["T", "B01", "B"]
    assert api.anon.get(f"{C}categories/?branch=leaf").status_code == 400


# --- the catalogue list --------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [
    (None, ["RS-B", "RS-OPEN"]),
    ("outsider", ["RS-B", "RS-COND", "RS-OPEN"]),  # a data subject sees it, to object
    ("applicant", ["RS-B", "RS-OPEN"]),
    ("merchant", ["RS-B", "RS-COND", "RS-OPEN"]),
    ("provider", ["RS-B", "RS-CLOSED", "RS-COND", "RS-DRAFT", "RS-OPEN"]),
    ("provider_b", ["RS-B", "RS-COND", "RS-OPEN"]),
    ("operator", ["RS-B", "RS-COND", "RS-OPEN"]),
    ("authority", ["RS-B", "RS-CLOSED", "RS-COND", "RS-DRAFT", "RS-OPEN"]),
    ("regulator", ["RS-B", "RS-CLOSED", "RS-COND", "RS-DRAFT", "RS-OPEN"]),
])
def test_each_role_sees_its_part_of_the_catalogue(api: Api, role: str | None,
                                                  expected: list[str]) -> None:
    assert codes(api.as_(role).get(R)) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ({"q": "年报"}, ["RS-COND"]),
    ({"q": "rs-op"}, ["RS-OPEN"]),
    ({"category": "B"}, ["RS-CLOSED", "RS-COND", "RS-OPEN"]),
    ({"category": "B01"}, ["RS-COND", "RS-OPEN"]),
    ({"category": "NONE"}, []),
    ({"grade": "core"}, ["RS-CLOSED"]),
    ({"sharing": "conditional"}, ["RS-COND"]),
    ({"opening": "open", "status": "published"}, ["RS-B", "RS-OPEN"]),
    ({"status": "draft"}, ["RS-DRAFT"]),
    ({"quality_failing": "true"}, []),
    ({"quality_failing": "false", "category": "T"}, ["RS-B", "RS-DRAFT"]),
    ({"ordering": "-code", "grade": "general"}, ["RS-OPEN", "RS-DRAFT", "RS-B"]),
    ({"ordering": "name", "category": "B01"}, ["RS-COND", "RS-OPEN"]),
])
def test_catalogue_filters_and_ordering(api: Api, query: dict[str, str],
                                        expected: list[str]) -> None:
    assert codes(api.as_("authority").get(R, query)) == expected


def test_catalogue_provider_filter(api: Api) -> None:
    query = {"provider": api.world.code("provider_b")}
    assert codes(api.as_("authority").get(R, query)) == ["RS-B"]


@pytest.mark.parametrize(("query", "field"), [
    ("grade=secret", "grade"), ("quality_failing=perhaps", "quality_failing"),
    ("ordering=sensitivity", "ordering"), ("status=gone", "status"),
    ("provider=" + "9" * 40, "provider"),
])
def test_catalogue_rejects_bad_filters(api: Api, query: str, field: str) -> None:
    response = api.anon.get(f"{R}?{query}")
    assert response.status_code == 400 and field in error_fields(response)


def test_catalogue_pages(api: Api) -> None:
    body = api.as_("authority").get(f"{R}?page_size=2&page=2").json()
    assert body["count"] == 5 and len(body["results"]) == 2
    assert api.anon.get(f"{R}?page=x").status_code == 404


# --- resource detail and restricted fields -------------------------------------------------


@pytest.mark.parametrize(("role", "code", "restricted"), [
    (None, "RS-OPEN", True), ("merchant", "RS-OPEN", True), ("merchant", "RS-COND", True),
    ("operator", "RS-COND", False), ("provider", "RS-COND", False),
    ("provider_staff", "RS-CLOSED", False), ("authority", "RS-CLOSED", False),
    ("auditor", "RS-DRAFT", False), ("provider_b", "RS-OPEN", True),
])
def test_restricted_fields_only_for_those_who_may_see_them(api: Api, role: str | None,
                                                          code: str, restricted: bool) -> None:
    response = api.as_(role).get(f"{R}{code}/")
    assert response.status_code == 200
    body = response.json()
    assert body["restricted"] is restricted
    for field in ("sharing_basis", "source_system", "responsible_person"):
        assert (field in body) is not restricted
    assert body["items"] or code == "RS-CLOSED" or code == "RS-DRAFT"
    for item in body["items"]:
        assert "name" in item and "data_type" in item
        assert ("personal_information" in item) is not restricted
        assert ("description" in item) is not restricted


@pytest.mark.parametrize(("role", "code"), [
    (None, "RS-COND"), ("outsider", "RS-CLOSED"), ("merchant", "RS-CLOSED"),
    ("merchant", "RS-DRAFT"), ("provider_b", "RS-DRAFT"), ("operator", "RS-CLOSED"),
    ("authority", "RS-NONE"),
])
def test_invisible_resources_look_missing(api: Api, role: str | None, code: str) -> None:
    response = api.as_(role).get(f"{R}{code}/")
    assert response.status_code == 404
    missing = api.as_(role).get(f"{R}RS-NEVER-THERE/")
    assert response.json()["error"]["message"].split()[0] == \
        missing.json()["error"]["message"].split()[0]
    for sub in ("versions/", "versions/1/", "items/", "quality/rules/", "quality/checks/"):
        assert api.as_(role).get(f"{R}{code}/{sub}").status_code == 404


# --- create, revise, publish, withdraw -----------------------------------------------------


def test_create_a_draft(api: Api) -> None:
    before = entries()
    response = api.as_("provider").post(R, new_resource(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["version"] == 0 and body["entry"] is None
    assert body["provider"] == api.world.code("provider") and body["restricted"] is False
    assert [item["name"] for item in body["items"]] == ["id", "note"]
    assert entries() == before
    assert api.as_("provider_b").get(f"{R}RS-NEW/").status_code == 404


@pytest.mark.parametrize(("overrides", "field"), [
    ({"code": ""}, "code"), ({"code": "x" * 65}, "code"), ({"code": "RS-OPEN"}, "code"),
    ({"category": "NOPE"}, "category"), ({"name": ""}, "name"), ({"name": None}, "name"),
    ({"grade": "secret"}, "grade"), ({"sensitivity": 9}, "sensitivity"),
    ({"sensitivity": "high"}, "sensitivity"), ({"sensitivity": 10**30}, "sensitivity"),
    ({"sharing": "conditional"}, "sharing_basis"),
    ({"opening": 3}, "opening"), ({"update_frequency": "hourly"}, "update_frequency"),
    ({"items": "id"}, "items"), ({"items": [{"name": "a"}]}, "items[0].data_type"),
    ({"items": [{"name": "a", "data_type": "string"}, {"name": "a", "data_type": "string"}]},
     "items[1].name"),
    ({"items": [{"name": "a", "data_type": "string", "authoritative": True}]},
     "items[0].standard_code"),
    ({"items": [{"name": "a", "data_type": "string", "authoritative": True,
                 "standard_code": "DE-API-0001"}]}, "items[0].standard_code"),
    ({"items": [{"name": "a", "data_type": "string", "desensitisation": "shred"}]},
     "items[0].desensitisation"),
    ({"description": "a\x00b"}, "description"),
])
def test_create_names_each_bad_field(api: Api, overrides: dict[str, Any], field: str) -> None:
    response = api.as_("provider").post(R, new_resource(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert not DataResource.objects.filter(code="RS-NEW").exists()


def test_one_source_conflict_says_who_holds_it(api: Api) -> None:
    item = {"name": "a", "data_type": "string", "authoritative": True,
            "standard_code": "DE-API-0001"}
    response = api.as_("provider_b").post(R, new_resource(items=[item]), format="json")
    reason = error_fields(response)["items[0].standard_code"][0]
    assert "RS-OPEN" in reason and "一数一源" in reason


@pytest.mark.parametrize(("role", "status"), [
    ("provider", 201), ("provider_staff", 201), ("provider_b", 201), ("authority", 403),
    ("regulator", 403), ("merchant", 403), ("operator", 403), ("outsider", 403), (None, 401),
])
def test_who_creates_resources(api: Api, role: str | None, status: int) -> None:
    assert api.as_(role).post(R, new_resource(), format="json").status_code == status


def test_acting_for_another_provider_with_the_header(api: Api) -> None:
    client = api.as_("provider")
    foreign = client.post(R, new_resource(), format="json",
                          HTTP_X_PARTICIPANT=api.world.code("provider_b"))
    assert foreign.status_code == 403
    unknown = client.post(R, new_resource(), format="json",
                          HTTP_X_PARTICIPANT="91110108MA00000000")
    assert unknown.status_code == 400 and "X-Participant" in error_fields(unknown)
    own = client.post(R, new_resource(), format="json",
                      HTTP_X_PARTICIPANT=api.world.code("provider"))
    assert own.status_code == 201


def test_publish_a_draft_then_revise_then_withdraw_then_republish(api: Api) -> None:
    client, provider = api.as_("provider"), api.world.code("provider")
    published = client.post(f"{R}RS-DRAFT/publish/")
    assert published.status_code == 200
    body = published.json()
    assert body["status"] == "published" and body["version"] == 1
    entry = assert_entry(body, "catalog.resource.published", actor=provider)
    assert entry.subject == "catalog/resource/RS-DRAFT"

    again = client.post(f"{R}RS-DRAFT/publish/")
    assert again.status_code == 409

    revised = client.post(f"{R}RS-DRAFT/revise/", {"update_frequency": "weekly"},
                          format="json")
    assert revised.status_code == 200 and revised.json()["version"] == 2
    assert_entry(revised.json(), "catalog.resource.published", actor=provider)

    withdrawn = client.post(f"{R}RS-DRAFT/withdraw/", {"reason": "停止维护"}, format="json")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert_entry(withdrawn.json(), "catalog.resource.withdrawn", actor=provider)
    assert client.post(f"{R}RS-DRAFT/revise/", {"name": "x"}, format="json").status_code == 409
    assert client.post(f"{R}RS-DRAFT/withdraw/", {"reason": "x"},
                       format="json").status_code == 409

    republished = client.post(f"{R}RS-DRAFT/publish/")
    assert republished.status_code == 200 and republished.json()["version"] == 3


def test_revising_a_draft_appends_nothing(api: Api) -> None:
    before = entries()
    response = api.as_("provider").post(f"{R}RS-DRAFT/revise/",
                                        {"name": "改名", "items": [{"name": "z",
                                                                   "data_type": "integer"}]},
                                        format="json")
    assert response.status_code == 200 and response.json()["entry"] is None
    assert response.json()["name"] == "改名"
    assert [i["name"] for i in response.json()["items"]] == ["z"]
    assert entries() == before


@pytest.mark.parametrize(("body", "field"), [
    ({}, "non_field_errors"), ({"grade": "x"}, "grade"), ({"sensitivity": 0}, "sensitivity"),
    ({"code": "RS-OTHER"}, "code"), ({"sharing": "not_shareable"}, "sharing_basis"),
    ({"items": [{"name": "", "data_type": "string"}]}, "items[0].name"),
])
def test_revise_names_each_bad_field(api: Api, body: dict[str, Any], field: str) -> None:
    before = entries()
    response = api.as_("provider").post(f"{R}RS-OPEN/revise/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert entries() == before


def test_withdraw_needs_a_reason(api: Api) -> None:
    response = api.as_("provider").post(f"{R}RS-OPEN/withdraw/", {}, format="json")
    assert response.status_code == 400 and "reason" in error_fields(response)
    assert api.as_("provider").post(f"{R}RS-DRAFT/withdraw/", {"reason": "x"},
                                    format="json").status_code == 409


def test_a_form_body_is_not_accepted_where_json_is_documented(api: Api) -> None:
    response = api.as_("provider").post(f"{R}RS-OPEN/withdraw/", {"reason": "x"})
    assert response.status_code == 415


# --- versions ------------------------------------------------------------------------------


def test_versions_match_their_entries(api: Api) -> None:
    client = api.as_("provider")
    client.post(f"{R}RS-OPEN/revise/", {"description": "第二版"}, format="json")
    listed = client.get(f"{R}RS-OPEN/versions/").json()
    assert [v["number"] for v in listed["results"]] == [2, 1]
    assert [v["number"] for v in client.get(
        f"{R}RS-OPEN/versions/?ordering=number").json()["results"]] == [1, 2]
    version = client.get(f"{R}RS-OPEN/versions/2/").json()
    assert version["matches_entry"] is True and version["restricted"] is False
    assert version["content"]["description"] == "第二版"
    assert version["entry"]["seq"] == version["entry_seq"]
    assert version["entry"]["kind"] == "catalog.resource.published"
    # The entry commits to the content with a salt kept beside the payload: SM3(salt ||
    # canonical content); the version's digest is the plain SM3 of its canonical content.
    content = canonical(version["content"])
    assert version["digest"] == sm3_hex(content)
    stored = client.get(f"/api/v1/ledger/entries/{version['entry_seq']}/payload/").json()
    salt = base64.b64decode(stored["salt"], validate=True)
    assert sm3_hex(salt + content) == Entry.objects.get(seq=version["entry_seq"]).commitment


def test_version_detail_has_an_etag(api: Api) -> None:
    client = api.anon
    first = client.get(f"{R}RS-OPEN/versions/1/")
    assert first.status_code == 200 and first["ETag"]
    assert "private" in first["Cache-Control"]
    again = client.get(f"{R}RS-OPEN/versions/1/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    other = client.get(f"{R}RS-OPEN/versions/1/", HTTP_IF_NONE_MATCH='"nope"')
    assert other.status_code == 200


@pytest.mark.parametrize(("role", "shows"), [("merchant", False), ("operator", True),
                                             ("provider", True), ("regulator", True)])
def test_restricted_version_content(api: Api, role: str, shows: bool) -> None:
    body = api.as_(role).get(f"{R}RS-COND/versions/1/").json()
    assert body["restricted"] is (not shows)
    assert ("content" in body) is shows
    assert body["matches_entry"] is True


@pytest.mark.parametrize("number", ["0", "2", "99", "4294967296", "99999999999999999999"])
def test_missing_versions_are_404(api: Api, number: str) -> None:
    assert api.anon.get(f"{R}RS-OPEN/versions/{number}/").status_code == 404


# --- items ---------------------------------------------------------------------------------


def test_items_with_and_without_restricted_details(api: Api) -> None:
    public = api.anon.get(f"{R}RS-OPEN/items/").json()
    assert public["restricted"] is True
    assert [i["name"] for i in public["results"]] == ["uscc", "legal_person", "capital"]
    assert all(set(i) == {"name", "data_type", "standard_code", "authoritative"}
               for i in public["results"])
    full = api.as_("provider").get(f"{R}RS-OPEN/items/?ordering=name").json()
    assert full["restricted"] is False
    assert [i["name"] for i in full["results"]] == ["capital", "legal_person", "uscc"]
    assert full["results"][1]["personal_information"] is True
    assert [i["name"] for i in api.anon.get(f"{R}RS-OPEN/items/?q=cap").json()["results"]] \
        == ["capital"]


# --- quality -------------------------------------------------------------------------------


def test_quality_rules_list_and_add(api: Api) -> None:
    rules = api.anon.get(f"{R}RS-OPEN/quality/rules/").json()["results"]
    assert [(r["item"], r["check"]) for r in rules] == [("uscc", "not_null")]
    response = api.as_("provider").post(f"{R}RS-OPEN/quality/rules/", {
        "item": "capital", "check": "range", "parameters": {"min": 0, "max": 1e9},
        "threshold": 90}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["check"] == "range" and body["parameters"] == {"min": 0, "max": 1e9}
    assert body["entry"] is None
    assert len(api.anon.get(f"{R}RS-OPEN/quality/rules/?item=capital").json()["results"]) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"item": "nothing", "check": "not_null"}, "item"),
    ({"item": "uscc", "check": "telepathy"}, "check"),
    ({"item": "uscc", "check": "not_null", "threshold": 0}, "threshold"),
    ({"item": "uscc", "check": "not_null", "threshold": 101}, "threshold"),
    ({"item": "uscc", "check": "pattern"}, "parameters"),
    ({"item": "uscc", "check": "pattern", "parameters": {"pattern": "(["}},
     "parameters.pattern"),
    ({"item": "uscc", "check": "range", "parameters": {}}, "parameters"),
    ({"item": "uscc", "check": "range", "parameters": {"min": 5, "max": 1}}, "parameters.max"),
    ({"item": "uscc", "check": "range", "parameters": {"min": 10**400}}, "parameters.min"),
    ({"item": "uscc", "check": "enumeration", "parameters": {"values": []}},
     "parameters.values"),
    ({"item": "uscc", "check": "not_null", "parameters": {"pattern": "x"}}, "parameters"),
    ({"item": "uscc", "check": "not_null", "parameters": "x"}, "parameters"),
])
def test_quality_rule_errors(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.as_("provider").post(f"{R}RS-OPEN/quality/rules/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)


def sample(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_a_quality_check_over_a_csv_sample(api: Api) -> None:
    data = b"uscc,capital\n91110108MA01XY2K3L,100\n91110108MA01XY2K4M,200\n"
    response = api.as_("provider").post(f"{R}RS-OPEN/quality/checks/",
                                        {"sample": sample("sample.csv", data)},
                                        format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["passed"] is True and body["rows"] == 2
    assert body["sample_digest"] == sm3_hex(data)
    assert body["results"][0]["pass_rate_bp"] == 10000
    assert_entry(body, "catalog.quality.checked", actor=api.world.code("provider"))
    listed = api.anon.get(f"{R}RS-OPEN/quality/checks/").json()["results"]
    assert [c["id"] for c in listed] == [body["id"]]


def test_a_failing_sample_flags_the_resource(api: Api) -> None:
    data = b'[{"uscc": ""}, {"uscc": null}, {"uscc": "x"}]'
    response = api.as_("provider").post(f"{R}RS-OPEN/quality/checks/",
                                        {"sample": sample("s.json", data)}, format="multipart")
    assert response.status_code == 201 and response.json()["passed"] is False
    assert codes(api.anon.get(R, {"quality_failing": "true"})) == ["RS-OPEN"]
    assert len(api.anon.get(f"{R}RS-OPEN/quality/checks/?passed=false").json()["results"]) == 1


@pytest.mark.parametrize(("name", "content"), [
    ("s.txt", b"a,b\n1,2\n"),
    ("s.json", b"{not json"),
    ("s.json", b'{"a": 1}'),
    ("s.json", b"[]"),
    ("s.json", b"[" * 100000),
    ("s.json", b'[{"uscc": ' + b"7" * 5000 + b"}]"),
    ("s.csv", b"\xff\xfe\x00"),
    ("s.csv", b"uscc\n" + b"a" * 200000 + b"\n"),
    ("s.csv", b""),
])
def test_bad_samples_are_400(api: Api, name: str, content: bytes) -> None:
    before = entries()
    response = api.as_("provider").post(f"{R}RS-OPEN/quality/checks/",
                                        {"sample": sample(name, content)}, format="multipart")
    assert response.status_code == 400, response.json()
    assert list(error_fields(response)) == ["sample"]
    assert entries() == before


def test_odd_but_valid_samples_are_checked(api: Api) -> None:
    for name, content in [("s.csv", b"uscc\nab\x00cd\n"), ("S.JSON", b'[{"uscc": [1]}]'),
                          ("s.csv", b"uscc,extra\n1,2,3,4\n")]:
        response = api.as_("provider").post(f"{R}RS-OPEN/quality/checks/",
                                            {"sample": sample(name, content)},
                                            format="multipart")
        assert response.status_code == 201, response.json()


def test_huge_numbers_in_a_sample_do_not_break_a_range_rule(api: Api) -> None:
    client = api.as_("provider")
    client.post(f"{R}RS-OPEN/quality/rules/", {"item": "capital", "check": "range",
                                               "parameters": {"min": 0}}, format="json")
    data = b'[{"uscc": "a", "capital": 1' + b"0" * 400 + b'}, {"uscc": "b", "capital": 5}]'
    response = client.post(f"{R}RS-OPEN/quality/checks/",
                           {"sample": sample("big.json", data)}, format="multipart")
    assert response.status_code == 201, response.json()


def test_a_check_needs_a_file_and_rules(api: Api) -> None:
    client = api.as_("provider")
    missing = client.post(f"{R}RS-OPEN/quality/checks/", {}, format="multipart")
    assert missing.status_code == 400 and "sample" in error_fields(missing)
    no_rules = api.as_("provider_b").post(f"{R}RS-B/quality/checks/",
                                          {"sample": sample("s.csv", b"a\n1\n")},
                                          format="multipart")
    assert no_rules.status_code == 400 and "rules" in error_fields(no_rules)
    long_name = client.post(f"{R}RS-OPEN/quality/checks/",
                            {"sample": sample("x" * 250 + ".csv", b"uscc\n1\n")},
                            format="multipart")
    assert long_name.status_code == 400 and "sample" in error_fields(long_name)


# --- products and listings -----------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), [
    (None, ["DP-LISTED"]), ("merchant", ["DP-LISTED"]),
    ("operator", ["DP-DRAFT", "DP-LISTED", "DP-SUBMITTED"]),
    ("certifier", ["DP-LISTED", "DP-SUBMITTED"]),
    ("authority", ["DP-DRAFT", "DP-LISTED", "DP-SUBMITTED"]),
])
def test_who_sees_which_products(api: Api, role: str | None, expected: list[str]) -> None:
    assert codes(api.as_(role).get(D)) == expected
    assert codes(api.as_(role).get(f"{C}listings/")) == ["DP-LISTED"]


def test_product_filters(api: Api) -> None:
    client = api.as_("authority")
    assert codes(client.get(D, {"status": "submitted"})) == ["DP-SUBMITTED"]
    assert codes(client.get(D, {"owner": api.world.code("operator"), "ordering": "-code"})) \
        == ["DP-SUBMITTED", "DP-LISTED", "DP-DRAFT"]
    assert codes(client.get(D, {"resource": "RS-COND", "q": "LISTED"})) == ["DP-LISTED"]
    assert codes(client.get(D, {"resource": "RS-OPEN"})) == []
    assert client.get(D, {"status": "sold"}).status_code == 400
    assert client.get(D, {"ordering": "owner"}).status_code == 400


def test_product_detail(api: Api) -> None:
    body = api.anon.get(f"{D}DP-LISTED/").json()
    assert body["status"] == "listed" and body["price"] == "1250.00"
    assert body["resources"] == ["RS-COND"] and body["currency"] == "CNY"
    assert api.anon.get(f"{D}DP-DRAFT/").status_code == 404
    assert api.as_("merchant").get(f"{D}DP-SUBMITTED/").status_code == 404
    assert api.anon.get(f"{D}NOPE/").status_code == 404


def product(**overrides: Any) -> dict[str, Any]:
    body = {"code": "DP-NEW", "name": "新产品", "resources": ["RS-OPEN", "RS-COND"],
            "price": "99.50"}
    body.update(overrides)
    return body


def test_create_a_product(api: Api) -> None:
    before = entries()
    response = api.as_("operator").post(D, product(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["entry"] is None and body["price"] == "99.50"
    assert sorted(body["resources"]) == ["RS-COND", "RS-OPEN"]
    assert entries() == before


@pytest.mark.parametrize(("overrides", "field"), [
    ({"code": "DP-LISTED"}, "code"), ({"name": ""}, "name"), ({"resources": []}, "resources"),
    ({"resources": "RS-OPEN"}, "resources"), ({"resources": ["RS-NOPE"]}, "resources"),
    ({"resources": ["RS-CLOSED"]}, "resources"), ({"resources": ["RS-B"]}, "resources"),
    ({"price": "-1"}, "price"), ({"price": "abc"}, "price"), ({"price": "1.234"}, "price"),
    ({"price": "1e400"}, "price"), ({"currency": "cny"}, "currency"),
    ({"currency": "EURO"}, "currency"),
])
def test_create_product_names_each_bad_field(api: Api, overrides: dict[str, Any],
                                             field: str) -> None:
    response = api.as_("operator").post(D, product(**overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert not DataProduct.objects.filter(code="DP-NEW").exists()


def test_the_product_life_cycle(api: Api) -> None:
    owner, authority = api.as_("operator"), api.as_("authority")
    operator, reviewer = api.world.code("operator"), api.world.code("authority")

    submitted = owner.post(f"{D}DP-DRAFT/submit/")
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert_entry(submitted.json(), "catalog.product.submitted", actor=operator)
    assert owner.post(f"{D}DP-DRAFT/submit/").status_code == 409

    no_reason = authority.post(f"{D}DP-DRAFT/reject/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in error_fields(no_reason)
    rejected = authority.post(f"{D}DP-DRAFT/reject/", {"reason": "缺少合规材料"},
                              format="json")
    assert rejected.status_code == 200 and rejected.json()["review_reason"] == "缺少合规材料"
    assert_entry(rejected.json(), "catalog.product.rejected", actor=reviewer)
    assert authority.post(f"{D}DP-DRAFT/list/", {}, format="json").status_code == 409

    assert owner.post(f"{D}DP-DRAFT/submit/").status_code == 200
    # no compliance certificate yet: listed only with the reason why
    unreasoned = authority.post(f"{D}DP-DRAFT/list/", {}, format="json")
    assert unreasoned.status_code == 400 and "reason" in error_fields(unreasoned)
    listed = authority.post(f"{D}DP-DRAFT/list/", {"reason": "试点产品，合规认证在办"},
                            format="json")
    assert listed.status_code == 200 and listed.json()["status"] == "listed"
    assert listed.json()["review_reason"] == "试点产品，合规认证在办"
    assert_entry(listed.json(), "catalog.product.listed", actor=reviewer)
    assert "DP-DRAFT" in codes(api.anon.get(f"{C}listings/"))

    delisted = authority.post(f"{D}DP-DRAFT/delist/", {"reason": "数据源撤回"},
                              format="json")
    assert delisted.status_code == 200 and delisted.json()["status"] == "delisted"
    assert_entry(delisted.json(), "catalog.product.delisted", actor=reviewer)
    assert authority.post(f"{D}DP-DRAFT/delist/", {"reason": "x"},
                          format="json").status_code == 409


# --- certificates --------------------------------------------------------------------------


def certificate(kind: str = "certification", content: bytes = b"%PDF-1.7 report") -> dict:
    return {"kind": kind, "document": sample("report.pdf", content), "summary": "合规"}


def test_a_third_party_certifies_a_product(api: Api) -> None:
    response = api.as_("certifier").post(f"{D}DP-LISTED/certificates/", certificate(),
                                         format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["digest"] == sm3_hex(b"%PDF-1.7 report")
    assert body["issuer"] == api.world.code("certifier") and body["document_name"] == \
        "report.pdf"
    entry = assert_entry(body, "catalog.certificate.issued", actor=api.world.code("certifier"))
    assert entry.subject == "catalog/product/DP-LISTED"
    listed = api.anon.get(f"{D}DP-LISTED/certificates/").json()["results"]
    assert [c["id"] for c in listed] == [body["id"]]
    assert api.anon.get(f"{D}DP-LISTED/certificates/?kind=valuation").json()["count"] == 0
    assert api.anon.get(f"{D}DP-LISTED/certificates/?kind=x").status_code == 400


def test_a_submitted_product_can_be_certified_before_listing(api: Api) -> None:
    response = api.as_("certifier").post(f"{D}DP-SUBMITTED/certificates/", certificate(),
                                         format="multipart")
    assert response.status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "certification"}, "document"),
    ({"kind": "blessing", "document": b"x"}, "kind"),
    ({"kind": "certification", "document": b""}, "document"),
    ({"kind": "certification", "document": b"x", "summary": "s" * 2001}, "summary"),
])
def test_certificate_errors(api: Api, body: dict[str, Any], field: str) -> None:
    if "document" in body:
        body = {**body, "document": sample("d.pdf", body["document"])}
    before = entries()
    response = api.as_("certifier").post(f"{D}DP-LISTED/certificates/", body,
                                         format="multipart")
    assert response.status_code == 400, response.json()
    assert field in error_fields(response)
    assert entries() == before


# --- the permission matrix -----------------------------------------------------------------

ROLES = ["authority", "authority_staff", "regulator", "auditor", "provider", "provider_staff",
         "provider_b", "operator", "merchant", "applicant", "certifier", "valuer", "outsider",
         None]


def _sample() -> dict[str, Any]:
    return {"sample": sample("s.csv", b"uscc\n1\n")}


MATRIX: dict[str, tuple[str, Any, str, dict[str | None, int]]] = {
    # action: (path, body, format, expected by role; missing: 403, None: 401)
    "publish draft": (f"{R}RS-DRAFT/publish/", None, "json",
                      {"provider": 200, "provider_staff": 200, "provider_b": 404,
                       "operator": 404, "merchant": 404, "applicant": 404, "certifier": 404,
                       "valuer": 404, "outsider": 404}),
    "revise published": (f"{R}RS-OPEN/revise/", {"name": "新名"}, "json",
                         {"provider": 200, "provider_staff": 200}),
    "withdraw conditional": (f"{R}RS-COND/withdraw/", {"reason": "x"}, "json",
                             {"provider": 200, "provider_staff": 200, "applicant": 404,
                              "outsider": 403}),
    "add quality rule": (f"{R}RS-OPEN/quality/rules/",
                         {"item": "capital", "check": "not_null"}, "json",
                         {"provider": 201, "provider_staff": 201}),
    "run quality check": (f"{R}RS-OPEN/quality/checks/", _sample, "multipart",
                          {"provider": 201, "provider_staff": 201}),
    "create product": (D, {"code": "DP-M", "name": "x", "resources": ["RS-OPEN"],
                           "price": "1"}, "json",
                       {"operator": 201, "merchant": 400}),
    "submit draft product": (f"{D}DP-DRAFT/submit/", None, "json",
                             {"operator": 200, "provider": 404, "provider_staff": 404,
                              "provider_b": 404, "merchant": 404, "applicant": 404,
                              "certifier": 404, "valuer": 404, "outsider": 404}),
    "list submitted product": (f"{D}DP-SUBMITTED/list/", {"reason": "试点"}, "json",
                               {"authority": 200, "provider": 404, "provider_staff": 404,
                                "provider_b": 404, "merchant": 404, "applicant": 404,
                                "outsider": 404}),
    "delist listed product": (f"{D}DP-LISTED/delist/", {"reason": "x"}, "json",
                              {"authority": 200}),
    "certify listed product": (f"{D}DP-LISTED/certificates/",
                               lambda: certificate("certification"), "multipart",
                               {"certifier": 201}),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(MATRIX))
def test_permission_matrix(api: Api, action: str, role: str | None) -> None:
    path, body, fmt, expected = MATRIX[action]
    status = expected.get(role, 401 if role is None else 403)
    if callable(body):
        body = body()
    before = entries()
    response = api.as_(role).post(path, body, format=fmt)
    assert response.status_code == status, (response.json(), status)
    if status >= 400:
        error_fields(response)
        assert entries() == before
    elif action not in ("add quality rule", "create product"):
        assert entries() > before
        assert response.json()["entry"]["seq"] == before


def test_world_is_untouched_between_tests(w: World) -> None:
    assert DataResource.objects.get(code="RS-DRAFT").status == "draft"
    assert DataProduct.objects.get(code="DP-DRAFT").status == "draft"

"""The same bad input gets the same clear error through the portal and the API: quality
rules (patterns through RE2, bounds, values, thresholds, the number of rules), upload
sizes and money. The services decide; the portal shows the reason on its form, the API
answers 400 naming the field. A pathological pattern cannot make a request slow."""

from __future__ import annotations

import html
import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog import rules
from catalog.models import QualityRule
from catalog.quality import MAX_SAMPLE
from contracts.products import MAX_CERTIFICATE
from tests.api.conftest import Api, World, resource

RULES = "/catalogue/resources/RS-OPEN/quality/"
API_RULES = "/api/v1/catalog/resources/RS-OPEN/quality/rules/"
API_CHECKS = "/api/v1/catalog/resources/RS-OPEN/quality/checks/"


def portal(w: World, role: str) -> Client:
    c = Client()
    c.cookies["django_language"] = "en"
    c.force_login(w.user(role))
    return c


def page_text(response: Any) -> str:
    return html.unescape(response.content.decode())


def api_error(response: Any) -> tuple[str, str]:
    assert response.status_code == 400, response.content
    ((field, reasons),) = response.json()["error"]["fields"].items()
    return field, reasons[0]


# The parameters as the JSON text the API receives, and the fields of the portal's form for
# that rule type (None: the portal's forms cannot even express it).
RULE_CASES = [
    ("pattern", '{"pattern": "("}', {"pattern": "("}, 100, "parameters.pattern",
     "missing )"),
    ("pattern", '{"pattern": "(a)\\\\1"}', {"pattern": "(a)\\1"}, 100,
     "parameters.pattern", "RE2"),
    ("pattern", '{"pattern": "%s"}' % ("x" * 501), {"pattern": "x" * 501}, 100,
     "parameters.pattern", "longer than 500"),
    ("pattern", '{"pattern": ""}', {"pattern": ""}, 100, "parameters.pattern",
     "non-empty regular expression"),
    ("range", '{"min": 1e999}', None, 100, "parameters.min", "finite"),
    ("range", '{"min": 5, "max": 1}', {"min": "5", "max": "1"}, 100, "parameters.max",
     "below the minimum"),
    ("range", '{}', {}, 100, "parameters", "needs min / max"),
    ("enumeration", '{"values": []}', {"values": ""}, 100, "parameters.values",
     "non-empty"),
    ("not_null", '{"pattern": "x"}', None, 100, "parameters.pattern", "does not apply"),
    ("telepathy", '{}', None, 100, "check", "must be one of"),
    ("not_null", '{}', {}, 0, "threshold", "percentage"),
]


@pytest.mark.parametrize(("check", "parameters", "fields", "threshold", "field", "reason"),
                         RULE_CASES)
def test_a_bad_quality_rule_gets_the_same_error_from_the_portal_and_the_api(
        api: Api, check: str, parameters: str, fields: dict[str, str] | None, threshold: int,
        field: str, reason: str) -> None:
    """A meaningless rule (a pattern rule with no pattern, a range with no bound) is
    refused by both, with catalog.rules' own words."""
    before = QualityRule.objects.count()
    body = (f'{{"item": "uscc", "check": "{check}", "parameters": {parameters}, '
            f'"threshold": {threshold}}}')
    got_field, got_reason = api_error(api.as_("provider").post(
        API_RULES, body, content_type="application/json"))
    assert got_field == field and reason in got_reason
    if fields is not None:
        response = portal(api.world, "provider").post(RULES, {
            "form": "rule", "check": check, f"{check}-item": "uscc",
            f"{check}-threshold": threshold, **{f"{check}-{k}": v for k, v in fields.items()}})
        text = page_text(response)
        assert response.status_code == 200
        assert got_reason in text
    assert QualityRule.objects.count() == before


def test_a_resource_holds_a_bounded_number_of_rules(api: Api) -> None:
    open_one = resource("RS-OPEN")
    item = open_one.items.get(name="uscc")
    present = QualityRule.objects.filter(item__resource=open_one).count()
    QualityRule.objects.bulk_create(QualityRule(item=item, rule="not_null")
                                    for _ in range(rules.MAX_RULES - present))
    field, reason = api_error(api.as_("provider").post(
        API_RULES, {"item": "uscc", "check": "not_null"}, format="json"))
    assert field == "rules" and str(rules.MAX_RULES) in reason
    text = page_text(portal(api.world, "provider").post(
        RULES, {"form": "rule", "check": "not_null", "not_null-item": "uscc",
                "not_null-threshold": 100}))
    assert reason in text


def test_a_pathological_pattern_never_makes_a_slow_request(api: Api) -> None:
    """``(a+)+b`` over 26-character values backtracks for seconds in Python's re; with RE2
    each request stays under a second (bounded: a regression fails, it cannot hang)."""
    created = api.as_("provider").post(API_RULES, {
        "item": "uscc", "check": "pattern", "parameters": {"pattern": "(a+)+b"}},
        format="json")
    assert created.status_code == 201
    rows = "".join(f"{'a' * 26}c,x,1\n" for _ in range(20)).encode()
    sample = b"uscc,legal_person,capital\n" + rows
    started = time.monotonic()
    response = api.as_("provider").post(
        API_CHECKS, {"sample": SimpleUploadedFile("s.csv", sample)}, format="multipart")
    assert response.status_code == 201 and time.monotonic() - started < 1.0
    assert any(r["check"] == "pattern" and r["rows_passed"] == 0
               for r in response.json()["results"])
    started = time.monotonic()
    page = portal(api.world, "provider").post(RULES, {
        "form": "sample", "sample": SimpleUploadedFile("s.csv", sample)})
    assert page.status_code == 302 and time.monotonic() - started < 1.0


def test_an_oversized_sample_is_refused_the_same_way(api: Api) -> None:
    big = b"uscc\n" + b"x" * MAX_SAMPLE
    field, reason = api_error(api.as_("provider").post(
        API_CHECKS, {"sample": SimpleUploadedFile("big.csv", big)}, format="multipart"))
    assert (field, reason) == ("sample", "is larger than 20 MiB")
    text = page_text(portal(api.world, "provider").post(RULES, {
        "form": "sample", "sample": SimpleUploadedFile("big.csv", big)}))
    assert reason in text


def test_an_oversized_certificate_is_refused_the_same_way(api: Api) -> None:
    big = b"x" * (MAX_CERTIFICATE + 1)
    field, reason = api_error(api.as_("certifier").post(
        "/api/v1/catalog/products/DP-LISTED/certificates/",
        {"kind": "certification", "document": SimpleUploadedFile("c.pdf", big)},
        format="multipart"))
    assert (field, reason) == ("document", "is larger than 20 MiB")
    text = page_text(portal(api.world, "certifier").post(
        "/catalogue/market/DP-LISTED/", {"document": SimpleUploadedFile("c.pdf", big)}))
    assert reason in text


MONEY = [
    ("Infinity", "must be a finite decimal amount"),
    ("NaN", "must be a finite decimal amount"),
    ("12.345", "more than two decimals"),
    ("-1", ">= 0"),
    ("1e3", "must be a finite decimal amount"),
    ("1234567890123", "more than 12 digits"),
]


@pytest.mark.parametrize(("price", "reason"), MONEY)
def test_a_bad_price_gets_the_same_error_from_the_portal_and_the_api(
        api: Api, price: str, reason: str) -> None:
    body = {"code": "DP-BAD", "name": "坏价格", "resources": ["RS-COND"], "price": price}
    field, got = api_error(api.as_("operator").post("/api/v1/catalog/products/", body,
                                                    format="json"))
    assert field == "price" and reason in got
    text = page_text(portal(api.world, "operator").post("/catalogue/market/new/", {
        **body, "currency": "CNY"}))
    assert got in text


def test_a_price_given_as_a_float_is_refused(api: Api) -> None:
    field, reason = api_error(api.as_("operator").post("/api/v1/catalog/products/", {
        "code": "DP-FLOAT", "name": "浮点", "resources": ["RS-COND"], "price": 12.5},
        format="json"))
    assert field == "price" and "not a float" in reason


def test_unknown_fields_are_named(api: Api) -> None:
    response = api.as_("operator").post("/api/v1/catalog/products/", {
        "code": "DP-X", "name": "x", "resources": ["RS-COND"], "price": "1", "colour": "red",
        "owner": "someone"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"colour": ["unknown field"],
                                                   "owner": ["unknown field"]}
    chinese = api.as_("operator", "zh-hans").post("/api/v1/catalog/products/", {
        "code": "DP-X", "name": "x", "resources": ["RS-COND"], "price": "1", "colour": "red"},
        format="json")
    assert chinese.json()["error"]["fields"] == {"colour": ["未知字段"]}


def test_permission_comes_before_validation(api: Api) -> None:
    """Someone who may not create a resource is told so, not what the body lacks."""
    for role in ("outsider", "merchant", "regulator"):
        response = api.as_(role).post("/api/v1/catalog/resources/", {}, format="json")
        assert response.status_code == 403, role
    response = api.as_("merchant").post(API_RULES, {"check": 1}, format="json")
    assert response.status_code == 403


def test_an_oversized_delivery_is_refused_the_same_way(api: Api) -> None:
    from contracts.deliveries import MAX_DELIVERY
    from contracts.models import Grant

    grant = Grant.objects.get(resource__code="RS-OPEN")
    big = b"x" * (MAX_DELIVERY + 1)
    field, reason = api_error(api.as_("provider").post(
        f"/api/v1/grants/{grant.pk}/deliveries/",
        {"file": SimpleUploadedFile("d.csv", big), "rows": 1,
         "desensitisation": '{"uscc": "none"}'}, format="multipart"))
    assert (field, reason) == ("data", "is larger than 50 MiB")
    text = page_text(portal(api.world, "provider").post(f"/workflows/grants/{grant.pk}/", {
        "rows": 1, "data": SimpleUploadedFile("d.csv", big), "rule_uscc": "none",
        "rule_legal_person": "mask", "rule_capital": "none"}))
    assert reason in text

"""Data products and listing (挂牌): every (state, action) pair of the product state machine,
the input checks, grants as a precondition, and third-party certificates."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Certificate, DataProduct, DataResource, ProductStatus
from contracts import products
from contracts.models import Grant
from contracts.products import PRODUCT
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger import services as ledger
from operators.models import Kind, Participant, Role
from tests.catalog import category_tree, grant, resource, rolled_back
from tests.operators import authority, company, department, ledger_size, member, one_entry

pytestmark = pytest.mark.django_db

S = ProductStatus
ACTIONS = ["submit", "list", "reject", "delist"]
ALLOWED = {
    (S.DRAFT, "submit"): S.SUBMITTED,
    (S.REJECTED, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "list"): S.LISTED,
    (S.SUBMITTED, "reject"): S.REJECTED,
    (S.LISTED, "delist"): S.DELISTED,
}
PATH = {
    S.DRAFT: [], S.SUBMITTED: ["submit"], S.LISTED: ["submit", "list"],
    S.REJECTED: ["submit", "reject"], S.DELISTED: ["submit", "list", "delist"],
}
SERVICES = ["certification", "notarisation", "valuation"]


def build() -> dict[str, object]:
    ledger.ensure_ledger_key()
    body, reviewer = authority()
    provider = department(Kind.PROVIDER, "自然资源和规划局", by=body)
    admin = member(provider, "nr-admin")
    tree = category_tree()
    land = resource(admin, "NR-LAND", tree["B02"], name="土地利用现状")
    roads = resource(admin, "NR-ROADS", tree["B02"], name="道路中心线", opening="conditional")
    operator = company(Kind.OPERATOR, reviewer=reviewer, name="数字福州运营公司")
    member(operator, "op-admin")
    grant(operator, land)
    grant(operator, roads)
    merchant = company(Kind.MERCHANT, reviewer=reviewer, merchant_type="application")
    member(merchant, "merchant-admin")
    for service in SERVICES:
        member(company(Kind.THIRD_PARTY, reviewer=reviewer, service_type=service),
               f"{service}-admin")
    return {"authority": body.code, "operator": operator.code}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def person(username: str):
    return get_user_model().objects.get(username=username)


def reviewer():
    return Participant.objects.get(kind=Kind.AUTHORITY).memberships.get(
        role=Role.REVIEWER).user


def product(state: str = S.DRAFT, code: str = "PR-1") -> DataProduct:
    """A product of the operator on NR-LAND, taken to ``state`` through the services."""
    made = products.create_product(by=person("op-admin"), code=code, name="土地画像",
                                   resources=[DataResource.objects.get(code="NR-LAND")],
                                   price="1200.5", description="按区县统计")
    for step in PATH[S(state)]:
        made = act(made, step, reason="审核意见")
    return made


def act(target: DataProduct, action: str, reason: str = "") -> DataProduct:
    if action == "submit":
        return products.submit_product(by=person("op-admin"), product=target)
    return products.review_product(by=reviewer(), product=target, action=action,
                                   reason=reason)


def row(target: DataProduct) -> dict:
    return DataProduct.objects.filter(pk=target.pk).values().get()


def test_the_table_is_the_documented_machine():
    assert PRODUCT.table() == ALLOWED
    assert PRODUCT.states() == set(S.values)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(S.values, ACTIONS)))
def test_every_state_and_action(world, state, action):
    target = product(state)
    before, size = row(target), ledger_size()
    expected = ALLOWED.get((state, action))
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            act(target, action, reason="理由")
        assert f"'{state}'" in str(info.value) and f"'{action}'" in str(info.value)
        assert row(target) == before and ledger_size() == size
        return
    done = act(target, action, reason="理由")
    assert done.status == expected == row(target)["status"]
    past = {"submit": "submitted", "list": "listed", "reject": "rejected",
            "delist": "delisted"}[action]
    actor = world["operator"] if action == "submit" else world["authority"]
    payload = one_entry(size, kind=f"catalog.product.{past}", actor=actor,
                        subject=f"catalog/product/{target.code}")
    assert payload["product"] == target.code and payload["owner"] == world["operator"]
    assert payload["price"] == "1200.50" and payload["currency"] == "CNY"
    assert payload["resources"] == ["NR-LAND"] and payload["status"] == expected


def test_resubmitting_after_rejection_clears_the_reason(world):
    target = product(S.REJECTED)
    assert target.review_reason == "审核意见"
    assert act(target, "submit").review_reason == ""


@pytest.mark.parametrize(("state", "action"), [(S.SUBMITTED, "reject"), (S.LISTED, "delist")])
def test_rejecting_and_delisting_need_a_reason(world, state, action):
    target = product(state)
    before, size = row(target), ledger_size()
    with pytest.raises(InvalidInput) as info:
        act(target, action, reason=" ")
    assert info.value.field == "reason" and row(target) == before and ledger_size() == size


def test_an_unknown_review_action_is_refused(world):
    target = product(S.SUBMITTED)
    with pytest.raises(InvalidInput) as info:
        act(target, "approve")
    assert info.value.field == "action"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": " "}, "code"),
        ({"code": "PR-1"}, "code"),
        ({"name": ""}, "name"),
        ({"resources": []}, "resources"),
        ({"price": "abc"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": "1.005"}, "price"),
        ({"currency": "rmb"}, "currency"),
    ],
)
def test_product_input_is_checked(world, changes, field):
    product(S.DRAFT)
    arguments = {"by": person("op-admin"), "code": "PR-2", "name": "产品",
                 "resources": [DataResource.objects.get(code="NR-LAND")], "price": "10"}
    arguments.update(changes)
    count, size = DataProduct.objects.count(), ledger_size()
    with pytest.raises(InvalidInput) as info:
        products.create_product(**arguments)
    assert info.value.field == field
    assert DataProduct.objects.count() == count and ledger_size() == size


def test_price_is_kept_to_the_cent(world):
    assert product().price == Decimal("1200.50")


def test_a_product_needs_a_grant_on_every_resource(world):
    roads = DataResource.objects.get(code="NR-ROADS")
    merchant = person("merchant-admin")
    with pytest.raises(InvalidInput, match="holds no valid grant for NR-ROADS"):
        products.create_product(by=merchant, code="PR-M", name="道路产品", resources=[roads],
                                price="1")
    grant(Participant.objects.get(memberships__user=merchant), roads)
    made = products.create_product(by=merchant, code="PR-M", name="道路产品",
                                   resources=[roads], price="1")
    assert made.owner.kind == Kind.MERCHANT


@pytest.mark.parametrize("end", ["revoked", "expired"])
def test_submitting_needs_the_grant_to_be_valid_still(world, end):
    target = product()
    granted = Grant.objects.get(grantee__code=world["operator"], resource__code="NR-LAND")
    if end == "revoked":
        granted.state = Grant.State.REVOKED
    else:
        granted.valid_until = datetime.now(UTC) - timedelta(seconds=1)
    granted.save()
    before, size = row(target), ledger_size()
    with pytest.raises(InvalidInput, match="no valid grant for NR-LAND"):
        act(target, "submit")
    assert row(target) == before and ledger_size() == size


@pytest.mark.parametrize("service", SERVICES)
def test_each_third_party_attaches_its_own_kind(world, service):
    target = product(S.SUBMITTED)
    issuer = Participant.objects.get(kind=Kind.THIRD_PARTY, service_type=service)
    document = f"{service} report for PR-1".encode()
    size = ledger_size()
    certificate = products.attach_certificate(by=person(f"{service}-admin"), product=target,
                                              kind=service, document_name="report.pdf",
                                              document=document, summary="合格")
    payload = one_entry(size, kind="catalog.certificate.issued", actor=issuer.code,
                        subject="catalog/product/PR-1")
    assert payload == {"product": "PR-1", "kind": service, "document": "report.pdf",
                       "document_sm3": sm3_hex(document), "summary": "合格"}
    assert certificate.digest == sm3_hex(document) and certificate.entry_seq == size


@pytest.mark.parametrize(
    ("service", "changes", "error", "field"),
    [
        ("notarisation", {"kind": "certification"}, NotPermitted, None),
        ("certification", {"kind": "audit"}, InvalidInput, "kind"),
        ("certification", {"document": b""}, InvalidInput, "document"),
        ("certification", {"document_name": " "}, InvalidInput, "document_name"),
    ],
)
def test_bad_certificates_are_refused(world, service, changes, error, field):
    target = product(S.LISTED)
    arguments = {"by": person(f"{service}-admin"), "product": target, "kind": service,
                 "document_name": "r.pdf", "document": b"report"}
    arguments.update(changes)
    count, size = Certificate.objects.count(), ledger_size()
    with pytest.raises(error) as info:
        products.attach_certificate(**arguments)
    if field:
        assert info.value.field == field
    assert Certificate.objects.count() == count and ledger_size() == size


def test_an_uncertified_product_is_listed_only_with_the_reason_why(world):
    target = product(S.SUBMITTED, code="PR-UNCERT")
    size = ledger_size()
    with pytest.raises(InvalidInput) as refused:
        products.review_product(by=reviewer(), product=target, action="list")
    assert refused.value.field == "reason" and "compliance certificate" in refused.value.reason
    assert ledger_size() == size and row(target)["status"] == S.SUBMITTED
    listed = products.review_product(by=reviewer(), product=target, action="list",
                                     reason="试点产品，合规认证在办")
    assert listed.status == S.LISTED and listed.review_reason == "试点产品，合规认证在办"


def test_a_certified_product_is_listed_without_a_reason(world):
    target = product(S.SUBMITTED, code="PR-CERT")
    products.attach_certificate(by=person("certification-admin"), product=target,
                                kind="certification", document_name="报告.pdf",
                                document=b"report")
    assert products.review_product(by=reviewer(), product=target,
                                   action="list").status == S.LISTED

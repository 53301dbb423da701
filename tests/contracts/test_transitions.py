"""Every (state, action, role) of every workflow state machine.

Each state is reached through the services. An allowed combination succeeds and appends
exactly one entry, of the right kind, whose actor is the acting participant (or the
platform) and whose key belongs to that actor. A denied one raises NotPermitted (the role
may never do this here) or IllegalTransition (the role may, the state does not allow it),
and writes nothing: no row changes, no entry.

In every cell, ``available_actions`` agrees with the service: the action is listed exactly
when the service does it; the portal's detail page shows its button and the API's detail
lists it exactly then too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client
from guardian.models import GroupObjectPermission

from contracts import agreements, grants, objections, orders, sharing
from contracts.calendar import end_of_day
from contracts.models import (
    Delivery,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from kernel.errors import IllegalTransition, NotPermitted
from ledger import services as ledger
from policy.actions import available_actions
from tests.contracts import world as w

pytestmark = pytest.mark.django_db
OK = "ok"
Builder = Callable[[w.World, str], Model]
# What a refused action must leave as it was, besides the object's own row and the ledger.
WATCHED: tuple[tuple[type[Model], tuple[str, ...]], ...] = (
    (SharingRequest, ("pk", "state", "escalated_at")),
    (OperationAgreement, ("pk", "state", "authority_signed_seq", "operator_signed_seq")),
    (Grant, ("pk", "state")),
    (Delivery, ("pk",)),
    (Objection, ("pk", "state", "appealed")),
    (Order, ("pk", "state", "notarised_seq")),
    (GroupObjectPermission, ("pk", "group_id", "object_pk")),
)


@dataclass(frozen=True)
class Case:
    state: str
    action: str
    role: str
    expected: Any  # OK or an exception class


def table(states: list[str], actions: list[str], roles: list[str],
          permitted: Callable[[str, str, str], bool],
          allowed: Callable[[str, str, str], bool]) -> list[Any]:
    cases = []
    for state in states:
        for action in actions:
            for role in roles:
                if not permitted(state, action, role):
                    expected: Any = NotPermitted
                elif not allowed(state, action, role):
                    expected = IllegalTransition
                else:
                    expected = OK
                name = f"{state}-{action}-{role}-{getattr(expected, '__name__', expected)}"
                cases.append(pytest.param(Case(state, action, role, expected), id=name))
    return cases


@pytest.fixture(scope="module")
def built(world: w.World, django_db_blocker: Any) -> dict[tuple[str, str], Model]:
    """Every state of every machine, reached once through the services and committed;
    each test acts on a fresh copy of one and is rolled back."""
    plans: list[tuple[str, Builder, list[str]]] = [
        ("sharing", sharing_request, SHARING_STATES),
        ("agreement", agreement, AGREEMENT_STATES),
        ("grant", agreement_grant, GRANT_STATES),
        ("objection", objection, OBJECTION_STATES),
        ("order", order, ORDER_STATES),
    ]
    with django_db_blocker.unblock():
        return {(machine, state): make(world, state)
                for machine, make, states in plans for state in states}


def fresh(built: dict[tuple[str, str], Model], machine: str, state: str) -> Any:
    obj = built[(machine, state)]
    return type(obj).objects.get(pk=obj.pk)


def everything(obj: Model) -> tuple[Any, ...]:
    rows = tuple(tuple(m.objects.order_by("pk").values_list(*fields)) for m, fields in WATCHED)
    return (w.last_seq(), type(obj).objects.filter(pk=obj.pk).values().first(), rows)


PAGES = {SharingRequest: ("/workflows/requests/{pk}/", "/api/v1/sharing-requests/{pk}/"),
         OperationAgreement: ("/workflows/agreements/{code}/", "/api/v1/agreements/{code}/"),
         Grant: ("/workflows/grants/{pk}/", "/api/v1/grants/{pk}/"),
         Objection: ("/workflows/objections/{pk}/", "/api/v1/objections/{pk}/"),
         Order: ("/workflows/orders/{code}/", "/api/v1/orders/{code}/")}


def offered(by: Any, obj: Model, action: str) -> tuple[bool, bool, bool]:
    """Is ``action`` listed by available_actions, shown as a button on the portal page, and
    listed by the API's detail?"""
    listed = action in available_actions(by, obj)
    page, api = (url.format(pk=obj.pk, code=getattr(obj, "code", "")) for url in
                 PAGES[type(obj)])
    client = Client()
    client.force_login(by)
    html = client.get(page).content.decode()
    detail = client.get(api)
    shown = f'name="action" value="{action}"' in html
    in_api = detail.status_code == 200 and action in detail.json()["actions"]
    return listed, shown, in_api


def check(case: Case, obj: Model, act: Callable[[], Any], actor: str, kind: str,
          by: Any) -> None:
    expected = case.expected is OK
    assert offered(by, obj, case.action) == (expected, expected, expected)
    seq = w.last_seq()
    if case.expected is OK:
        act()
        written = w.entries_after(seq)
        assert [e.kind for e in written] == [kind]
        assert written[0].actor == actor
        assert w.signer_of(written[0]) == actor
    else:
        before = everything(obj)
        with pytest.raises(case.expected):
            act()
        assert everything(obj) == before


# --- sharing requests -----------------------------------------------------------------------

SHARING_STATES = ["pending", "escalated", "approved", "refused", "withdrawn"]
SHARING_ROLES = ["requester", "provider", "authority", "stranger"]


def sharing_permitted(state: str, action: str, role: str) -> bool:
    if action == "withdraw":
        return role == "requester"
    return role == "provider" or (role == "authority" and state == "escalated")


def sharing_request(world: w.World, state: str) -> SharingRequest:
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, items=["licence_no"],
        purpose="市场主体核验", scenario="政务服务", legal_basis="《条例》第十条",
        period_from=w.today(), period_until=w.today() + timedelta(days=90))
    if state == "escalated":
        sharing.escalate_request(request=request, at=request.due + timedelta(seconds=1))
    elif state == "approved":
        sharing.approve_request(by=world.provider_user, request=request)
    elif state == "refused":
        sharing.refuse_request(by=world.provider_user, request=request, reason="不符合")
    elif state == "withdrawn":
        sharing.withdraw_request(by=world.operator_user, request=request)
    return SharingRequest.objects.get(pk=request.pk)


def users(world: w.World) -> dict[str, User]:
    return {
        "requester": world.operator_user, "provider": world.provider_user,
        "authority": world.authority_user, "authority_staff": world.authority_staff,
        "operator": world.operator_user, "stranger": world.merchant_user,
        "grantee": world.operator_user, "filer": world.subject_user,
        "buyer": world.merchant_user, "seller": world.operator_user,
        "notary": world.notary_user,
    }


def codes(world: w.World) -> dict[str, str]:
    return {
        "requester": world.operator.code, "provider": world.provider.code,
        "authority": world.authority.code, "operator": world.operator.code,
        "filer": ledger.origin(), "buyer": world.merchant.code,
        "seller": world.operator.code, "notary": world.notary.code,
    }


@pytest.mark.parametrize("case", table(
    SHARING_STATES, ["approve", "refuse", "withdraw"], SHARING_ROLES, sharing_permitted,
    lambda state, action, role: state in ("pending", "escalated")))
def test_sharing_request(world: w.World, built: Any, case: Case) -> None:
    request = fresh(built, "sharing", case.state)
    by = users(world)[case.role]
    act = {
        "approve": lambda: sharing.approve_request(by=by, request=request, conditions="脱敏"),
        "refuse": lambda: sharing.refuse_request(by=by, request=request, reason="依据不足"),
        "withdraw": lambda: sharing.withdraw_request(by=by, request=request),
    }[case.action]
    past = {"approve": "approved", "refuse": "refused", "withdraw": "withdrawn"}[case.action]
    check(case, request, act, codes(world).get(case.role, ""), f"contracts.sharing.{past}",
          by)
    if case.expected is OK:
        request.refresh_from_db()
        assert request.state == past
        assert Grant.objects.filter(sharing_request=request).exists() == (past == "approved")


# --- authorised-operation agreements --------------------------------------------------------

AGREEMENT_STATES = ["draft", "authority_signed", "operator_signed", "effective", "suspended",
                    "terminated", "expired"]
AGREEMENT_ROLES = ["authority", "authority_staff", "operator", "stranger"]


def agreement_permitted(state: str, action: str, role: str) -> bool:
    return role in ("authority", "operator") if action == "sign" else role == "authority"


def agreement_allowed(state: str, action: str, role: str) -> bool:
    if action == "sign":
        return state == "draft" or (state, role) in {("authority_signed", "operator"),
                                                     ("operator_signed", "authority")}
    return {
        "suspend": state == "effective",
        "resume": state == "suspended",
        "terminate": state in ("draft", "authority_signed", "operator_signed", "effective",
                               "suspended"),
    }[action]


def agreement(world: w.World, state: str) -> OperationAgreement:
    last_day = w.today() if state == "expired" else w.today() + timedelta(days=365)
    made = agreements.create_agreement(
        by=world.authority_user, operator=world.operator, resources=[world.conditional],
        scenarios="金融风控", security_obligations="等保三级",
        desensitisation_rules="姓名掩码", term_start=w.today(), term_end=last_day)
    if state in ("authority_signed", "effective", "suspended", "terminated", "expired"):
        agreements.sign_agreement(by=world.authority_user, agreement=made)
    if state in ("operator_signed", "effective", "suspended", "terminated", "expired"):
        agreements.sign_agreement(by=world.operator_user, agreement=made)
    if state == "suspended":
        agreements.suspend_agreement(by=world.authority_user, agreement=made, reason="整改")
    elif state == "terminated":
        agreements.terminate_agreement(by=world.authority_user, agreement=made, reason="违约")
    elif state == "expired":
        agreements.expire_agreement(agreement=made,
                                    at=end_of_day(last_day) + timedelta(seconds=1))
    made.refresh_from_db()
    assert made.state == {"authority_signed": "draft", "operator_signed": "draft"}.get(
        state, state)
    return made


@pytest.mark.parametrize("case", table(
    AGREEMENT_STATES, ["sign", "suspend", "resume", "terminate"], AGREEMENT_ROLES,
    agreement_permitted, agreement_allowed))
def test_agreement(world: w.World, built: Any, case: Case) -> None:
    made = fresh(built, "agreement", case.state)
    by = users(world)[case.role]
    act = {
        "sign": lambda: agreements.sign_agreement(by=by, agreement=made),
        "suspend": lambda: agreements.suspend_agreement(by=by, agreement=made, reason="整改"),
        "resume": lambda: agreements.resume_agreement(by=by, agreement=made),
        "terminate": lambda: agreements.terminate_agreement(by=by, agreement=made,
                                                            reason="违约"),
    }[case.action]
    past = {"sign": "signed", "suspend": "suspended", "resume": "resumed",
            "terminate": "terminated"}[case.action]
    check(case, made, act, codes(world).get(case.role, ""), f"contracts.agreement.{past}", by)


# --- grants -----------------------------------------------------------------------------------

GRANT_STATES = ["active", "suspended", "revoked", "expired"]
GRANT_ROLES = ["provider", "authority", "grantee", "stranger"]


def agreement_grant(world: w.World, state: str) -> Grant:
    made = agreement(world, "suspended" if state == "suspended" else "effective")
    grant = Grant.objects.get(agreement=made)
    if state == "revoked":
        grants.revoke_grant(by=world.provider_user, grant=grant, reason="滥用")
    elif state == "expired":
        grants.expire_grant(grant=grant, at=grant.valid_until + timedelta(seconds=1))
    grant.refresh_from_db()
    assert grant.state == state
    return grant


@pytest.mark.parametrize("case", table(
    GRANT_STATES, ["revoke"], GRANT_ROLES,
    lambda state, action, role: role in ("provider", "authority"),
    lambda state, action, role: state in ("active", "suspended")))
def test_grant(world: w.World, built: Any, case: Case) -> None:
    grant = fresh(built, "grant", case.state)
    by = users(world)[case.role]
    check(case, grant, lambda: grants.revoke_grant(by=by, grant=grant, reason="滥用"),
          codes(world).get(case.role, ""), "contracts.grant.revoked", by)


# --- objections -------------------------------------------------------------------------------

OBJECTION_STATES = ["filed", "escalated", "accepted", "verifying", "not_accepted",
                    "corrected", "upheld", "dismissed", "appealed", "closed"]
OBJECTION_ACTIONS = ["accept", "not_accept", "start_verification", "correct", "uphold",
                     "dismiss", "appeal", "close"]
OBJECTION_ROLES = ["filer", "provider", "authority", "stranger"]
PROVIDER_STEPS = {"accept", "not_accept", "start_verification", "correct", "uphold",
                  "dismiss"}


def objection_permitted(state: str, action: str, role: str) -> bool:
    if action in PROVIDER_STEPS:
        return role == "provider" or (role == "authority" and state == "escalated")
    return role == ("filer" if action == "appeal" else "authority")


def objection_allowed(state: str, action: str, role: str) -> bool:
    source = "filed" if state == "escalated" else state
    return objections.OBJECTION.table().get((source, action)) is not None


def objection(world: w.World, state: str) -> Objection:
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description="我的姓名有误")
    provider = world.provider_user
    path = {
        "escalated": [], "accepted": ["accept"], "verifying": ["accept", "verify"],
        "not_accepted": ["not_accept"], "corrected": ["accept", "verify", "correct"],
        "upheld": ["accept", "verify", "uphold"], "dismissed": ["accept", "verify", "dismiss"],
        "appealed": ["accept", "verify", "uphold", "appeal"],
        "closed": ["accept", "verify", "uphold", "appeal", "close"], "filed": [],
    }[state]
    steps = {
        "accept": lambda: objections.accept_objection(by=provider, objection=filed),
        "not_accept": lambda: objections.reject_objection(by=provider, objection=filed,
                                                          reason="不属于本部门"),
        "verify": lambda: objections.start_verification(by=provider, objection=filed),
        "correct": lambda: objections.correct_objection(by=provider, objection=filed,
                                                        correction="已更正姓名"),
        "uphold": lambda: objections.uphold_objection(by=provider, objection=filed,
                                                      reason="核实无误"),
        "dismiss": lambda: objections.dismiss_objection(by=provider, objection=filed,
                                                        reason="无事实依据"),
        "appeal": lambda: objections.appeal_objection(by=world.subject_user,
                                                      objection=filed, reason="不服"),
        "close": lambda: objections.close_objection(by=world.authority_user,
                                                    objection=filed, outcome="维持"),
    }
    for step in path:
        steps[step]()
    if state == "escalated":
        objections.escalate_objection(objection=filed,
                                      at=filed.accept_due + timedelta(seconds=1))
    filed.refresh_from_db()
    assert filed.state == ("filed" if state == "escalated" else state)
    return filed


@pytest.mark.parametrize("case", table(OBJECTION_STATES, OBJECTION_ACTIONS, OBJECTION_ROLES,
                                       objection_permitted, objection_allowed))
def test_objection(world: w.World, built: Any, case: Case) -> None:
    filed = fresh(built, "objection", case.state)
    by = users(world)[case.role]
    act = {
        "accept": lambda: objections.accept_objection(by=by, objection=filed),
        "not_accept": lambda: objections.reject_objection(by=by, objection=filed,
                                                          reason="不予受理"),
        "start_verification": lambda: objections.start_verification(by=by, objection=filed),
        "correct": lambda: objections.correct_objection(by=by, objection=filed,
                                                        correction="已更正"),
        "uphold": lambda: objections.uphold_objection(by=by, objection=filed, reason="无误"),
        "dismiss": lambda: objections.dismiss_objection(by=by, objection=filed,
                                                        reason="驳回"),
        "appeal": lambda: objections.appeal_objection(by=by, objection=filed, reason="不服"),
        "close": lambda: objections.close_objection(by=by, objection=filed, outcome="维持"),
    }[case.action]
    kind = f"contracts.objection.{objections.KIND[case.action]}"
    check(case, filed, act, codes(world).get(case.role, ""), kind, by)


# --- orders -------------------------------------------------------------------------------------

ORDER_STATES = ["ordered", "buyer_signed", "contracted", "notarised", "delivered",
                "accepted", "disputed", "settled", "closed", "cancelled"]
ORDER_ACTIONS = ["sign", "notarise", "deliver", "accept", "dispute", "settle", "close",
                 "cancel"]
ORDER_ROLES = ["buyer", "seller", "notary", "authority", "stranger"]


def order_permitted(state: str, action: str, role: str) -> bool:
    if action == "settle":
        return role == ("authority" if state == "disputed" else "seller")
    return role in {
        "sign": {"buyer", "seller"}, "notarise": {"notary"}, "deliver": {"seller"},
        "accept": {"buyer"}, "dispute": {"buyer"}, "close": {"buyer", "seller"},
        "cancel": {"buyer", "seller"},
    }[action]


def order_allowed(state: str, action: str, role: str) -> bool:
    if action == "sign":
        return state == "ordered" or (state == "buyer_signed" and role == "seller")
    return state in {
        "notarise": {"contracted"}, "deliver": {"contracted", "notarised"},
        "accept": {"delivered"}, "dispute": {"delivered"}, "settle": {"accepted", "disputed"},
        "close": {"settled"},
        "cancel": {"ordered", "buyer_signed", "contracted", "notarised"},
    }[action]


def order(world: w.World, state: str) -> Order:
    assert world.product is not None
    placed = orders.place_order(by=world.merchant_user, product=world.product)
    path = {
        "ordered": [], "buyer_signed": ["buyer"], "contracted": ["buyer", "seller"],
        "notarised": ["buyer", "seller", "notarise"],
        "delivered": ["buyer", "seller", "deliver"],
        "accepted": ["buyer", "seller", "deliver", "accept"],
        "disputed": ["buyer", "seller", "deliver", "dispute"],
        "settled": ["buyer", "seller", "deliver", "accept", "settle"],
        "closed": ["buyer", "seller", "deliver", "accept", "settle", "close"],
        "cancelled": ["cancel"],
    }[state]
    steps = {
        "buyer": lambda: orders.sign_order(by=world.merchant_user, order=placed),
        "seller": lambda: orders.sign_order(by=world.operator_user, order=placed),
        "notarise": lambda: orders.notarise_order(by=world.notary_user, order=placed),
        "deliver": lambda: orders.deliver_order(by=world.operator_user, order=placed,
                                                data=b"rows"),
        "accept": lambda: orders.accept_delivery(by=world.merchant_user, order=placed),
        "dispute": lambda: orders.dispute_delivery(by=world.merchant_user, order=placed,
                                                   reason="缺字段"),
        "settle": lambda: orders.settle_order(by=world.operator_user, order=placed,
                                              amount="1250.00", currency="CNY"),
        "close": lambda: orders.close_order(by=world.merchant_user, order=placed),
        "cancel": lambda: orders.cancel_order(by=world.merchant_user, order=placed,
                                              reason="不需要了"),
    }
    for step in path:
        steps[step]()
    placed.refresh_from_db()
    return placed


@pytest.mark.parametrize("case", table(ORDER_STATES, ORDER_ACTIONS, ORDER_ROLES,
                                       order_permitted, order_allowed))
def test_order(world: w.World, built: Any, case: Case) -> None:
    placed = fresh(built, "order", case.state)
    by = {**users(world), "stranger": world.provider_user}[case.role]
    act = {
        "sign": lambda: orders.sign_order(by=by, order=placed),
        "notarise": lambda: orders.notarise_order(by=by, order=placed, document="公证书".encode()),
        "deliver": lambda: orders.deliver_order(by=by, order=placed, data=b"rows"),
        "accept": lambda: orders.accept_delivery(by=by, order=placed),
        "dispute": lambda: orders.dispute_delivery(by=by, order=placed, reason="缺字段"),
        "settle": lambda: orders.settle_order(by=by, order=placed, amount="1000.00",
                                              currency="CNY"),
        "close": lambda: orders.close_order(by=by, order=placed),
        "cancel": lambda: orders.cancel_order(by=by, order=placed, reason="取消"),
    }[case.action]
    check(case, placed, act, codes(world).get(case.role, ""),
          f"contracts.order.{orders.KIND[case.action]}", by)

"""``available_actions`` and the services agree in every (state, action, role) cell of the
registration, resource and product machines (the workflow machines' cells are checked in
tests/contracts/test_transitions.py, with the portal's buttons and the API's lists).

A cell agrees when the action is listed exactly when its service, given valid input, does
it; the service's attempt is undone after each cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from catalog import services as catalog
from catalog.models import DataProduct, DataResource, ProductStatus, ResourceStatus
from contracts import products
from kernel.errors import DomainError
from operators import services as operators
from operators.models import Kind, Participant, Status
from policy.actions import available_actions, machine_of
from tests.portal.scenario import World, _code, build, person

ROLES = ["authority", "regulator", "auditor", "provider", "provider2", "operator", "merchant",
         "notary", "applicant", "citizen"]


class _Undo(Exception):
    pass


def service_did(call: Callable[[], Any]) -> bool:
    """Did the service do it (then undone), or refuse with a domain error?"""
    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except DomainError:
        return False


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)


def companies(w: World) -> list[Participant]:
    """An admission in every status."""
    authority = w.users["authority"]
    paths = {Status.APPLIED: [], Status.UNDER_REVIEW: ["start_review"],
             Status.ADMITTED: ["start_review", "admit"],
             Status.REJECTED: ["start_review", "reject"],
             Status.SUSPENDED: ["start_review", "admit", "suspend"],
             Status.REVOKED: ["start_review", "admit", "suspend", "revoke"]}
    made = []
    for n, (status, steps) in enumerate(paths.items()):
        party = operators.apply_for_admission(
            code=_code(Kind.MERCHANT), name_zh=f"状态{n}有限公司", kind=Kind.MERCHANT,
            merchant_type="service", applicant=person(f"company-{n}"))
        for step in steps:
            party = operators.review_registration(participant=party, action=step,
                                                  by=authority, reason="理由")
        assert party.status == status
        made.append(party)
    return made


def resources(w: World) -> list[DataResource]:
    provider = w.users["provider"]
    made = []
    for state in ResourceStatus.values:
        resource = catalog.create_resource(
            by=provider, code=f"RS-STATE-{state}", category=w.resources["open"].category,
            name=f"状态{state}", grade="general", sensitivity=1, sharing="unconditional",
            opening="open", update_frequency="daily",
            items=[{"name": "字段", "data_type": "string"}])
        if state != ResourceStatus.DRAFT:
            resource = catalog.publish_resource(by=provider, resource=resource)
        if state == ResourceStatus.WITHDRAWN:
            resource = catalog.withdraw_resource(by=provider, resource=resource, reason="停用")
        assert resource.status == state
        made.append(resource)
    return made


def products_in_every_state(w: World) -> list[DataProduct]:
    operator, authority = w.users["operator"], w.users["authority"]
    paths = {ProductStatus.DRAFT: [], ProductStatus.SUBMITTED: ["submit"],
             ProductStatus.LISTED: ["submit", "list"],
             ProductStatus.REJECTED: ["submit", "reject"],
             ProductStatus.DELISTED: ["submit", "list", "delist"]}
    made = []
    for status, steps in paths.items():
        product = products.create_product(by=operator, code=f"P-STATE-{status}", name=status,
                                         resources=[w.resources["conditional"]], price="10")
        for step in steps:
            product = (products.submit_product(by=operator, product=product) if step == "submit"
                       else products.review_product(by=authority, product=product, action=step,
                                                   reason="理由"))
        assert product.status == status
        made.append(product)
    return made


def attempt(obj: Any, action: str, by: Any) -> Callable[[], Any]:
    if isinstance(obj, Participant):
        return lambda: operators.review_registration(participant=obj, action=action, by=by,
                                                     reason="理由")
    if isinstance(obj, DataResource):
        return {
            "publish": lambda: catalog.publish_resource(by=by, resource=obj),
            "revise": lambda: catalog.revise_resource(by=by, resource=obj, description="新"),
            "withdraw": lambda: catalog.withdraw_resource(by=by, resource=obj, reason="理由"),
        }[action]
    if action == "submit":
        return lambda: products.submit_product(by=by, product=obj)
    return lambda: products.review_product(by=by, product=obj, action=action, reason="理由")


@pytest.mark.django_db
def test_available_actions_agree_with_the_services(world: World) -> None:
    objects = [*companies(world), *resources(world), *products_in_every_state(world)]
    disagree, cells = [], 0
    for obj in objects:
        obj = type(obj).objects.get(pk=obj.pk)
        for action in machine_of(obj).all_actions():
            for role in ROLES:
                by = world.users[role]
                listed = action in available_actions(by, obj)
                did = service_did(attempt(obj, action, by))
                cells += 1
                if listed != did:
                    disagree.append(f"{type(obj).__name__} {machine_of(obj).state_of(obj)} "
                                    f"{action} by {role}: listed {listed}, service {did}")
    assert cells == 10 * (6 * 6 + 3 * 3 + 5 * 4)
    assert not disagree, "\n".join(disagree)

"""Every (state, action, role) of the erasure request's state machine, as
tests/contracts/test_transitions.py does for the other workflows.

An allowed step succeeds and appends its entries (an approval: one redaction per payload,
then the approval) with the right actor and key; a denied one raises NotPermitted (the role
may never do this here) or IllegalTransition (the state does not allow it) and writes
nothing. In every cell ``available_actions``, the portal's buttons and the API's actions
agree with the service. The expected outcome of each cell is written from the rules below,
not from the machine's table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from contracts import erasure, objections
from contracts.models import ErasureRequest, ErasureTarget, Objection
from kernel.errors import IllegalTransition, NotPermitted
from ledger import services as ledger
from ledger.models import Payload
from policy.actions import available_actions
from tests.contracts import world as w
from tests.contracts.test_transitions import OK, Case, table

pytestmark = pytest.mark.django_db
STATES = ["filed", "escalated", "erased", "refused", "appealed", "closed", "withdrawn"]
ACTIONS = ["approve", "refuse", "withdraw", "appeal", "uphold"]
ROLES = ["filer", "provider", "authority", "authority_staff", "stranger"]
STEPS = {"filed": [], "escalated": [], "erased": ["approve"], "refused": ["refuse"],
         "appealed": ["refuse", "appeal"], "closed": ["refuse", "appeal", "uphold"],
         "withdrawn": ["withdraw"]}


def permitted(state: str, action: str, role: str) -> bool:
    """The rules: the filer withdraws and appeals; the controller (here the provider)
    decides a filed request, and the data authority's reviewers too once it is escalated;
    the data authority's reviewers re-examine an appeal (approve or uphold)."""
    if action in ("withdraw", "appeal"):
        return role == "filer"
    if action == "uphold":
        return role == "authority"
    if state == "appealed" and action == "approve":
        return role == "authority"
    return role == "provider" or (role == "authority" and state == "escalated")


def allowed(state: str, action: str, role: str) -> bool:
    return {"approve": {"filed", "escalated", "appealed"}, "refuse": {"filed", "escalated"},
            "withdraw": {"filed", "escalated"}, "appeal": {"refused"},
            "uphold": {"appealed"}}[action].__contains__(state)


def make(world: w.World, state: str) -> ErasureRequest:
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description="本人电话登记有误",
                                      contact={"phone": "13800000000"})
    contact = objections.contact_entry(filed)
    assert contact is not None
    (made,) = erasure.request_erasure(by=world.subject_user, ground="consent",
                                      seq=contact.seq)
    do = {
        "approve": lambda: erasure.approve_erasure(by=world.provider_user, request=made),
        "refuse": lambda: erasure.refuse_erasure(by=world.provider_user, request=made,
                                                 reason="需保留"),
        "appeal": lambda: erasure.appeal_erasure(by=world.subject_user, request=made,
                                                 reason="不服"),
        "uphold": lambda: erasure.uphold_refusal(by=world.authority_user, request=made,
                                                 outcome="维持"),
        "withdraw": lambda: erasure.withdraw_erasure(by=world.subject_user, request=made),
    }
    for step in STEPS[state]:
        do[step]()
    if state == "escalated":
        erasure.escalate_erasure(request=made, at=made.due + timedelta(seconds=1))
    made.refresh_from_db()
    assert made.state == ("filed" if state == "escalated" else state)
    return made


@pytest.fixture(scope="module")
def built(world: w.World, django_db_blocker: Any) -> dict[str, ErasureRequest]:
    with django_db_blocker.unblock():
        return {state: make(world, state) for state in STATES}


def users(world: w.World) -> dict[str, User]:
    return {"filer": world.subject_user, "provider": world.provider_user,
            "authority": world.authority_user, "authority_staff": world.authority_staff,
            "stranger": world.merchant_user}


def everything(obj: ErasureRequest) -> tuple[Any, ...]:
    return (w.last_seq(), ErasureRequest.objects.filter(pk=obj.pk).values().first(),
            list(ErasureTarget.objects.filter(request=obj).values()),
            list(Payload.objects.filter(entry__erasure_targets__request=obj)
                 .values_list("data", "salt")), Objection.objects.count())


def offered(by: User, obj: ErasureRequest, action: str) -> tuple[bool, bool, bool]:
    client = Client()
    client.force_login(by)
    html = client.get(f"/privacy/erasures/{obj.pk}/").content.decode()
    detail = client.get(f"/api/v1/erasure-requests/{obj.pk}/")
    return (action in available_actions(by, obj), f'name="action" value="{action}"' in html,
            detail.status_code == 200 and action in detail.json()["actions"])


@pytest.mark.parametrize("case", table(STATES, ACTIONS, ROLES, permitted, allowed))
def test_erasure_request(world: w.World, built: dict[str, ErasureRequest],
                         case: Case) -> None:
    obj = ErasureRequest.objects.get(pk=built[case.state].pk)
    by = users(world)[case.role]
    act = {
        "approve": lambda: erasure.approve_erasure(by=by, request=obj),
        "refuse": lambda: erasure.refuse_erasure(by=by, request=obj, reason="理由"),
        "withdraw": lambda: erasure.withdraw_erasure(by=by, request=obj),
        "appeal": lambda: erasure.appeal_erasure(by=by, request=obj, reason="不服"),
        "uphold": lambda: erasure.uphold_refusal(by=by, request=obj, outcome="维持"),
    }[case.action]
    expected = case.expected is OK
    assert offered(by, obj, case.action) == (expected, expected, expected)
    seq = w.last_seq()
    if not expected:
        before = everything(obj)
        with pytest.raises(case.expected):
            act()
        assert everything(obj) == before
        return
    act()
    written = w.entries_after(seq)
    kind = f"contracts.erasure.{erasure.KIND[case.action]}"
    actor = {"filer": ledger.origin(), "provider": world.provider.code,
             "authority": world.authority.code}[case.role]
    if case.action == "approve":
        assert [e.kind for e in written] == ["ledger.payload.redacted", kind]
        assert (written[0].actor, w.signer_of(written[0])) == (ledger.origin(),
                                                              ledger.origin())
    else:
        assert [e.kind for e in written] == [kind]
    assert (written[-1].actor, w.signer_of(written[-1])) == (actor, actor)


def test_the_table_has_a_cell_of_each_outcome() -> None:
    outcomes = {c.values[0].expected for c in table(STATES, ACTIONS, ROLES, permitted, allowed)}
    assert outcomes == {OK, NotPermitted, IllegalTransition}

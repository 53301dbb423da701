"""Sharing requests: by the resource's sharing attribute, deadlines and escalation."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from catalog.models import Sharing
from contracts import selectors, sharing, tasks
from contracts.calendar import SHANGHAI, end_of_day
from contracts.common import now
from contracts.models import Grant, SharingRequest
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger import services as ledger
from ledger.models import Entry
from tests.contracts import world as w

pytestmark = pytest.mark.django_db


def ask(world: w.World, resource, by=None, **extra):  # type: ignore[no-untyped-def]
    fields = {"purpose": "企业信用核验", "scenario": "行政审批", "legal_basis": "《条例》第十条",
              "period_from": w.today(), "period_until": w.today() + timedelta(days=60)}
    fields.update(extra)
    return sharing.request_sharing(by=by or world.operator_user, resource=resource, **fields)


def test_unconditional_is_granted_at_once_by_the_platform(world: w.World) -> None:
    department, user = w.department(world)
    seq = w.last_seq()
    request = ask(world, world.unconditional, by=user, items=["licence_no"])
    assert request.state == SharingRequest.State.APPROVED
    requested, approved = w.entries_after(seq)
    assert (requested.kind, requested.actor, w.signer_of(requested)) == (
        "contracts.sharing.requested", department.code, department.code)
    assert (approved.kind, approved.actor, w.signer_of(approved)) == (
        "contracts.sharing.approved", ledger.origin(), ledger.origin())
    grant = Grant.objects.get(sharing_request=request)
    payload = w.payload_of(approved)
    assert payload["automatic"] is True
    assert payload["grant"]["grant"] == grant.pk
    assert payload["grant"]["items"] == ["licence_no"]
    assert grant.valid_until == end_of_day(request.period_until)
    assert w.perm(user, world.unconditional)
    assert selectors.holds_grant(department, world.unconditional)


def test_not_shareable_is_refused_at_once_with_the_legal_basis(world: w.World) -> None:
    seq = w.last_seq()
    request = ask(world, world.not_shareable)
    assert request.state == SharingRequest.State.REFUSED
    assert world.not_shareable.sharing_basis in request.reason
    kinds = [(e.kind, e.actor) for e in w.entries_after(seq)]
    assert kinds == [("contracts.sharing.requested", world.operator.code),
                     ("contracts.sharing.refused", ledger.origin())]
    assert not Grant.objects.filter(sharing_request=request).exists()
    assert not w.perm(world.operator_user, world.not_shareable)


def test_conditional_waits_for_the_provider_and_approval_grants(world: w.World) -> None:
    request = ask(world, world.conditional, items=["licence_no", "issued_on"])
    assert request.state == SharingRequest.State.PENDING
    assert not w.perm(world.operator_user, world.conditional)
    approved = sharing.approve_request(by=world.provider_user, request=request,
                                       conditions="仅限本场景使用")
    assert approved.decided_by == world.provider
    grant = Grant.objects.get(sharing_request=request)
    assert sorted(grant.items.values_list("name", flat=True)) == ["issued_on", "licence_no"]
    assert w.perm(world.operator_user, world.conditional)
    entry = Entry.objects.filter(kind="contracts.sharing.approved").latest("seq")
    assert w.payload_of(entry)["conditions"] == "仅限本场景使用"


def test_review_deadline_counts_working_days_across_spring_festival(
    world: w.World, clock
) -> None:  # type: ignore[no-untyped-def]
    # Friday 13 Feb 2026: Sat 14 is a make-up working day, 15-23 are off, so the 5th
    # working day is Friday 27 Feb.
    clock.set(datetime.combine(date(2026, 2, 13), time(16), tzinfo=SHANGHAI))
    request = ask(world, world.conditional, period_from=date(2026, 2, 13),
                  period_until=date(2026, 6, 30))
    assert request.due == datetime.combine(date(2026, 2, 27), time.max, tzinfo=SHANGHAI)
    entry = Entry.objects.filter(kind="contracts.sharing.requested").latest("seq")
    assert w.payload_of(entry)["due"] == "2026-02-27T15:59:59.999999Z"


def test_overdue_request_is_escalated_once_and_the_authority_may_decide(
    world: w.World, clock
) -> None:  # type: ignore[no-untyped-def]
    clock.set(now() - timedelta(days=30))
    request = ask(world, world.conditional)
    clock.reset()
    with pytest.raises(NotPermitted):
        sharing.approve_request(by=world.authority_user, request=request)
    assert request in selectors.overdue_requests()
    seq = w.last_seq()
    assert tasks.escalate_overdue.delay().get()["requests"] == 1
    (escalated,) = w.entries_after(seq)
    assert (escalated.kind, escalated.actor, w.signer_of(escalated)) == (
        "contracts.sharing.escalated", ledger.origin(), ledger.origin())
    assert tasks.escalate_overdue.delay().get()["requests"] == 0
    assert w.last_seq() == escalated.seq
    assert list(selectors.escalated_requests()) == [request]
    refused = sharing.refuse_request(by=world.authority_user, request=request,
                                     reason="超出职责范围")
    assert refused.decided_by == world.authority
    assert not selectors.escalated_requests().exists()


def test_approval_after_the_requested_period_is_refused(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(now() - timedelta(days=30))
    request = ask(world, world.conditional, period_from=w.today(),
                  period_until=w.today() + timedelta(days=3))
    clock.reset()
    seq = w.last_seq()
    with pytest.raises(IllegalTransition, match="period ended"):
        sharing.approve_request(by=world.provider_user, request=request)
    assert w.last_seq() == seq
    request.refresh_from_db()
    assert request.state == SharingRequest.State.PENDING


def test_a_provider_cannot_request_its_own_resource(world: w.World) -> None:
    seq = w.last_seq()
    with pytest.raises(InvalidInput) as refused:
        ask(world, world.conditional, by=world.provider_user)
    assert refused.value.field == "resource"
    assert w.last_seq() == seq and not SharingRequest.objects.filter(
        requester=world.provider).exists()


def test_departments_operators_and_merchants_request_others_may_not(world: w.World) -> None:
    pending = ask(world, world.conditional, by=world.merchant_user)
    assert pending.state == "pending" and pending.requester == world.merchant
    for user in (world.subject_user, world.notary_user):
        with pytest.raises(NotPermitted):
            ask(world, world.conditional, by=user)


@pytest.mark.parametrize(("extra", "field"), [
    ({"items": ["salary"]}, "items[0]"),
    ({"items": ["licence_no", "licence_no"]}, "items[1]"),
    ({"purpose": "  "}, "purpose"),
    ({"legal_basis": ""}, "legal_basis"),
    ({"period_until": date(2020, 1, 1), "period_from": date(2019, 1, 1)}, "period_until"),
    ({"period_from": date(2030, 1, 2), "period_until": date(2030, 1, 1)}, "period_until"),
])
def test_bad_requests_name_the_field(world: w.World, extra, field) -> None:  # type: ignore[no-untyped-def]
    seq = w.last_seq()
    with pytest.raises(InvalidInput) as refused:
        ask(world, world.conditional, **extra)
    assert refused.value.field == field
    assert w.last_seq() == seq


def test_withdrawn_resource_cannot_be_requested(world: w.World) -> None:
    from catalog import services as catalog

    resource = w.resource(world.provider_user, world.category, Sharing.CONDITIONAL,
                          world.provider)
    catalog.withdraw_resource(by=world.provider_user, resource=resource, reason="停用")
    with pytest.raises(IllegalTransition):
        ask(world, resource)

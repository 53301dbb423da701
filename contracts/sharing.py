"""Sharing requests between departments and operators (《公共数据共享管理规范》).

By the resource's sharing attribute:

- unconditional (无条件共享): granted at once. Two entries: ``contracts.sharing.requested``
  signed by the requester, then ``contracts.sharing.approved`` signed by the platform's
  ledger key (the rule approved it, no person did), carrying the grant;
- conditional (有条件共享): pending until the provider approves (with conditions, creating
  a grant) or refuses (reason required) within SHULIAN_SHARING_REVIEW_DAYS working days;
  an overdue request is escalated by the platform, and the data authority may then decide
  it as well;
- not shareable (不予共享): refused at once by the platform, citing the resource's recorded
  legal basis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from catalog import access
from catalog.models import DataItem, DataResource, Sharing
from contracts import calendar, common, grants
from contracts.models import Grant, SharingRequest
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.states import Machine
from ledger import services as ledger
from operators import authz
from operators.models import Kind, Participant

S = SharingRequest.State
SHARING = Machine(
    "sharing request",
    {
        (S.PENDING, "approve"): S.APPROVED,
        (S.PENDING, "refuse"): S.REFUSED,
        (S.PENDING, "withdraw"): S.WITHDRAWN,
        (S.PENDING, "escalate"): S.PENDING,
    },
)
# Departments share with each other; operators and data merchants request authorised use.
REQUESTER_KINDS = (Kind.PROVIDER, Kind.OPERATOR, Kind.MERCHANT)


def subject(request: SharingRequest) -> str:
    return f"contracts/sharing/{request.pk}"


def _payload(request: SharingRequest, **extra: Any) -> dict[str, Any]:
    return {
        "request": request.pk, "requester": request.requester.code,
        "resource": request.resource.code, "provider": request.resource.provider.code,
        "items": common.item_names(request.items.all()), "state": request.state, **extra,
    }


def _check_period(period_from: date, period_until: date) -> None:
    if not isinstance(period_from, date) or isinstance(period_from, datetime):
        raise InvalidInput("period_from", "must be a date")
    if not isinstance(period_until, date) or isinstance(period_until, datetime):
        raise InvalidInput("period_until", "must be a date")
    if period_until < period_from:
        raise InvalidInput("period_until", "is before period_from")
    if period_until < calendar.local_date(common.now()):
        raise InvalidInput("period_until", "has already passed")


def _grant(request: SharingRequest) -> Grant:
    start = max(common.now(), calendar.start_of_day(request.period_from))
    until = calendar.end_of_day(request.period_until)
    if until <= start:
        raise IllegalTransition(f"the requested period ended on {request.period_until}; "
                                "the requester must file a new request")
    purpose = f"{request.purpose} ({request.scenario})"
    return grants.create(grantee=request.requester, resource=request.resource,
                         items=request.items.all(), purpose=purpose, valid_from=start,
                         valid_until=until, sharing_request=request)


def _decide(request: SharingRequest, action: str, by: Participant | None,
            reason: str = "", conditions: str = "", automatic: bool = False) -> None:
    """Apply ``action`` to the locked request and record it (by the platform if ``by`` is
    None)."""
    request.state = SHARING.check(request.state, action)
    request.reason, request.conditions = reason, conditions
    request.decided_at, request.decided_by = common.now(), by
    request.save()
    extra: dict[str, Any] = {"reason": reason} if action == "refuse" else {
        "conditions": conditions}
    if action == "approve":
        extra["grant"] = grants.payload(_grant(request))
    if automatic:
        extra["automatic"] = True
    past = {"approve": "approved", "refuse": "refused"}[action]
    ledger.record(actor=by.code if by else ledger.origin(), kind=f"contracts.sharing.{past}",
                  subject=subject(request), payload=_payload(request, **extra))


def request_sharing(*, by: common.User, resource: DataResource, purpose: str, scenario: str,
                    legal_basis: str, period_from: date, period_until: date,
                    items: Sequence[DataItem | str] = (),
                    requester: Participant | None = None) -> SharingRequest:
    """A department or operator asks to use ``resource`` (or some of its items)."""
    asking = authz.acting_for(by, requester, kinds=REQUESTER_KINDS)
    if resource.provider_id == asking.pk:
        raise InvalidInput("resource", f"{resource.code} is {asking.code}'s own resource")
    common.published(resource)
    chosen = common.items_of(resource, items)
    texts = {"purpose": purpose, "scenario": scenario, "legal_basis": legal_basis}
    cleaned = {field: common.required(field, text, "request sharing")
               for field, text in texts.items()}
    _check_period(period_from, period_until)
    due = None
    if resource.sharing == Sharing.CONDITIONAL:
        due = calendar.add_working_days(common.now(), settings.SHULIAN_SHARING_REVIEW_DAYS)
    with transaction.atomic():
        request = SharingRequest.objects.create(
            requester=asking, resource=resource, period_from=period_from,
            period_until=period_until, due=due, **cleaned,
        )
        request.items.set(chosen)
        ledger.record(
            actor=asking.code, kind="contracts.sharing.requested", subject=subject(request),
            payload=_payload(request, sharing=resource.sharing, due=common.when(request.due),
                             period_from=period_from.isoformat(),
                             period_until=period_until.isoformat(), **cleaned),
        )
        if resource.sharing == Sharing.UNCONDITIONAL:
            _decide(request, "approve", None, automatic=True)
        elif resource.sharing == Sharing.NOT_SHAREABLE:
            _decide(request, "refuse", None, reason=f"不予共享: {resource.sharing_basis}",
                    automatic=True)
    return request


def _decider(by: common.User, request: SharingRequest) -> Participant:
    """The provider's member who manages the resource, or the data authority once the
    request was escalated."""
    if access.can_manage(by, request.resource):
        provider = common.member_of(by, request.resource.provider)
        if provider is not None:
            return provider
    if request.escalated_at is not None:
        authority = common.reviewing_authority(by)
        if authority is not None:
            return authority
    raise NotPermitted(f"only the provider of {request.resource.code} decides this request"
                       " (the data authority too, once it is escalated)")


def _locked(request: SharingRequest) -> SharingRequest:
    return SharingRequest.objects.select_for_update(of=("self",)).select_related(
        "resource__provider", "requester").get(pk=request.pk)


def approve_request(*, by: common.User, request: SharingRequest,
                    conditions: str = "") -> SharingRequest:
    """Approve a pending request, with conditions if any; creates the grant."""
    with transaction.atomic():
        locked = _locked(request)
        actor = _decider(by, locked)
        SHARING.check(locked.state, "approve")
        _decide(locked, "approve", actor, conditions=(conditions or "").strip())
    return locked


def refuse_request(*, by: common.User, request: SharingRequest,
                   reason: str) -> SharingRequest:
    with transaction.atomic():
        locked = _locked(request)
        actor = _decider(by, locked)
        SHARING.check(locked.state, "refuse")
        _decide(locked, "refuse", actor, reason=common.required("reason", reason,
                                                                 "refuse a request"))
    return locked


def withdraw_request(*, by: common.User, request: SharingRequest,
                     reason: str = "") -> SharingRequest:
    """The requester withdraws its pending request."""
    with transaction.atomic():
        locked = _locked(request)
        asking = common.member_of(by, locked.requester)
        if asking is None:
            raise NotPermitted("only the requester withdraws its request")
        locked.state = SHARING.check(locked.state, "withdraw")
        locked.reason = (reason or "").strip()
        locked.save(update_fields=["state", "reason"])
        ledger.record(actor=asking.code, kind="contracts.sharing.withdrawn",
                      subject=subject(locked), payload=_payload(locked, reason=locked.reason))
    return locked


def escalate_request(*, request: SharingRequest, at: datetime | None = None) -> bool:
    """The platform escalates a pending request past its due time, once; False if there
    is nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = _locked(request)
        if (locked.state != S.PENDING or locked.escalated_at is not None
                or locked.due is None or locked.due >= moment):
            return False
        SHARING.check(locked.state, "escalate")
        locked.escalated_at = moment
        locked.save(update_fields=["escalated_at"])
        ledger.record(actor=ledger.origin(), kind="contracts.sharing.escalated",
                      subject=subject(locked),
                      payload=_payload(locked, due=common.when(locked.due),
                                       escalated_at=common.when(moment)))
    return True

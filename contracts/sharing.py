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

The purpose is the requester's own words, personal information by default
(``contracts.personal``): the grant carries the scenario, not a copy of the purpose, so that
erasing the request's payload leaves no copy of it on the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User as Person
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog import access
from catalog.models import DataItem, DataResource, Sharing
from contracts import calendar, common, deadlines, grants
from contracts.models import Grant, SharingRequest
from kernel import request_cache
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.states import Machine, Transition
from kernel.text import required_text
from ledger import services as ledger
from operators import authz, capabilities
from operators.models import Participant
from operators.transitions import PLATFORM, Platform, Recorded, lock, platform, take

S = SharingRequest.State


def _decider(by: common.User | None, request: SharingRequest) -> Participant | Platform:
    """The provider's member who manages the resource, or the data authority once the
    request was escalated; the platform (``by`` None) decides what the resource's sharing
    attribute decides by itself."""
    if by is None:
        if request.resource.sharing != Sharing.CONDITIONAL:
            return PLATFORM
        raise NotPermitted(_("a conditional request is decided by its provider"))
    if access.can_manage(by, request.resource):
        provider = capabilities.acts_for(by, request.resource.provider)
        if provider is not None:
            return provider
    if request.escalated_at is not None:
        authority = capabilities.reviewing_authority(by)
        if authority is not None:
            return authority
    raise NotPermitted(_("only the provider of %(code)s decides this request (the data "
                         "authority too, once it is escalated)"), code=request.resource.code)


def _requester(by: common.User | None, request: SharingRequest) -> Participant:
    asking = capabilities.acts_for(by, request.requester)
    if asking is None:
        raise NotPermitted(_("only the requester withdraws its request"))
    return asking


def _not_shareable(request: SharingRequest, actor: Any) -> str | None:
    if request.resource.sharing == Sharing.NOT_SHAREABLE:
        return _("resource %(code)s is not shareable (不予共享)") % {
            "code": request.resource.code}
    return None


SHARING: Machine[SharingRequest] = Machine("sharing request", [
    Transition("approve", (S.PENDING,), S.APPROVED, _decider, _not_shareable),
    Transition("refuse", (S.PENDING,), S.REFUSED, _decider),
    Transition("withdraw", (S.PENDING,), S.WITHDRAWN, _requester),
    Transition("escalate", (S.PENDING,), S.PENDING, platform),
])
PAST = {"approve": "approved", "refuse": "refused", "withdraw": "withdrawn",
        "escalate": "escalated"}


def subject(request: SharingRequest) -> str:
    return f"contracts/sharing/{request.pk}"


def _payload(request: SharingRequest, items: list[str] | None = None,
             **extra: Any) -> dict[str, Any]:
    """The fields every entry about a request carries (``items``: the names of its data
    items, read from the request unless given)."""
    return {
        "request": request.pk, "requester": request.requester.code,
        "resource": request.resource.code, "provider": request.resource.provider.code,
        "items": common.item_names(request.items.all()) if items is None else items,
        "state": request.state, **extra,
    }


def _check_period(period_from: date, period_until: date) -> None:
    deadlines.check_term(period_from, period_until, calendar.local_date(common.now()),
                         fields=("period_from", "period_until"),
                         months=settings.SHULIAN_SHARING_MAX_MONTHS, span="period")


def _grant(request: SharingRequest) -> Grant:
    problem = deadlines.sharing_term_problem(request.period_from, request.period_until,
                                             calendar.local_date(common.now()))
    if problem is not None:
        raise IllegalTransition(_("the requested period is too long: %(problem)s; the "
                                  "requester must file a new request"), problem=problem[1])
    start = max(common.now(), calendar.start_of_day(request.period_from))
    until = calendar.end_of_day(request.period_until)
    if until <= start:
        raise IllegalTransition(_("the requested period ended on %(day)s; the requester must "
                                  "file a new request"), day=request.period_until)
    return grants.create(grantee=request.requester, resource=request.resource,
                         items=request.items.all(), purpose=request.scenario,
                         valid_from=start,
                         valid_until=until, sharing_request=request)


RECORDED: Recorded[SharingRequest] = Recorded(
    kind=lambda action: f"contracts.sharing.{PAST[action]}", subject=lambda r: subject(r),
    payload=lambda r: _payload(r), related=("resource__provider", "requester"))


def _decide(request: SharingRequest, action: str, by: common.User | None, *,
            reason: str = "", conditions: str = "") -> SharingRequest:
    """Approve (creating the grant) or refuse; ``by`` None is the platform deciding by the
    resource's sharing attribute."""

    def change(locked: SharingRequest, actor: Participant | Platform) -> dict[str, Any]:
        if action == "refuse":
            locked.reason = required_text("reason", reason, _("to refuse a request"))
            extra: dict[str, Any] = {"reason": locked.reason}
        else:
            locked.conditions = (conditions or "").strip()
            extra = {"conditions": locked.conditions,
                     "grant": grants.payload(_grant(locked))}
        locked.decided_at = common.now()
        locked.decided_by = actor if isinstance(actor, Participant) else None
        if actor is PLATFORM:
            extra["automatic"] = True
        return extra

    return take(SHARING, RECORDED, request, action, by=by, change=change)


def requester_acting(by: Any, requester: Participant | None = None) -> Participant:
    """Who may request sharing: an admitted department, operator or data merchant."""
    return authz.acting_for(by, requester, kinds=capabilities.REQUESTER_KINDS)


@request_cache.scoped
def request_sharing(*, by: common.User, resource: DataResource, purpose: str, scenario: str,
                    legal_basis: str, period_from: date, period_until: date,
                    items: Sequence[DataItem | str] = (),
                    requester: Participant | None = None) -> SharingRequest:
    """A department or operator asks to use ``resource`` (or some of its items)."""
    asking = requester_acting(by, requester)
    if resource.provider_id == asking.pk:
        raise InvalidInput("resource", _("%(code)s is a resource of %(name)s itself"),
                           code=resource.code, name=asking.name_zh)
    chosen = common.published_items(resource, items)
    texts = {"purpose": purpose, "scenario": scenario, "legal_basis": legal_basis}
    cleaned = {field: required_text(field, text, _("to request sharing"))
               for field, text in texts.items()}
    _check_period(period_from, period_until)
    due = None
    if resource.sharing == Sharing.CONDITIONAL:
        due = deadlines.sharing_review_due(common.now())
    with transaction.atomic():
        request = SharingRequest.objects.create(
            requester=asking, resource=resource, period_from=period_from,
            period_until=period_until, due=due,
            requested_by=by if isinstance(by, Person) else None, **cleaned,
        )
        if chosen:  # a new request: its items are added, none to remove
            SharingRequest.items.through.objects.bulk_create(
                SharingRequest.items.through(sharingrequest=request, dataitem=item)
                for item in chosen)
        ledger.record(
            actor=asking.code, kind="contracts.sharing.requested", subject=subject(request),
            payload=_payload(request, items=common.item_names(chosen),
                             sharing=resource.sharing, due=common.when(request.due),
                             period_from=period_from.isoformat(),
                             period_until=period_until.isoformat(), **cleaned),
        )
        if resource.sharing == Sharing.UNCONDITIONAL:
            request = _decide(request, "approve", None)
        elif resource.sharing == Sharing.NOT_SHAREABLE:
            request = _decide(request, "refuse", None,
                              reason=f"不予共享: {resource.sharing_basis}")
    return request


def approve_request(*, by: common.User, request: SharingRequest,
                    conditions: str = "") -> SharingRequest:
    """Approve a pending request, with conditions if any; creates the grant."""
    return _decide(request, "approve", by, conditions=conditions)


def refuse_request(*, by: common.User, request: SharingRequest,
                   reason: str) -> SharingRequest:
    return _decide(request, "refuse", by, reason=reason)


def withdraw_request(*, by: common.User, request: SharingRequest,
                     reason: str = "") -> SharingRequest:
    """The requester withdraws its pending request."""

    def change(locked: SharingRequest, asking: Participant) -> dict[str, Any]:
        locked.reason = (reason or "").strip()
        return {"reason": locked.reason}

    return take(SHARING, RECORDED, request, "withdraw", by=by, change=change)


def escalate_request(*, request: SharingRequest, at: datetime | None = None) -> bool:
    """The platform escalates a pending request past its due time, once; False if there
    is nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = lock(request)
        if not deadlines.request_to_escalate(locked, moment):
            return False

        def change(o: SharingRequest, platform: Platform) -> dict[str, Any]:
            o.escalated_at = moment
            return {"due": common.when(o.due), "escalated_at": common.when(moment)}

        take(SHARING, RECORDED, locked, "escalate", by=None, change=change)
    return True

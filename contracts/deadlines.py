"""Every workflow deadline, defined once: when it falls, whether it has passed, and the
queryset forms that the tasks, the inbox, the pages and the regulator use.

Deadlines are in working days (``contracts.calendar``; weekends, public holidays and 调休)
and their lengths are settings: SHULIAN_SHARING_REVIEW_DAYS, SHULIAN_OBJECTION_ACCEPT_DAYS,
SHULIAN_OBJECTION_RESOLVE_DAYS, SHULIAN_OBJECTION_APPEAL_DAYS, SHULIAN_ERASURE_DAYS and
SHULIAN_ERASURE_APPEAL_DAYS. A grant is *near expiry* within NEAR_EXPIRY of its end.

Terms are in calendar months: an authorised-operation agreement runs at most
AGREEMENT_MAX_MONTHS (five years, the 2025 national rules' cap), a sharing request (and so
its grant) at most SHULIAN_SHARING_MAX_MONTHS (default 12); either term begins at most that
long after today.
"""

from __future__ import annotations

import calendar as months
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from contracts import calendar
from contracts.models import ErasureRequest, Grant, Objection, SharingRequest
from kernel.errors import InvalidInput
from kernel.times import local

NEAR_EXPIRY = timedelta(days=3)
AGREEMENT_MAX_MONTHS = 5 * 12

OS = Objection.State
ACCEPTING = (OS.FILED,)
RESOLVING = (OS.ACCEPTED, OS.VERIFYING)


# --- when each deadline falls -------------------------------------------------------------


def sharing_review_due(requested: datetime) -> datetime:
    """A conditional request must be decided by then."""
    return calendar.add_working_days(requested, settings.SHULIAN_SHARING_REVIEW_DAYS)


def objection_accept_due(filed: datetime) -> datetime:
    return calendar.add_working_days(filed, settings.SHULIAN_OBJECTION_ACCEPT_DAYS)


def objection_resolve_due(accepted: datetime) -> datetime:
    return calendar.add_working_days(accepted, settings.SHULIAN_OBJECTION_RESOLVE_DAYS)


def appeal_until(resolved: datetime) -> datetime:
    return calendar.add_working_days(resolved, settings.SHULIAN_OBJECTION_APPEAL_DAYS)


# --- sharing requests -----------------------------------------------------------------------


def request_overdue(request: SharingRequest, at: datetime) -> bool:
    return (request.state == SharingRequest.State.PENDING and request.due is not None
            and request.due < at)


def request_to_escalate(request: SharingRequest, at: datetime) -> bool:
    """Overdue and not escalated yet (a request is escalated once)."""
    return request_overdue(request, at) and request.escalated_at is None


def overdue_requests_q(at: datetime) -> Q:
    return Q(state=SharingRequest.State.PENDING, due__lt=at)


# --- objections ---------------------------------------------------------------------------


def objection_due(objection: Objection) -> datetime | None:
    """The deadline that applies in the objection's state: accepting, then resolving."""
    if objection.state in ACCEPTING:
        return objection.accept_due
    if objection.state in RESOLVING:
        return objection.resolve_due
    return None


def objection_overdue(objection: Objection, at: datetime) -> bool:
    due = objection_due(objection)
    return due is not None and due < at


def objection_missed(objection: Objection, at: datetime) -> str | None:
    """Which deadline (accept, resolve) the objection has missed and not yet been
    escalated for; each is escalated once."""
    if not objection_overdue(objection, at):
        return None
    if objection.state in ACCEPTING:
        return None if objection.escalated_at else "accept"
    escalated = objection.escalated_at
    done = escalated is not None and objection.resolve_due is not None \
        and escalated > objection.resolve_due
    return None if done else "resolve"


def overdue_objections_q(at: datetime) -> Q:
    return (Q(state__in=ACCEPTING, accept_due__lt=at)
            | Q(state__in=RESOLVING, resolve_due__lt=at))


def objections_to_escalate_q(at: datetime) -> Q:
    missed_accept = Q(state__in=ACCEPTING, accept_due__lt=at, escalated_at__isnull=True)
    missed_resolve = Q(state__in=RESOLVING, resolve_due__lt=at) & (
        Q(escalated_at__isnull=True) | Q(escalated_at__lte=F("resolve_due")))
    return missed_accept | missed_resolve


def appeal_closed(objection: Objection, at: datetime) -> str | None:
    """Why the filer can no longer appeal: once only, within the appeal period."""
    if objection.appealed:
        return _("objection %(id)s was already appealed once") % {"id": objection.pk}
    if objection.appeal_until is not None and objection.appeal_until < at:
        return _("the appeal period ended at %(time)s") % {"time": local(objection.appeal_until)}

    return None


# --- erasure requests (个人信息删除请求) ------------------------------------------------------

ES = ErasureRequest.State


def erasure_due(moment: datetime) -> datetime:
    """A request filed (or a refusal appealed) at ``moment`` is decided by then."""
    return calendar.add_working_days(moment, settings.SHULIAN_ERASURE_DAYS)


def erasure_appeal_until(refused: datetime) -> datetime:
    return calendar.add_working_days(refused, settings.SHULIAN_ERASURE_APPEAL_DAYS)


def erasure_overdue(request: ErasureRequest, at: datetime) -> bool:
    """Open (awaiting a decision or a re-examination) past its deadline."""
    return request.state in ErasureRequest.OPEN_STATES and request.due < at


def erasure_missed(request: ErasureRequest, at: datetime) -> str | None:
    """Which deadline (the decision, the re-examination of an appeal) the request has
    missed and not yet been escalated for; each is escalated once."""
    if not erasure_overdue(request, at):
        return None
    if request.escalated_at is not None and request.escalated_at > request.due:
        return None
    return "decision" if request.state == ES.FILED else "appeal"


def overdue_erasures_q(at: datetime) -> Q:
    return Q(state__in=ErasureRequest.OPEN_STATES, due__lt=at)


def erasures_to_escalate_q(at: datetime) -> Q:
    return overdue_erasures_q(at) & (Q(escalated_at__isnull=True)
                                     | Q(escalated_at__lte=F("due")))


def erasure_appeal_closed(request: ErasureRequest, at: datetime) -> str | None:
    """Why the filer can no longer appeal a refusal: once only, within the appeal period."""
    if request.appealed:
        return _("erasure request %(pk)s was already appealed once") % {"pk": request.pk}
    if request.appeal_until is not None and request.appeal_until < at:
        return _("the appeal period ended at %(time)s") % {
            "time": calendar.local_text(request.appeal_until)}
    return None


# --- grants -------------------------------------------------------------------------------


def grant_near_expiry(grant: Grant, at: datetime) -> bool:
    return grant.state == Grant.State.ACTIVE and grant.valid_until - at < NEAR_EXPIRY


def delivered_near_expiry_q(window: timedelta = NEAR_EXPIRY) -> Q:
    """Deliveries made within ``window`` of their grant's end."""
    return Q(delivered__gte=F("grant__valid_until") - window,
             delivered__lte=F("grant__valid_until"))


# --- terms --------------------------------------------------------------------------------


def _months_after(day: date, n: int) -> date | None:
    """``day`` ``n`` calendar months later (the month's last day if it is shorter); None
    past the end of the calendar."""
    index = day.year * 12 + day.month - 1 + n
    year, month = divmod(index, 12)
    if year > date.max.year:
        return None
    return date(year, month + 1, min(day.day, months.monthrange(year, month + 1)[1]))


def last_day_of_term(start: date, n: int) -> date:
    """The last day of a term of ``n`` months that begins on ``start``."""
    after = _months_after(start, n)
    return date.max if after is None else after - timedelta(days=1)


TermProblem = tuple[str, str]  # ("start" or "end": the date at fault, the reason)


def _term_problem(start: date, end: date, n: int, today: date) -> TermProblem | None:
    if end > last_day_of_term(start, n):
        return "end", str(_("the term from %(start)s may run %(n)s months at most, to "
                            "%(last)s") % {"start": start, "n": n,
                                           "last": last_day_of_term(start, n)})
    latest_start = _months_after(today, n)
    if latest_start is not None and start > latest_start:
        return "start", str(_("the term may begin %(n)s months from today at the latest "
                              "(%(latest)s)") % {"n": n, "latest": latest_start})
    return None


def check_term(start: object, end: object, today: date, *, fields: tuple[str, str],
               months: int, span: str = "term") -> None:
    """The one check of a term from ``start`` to ``end`` (an agreement's term, a sharing
    request's period): both dates, the end neither before the start nor already past
    ``today``, and within ``months`` (see :func:`_term_problem`). InvalidInput names the
    field at fault, ``fields`` being the names of the start and the end."""
    for field, value in zip(fields, (start, end), strict=True):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise InvalidInput(field, _("must be a date"))
    assert isinstance(start, date) and isinstance(end, date)
    if end < start:
        raise InvalidInput(fields[1], _("is before the start of the period") if span == "period"
                           else _("is before the start of the term"))
    if end < today:
        raise InvalidInput(fields[1], _("has already passed"))
    problem = _term_problem(start, end, months, today)
    if problem is not None:
        at, reason = problem
        raise InvalidInput(fields[0] if at == "start" else fields[1], reason)


def sharing_term_problem(start: date, end: date, today: date) -> TermProblem | None:
    """What is wrong with a sharing request's period (and so its grant's), or None."""
    return _term_problem(start, end, settings.SHULIAN_SHARING_MAX_MONTHS, today)

"""Reads of sharing requests, agreements, grants, objections and orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncYear
from django.utils.translation import gettext_lazy as _

from catalog.models import DataResource
from contracts import common, deadlines
from contracts.calendar import SHANGHAI, local_date
from contracts.models import (
    ErasureRequest,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from kernel.errors import InvalidInput
from operators.models import Participant


def _now(at: datetime | None) -> datetime:
    return at or common.now()


def active_grants(participant: Participant, resource: DataResource,
                  at: datetime | None = None) -> QuerySet[Grant]:
    moment = _now(at)
    return Grant.objects.filter(grantee=participant, resource=resource,
                                state=Grant.State.ACTIVE, valid_from__lte=moment,
                                valid_until__gt=moment)


def holds_grant(participant: Participant, resource: DataResource) -> bool:
    """Does ``participant`` hold a grant on ``resource`` that is active now?"""
    return active_grants(participant, resource).exists()


def usable_grants(participant: Participant, resource: DataResource,
                  at: datetime | None = None) -> QuerySet[Grant]:
    """Active grants not yet expired (including ones that start later): what keeps the
    grantee's permission on the resource."""
    return Grant.objects.filter(grantee=participant, resource=resource,
                                state=Grant.State.ACTIVE, valid_until__gt=_now(at))


# --- objections and the disputed mark (有异议) ----------------------------------------------


def open_objections(resource: DataResource) -> QuerySet[Objection]:
    return Objection.objects.filter(resource=resource, state__in=Objection.OPEN_STATES)


def is_disputed(resource: DataResource) -> bool:
    """Is the resource's data disputed (有异议): has it an open objection?"""
    return open_objections(resource).exists()


def disputed_resources() -> QuerySet[DataResource]:
    return DataResource.objects.filter(
        objections__state__in=Objection.OPEN_STATES).distinct()


def overdue_objections(at: datetime | None = None, *,
                       among: QuerySet[Objection] | None = None) -> QuerySet[Objection]:
    """Open objections past a deadline or escalated: what the regulator watches (``among``
    the objections a reader may see)."""
    late = deadlines.overdue_objections_q(_now(at)) | Q(escalated_at__isnull=False)
    base = Objection.objects.all() if among is None else among
    return base.filter(late, state__in=Objection.OPEN_STATES).select_related(
        "resource__provider").order_by("accept_due")


# --- sharing requests -----------------------------------------------------------------------


def overdue_requests(at: datetime | None = None, *,
                     among: QuerySet[SharingRequest] | None = None) -> QuerySet[SharingRequest]:
    base = SharingRequest.objects.all() if among is None else among
    return base.filter(deadlines.overdue_requests_q(_now(at))).order_by("due")


def escalated_requests(*, among: QuerySet[SharingRequest] | None = None,
                       ) -> QuerySet[SharingRequest]:
    """Pending requests escalated to the data authority (flagged for the regulator)."""
    base = SharingRequest.objects.all() if among is None else among
    return base.filter(
        state=SharingRequest.State.PENDING, escalated_at__isnull=False,
    ).select_related("resource__provider", "requester").order_by("due")


# --- what the periodic tasks act on -------------------------------------------------------


def grants_to_expire(at: datetime | None = None) -> QuerySet[Grant]:
    return Grant.objects.filter(state__in=[Grant.State.ACTIVE, Grant.State.SUSPENDED],
                                valid_until__lte=_now(at)).order_by("pk")


def agreements_to_expire(at: datetime | None = None) -> QuerySet[OperationAgreement]:
    return OperationAgreement.objects.filter(
        state__in=[OperationAgreement.State.EFFECTIVE, OperationAgreement.State.SUSPENDED],
        term_end__lt=local_date(_now(at)),
    ).order_by("pk")


def objections_to_escalate(at: datetime | None = None) -> QuerySet[Objection]:
    return Objection.objects.filter(deadlines.objections_to_escalate_q(_now(at))).order_by("pk")


def requests_to_escalate(at: datetime | None = None) -> QuerySet[SharingRequest]:
    return overdue_requests(at).filter(escalated_at__isnull=True).order_by("pk")


def erasures_to_escalate(at: datetime | None = None) -> QuerySet[ErasureRequest]:
    return ErasureRequest.objects.filter(
        deadlines.erasures_to_escalate_q(_now(at))).order_by("pk")


# --- erasure requests -------------------------------------------------------------------------


def open_erasures(*, among: QuerySet[ErasureRequest] | None = None,
                  ) -> QuerySet[ErasureRequest]:
    """Erasure requests awaiting a decision or a re-examination, soonest deadline first:
    what the regulator watches (``among`` those a reader may see)."""
    base = ErasureRequest.objects.all() if among is None else among
    return base.filter(state__in=ErasureRequest.OPEN_STATES).select_related(
        "controller").order_by("due", "pk")


# --- transaction totals for the regulator ---------------------------------------------------

SETTLED = [Order.State.SETTLED, Order.State.CLOSED]
GROUPINGS = {"product": ["product__code"], "seller": ["seller__code"],
             "buyer": ["buyer__code"]}
PERIODS = {"day": TruncDay, "month": TruncMonth, "year": TruncYear}


def order_totals(*, by: str, since: datetime | None = None, until: datetime | None = None,
                 period: str = "month",
                 among: QuerySet[Order] | None = None) -> list[dict[str, Any]]:
    """Settled turnover grouped by product, seller, buyer or period (Asia/Shanghai days,
    months or years), per currency, aggregated in the database: each row has the group,
    ``currency``, ``orders`` and ``total`` (a Decimal; format it as a string)."""
    base = Order.objects.all() if among is None else among
    query = base.filter(state__in=SETTLED, settled_at__isnull=False)
    if since is not None:
        query = query.filter(settled_at__gte=since)
    if until is not None:
        query = query.filter(settled_at__lt=until)
    if by == "period":
        if period not in PERIODS:
            raise InvalidInput("period", _("must be one of %(choices)s"),
                               choices=", ".join(PERIODS))

        query = query.annotate(period=PERIODS[period]("settled_at", tzinfo=SHANGHAI))
        fields = ["period"]
    elif by in GROUPINGS:
        fields = GROUPINGS[by]
    else:
        raise InvalidInput("by", _("must be product, seller, buyer or period"))
    rows = (query.values(*fields, "currency")
            .annotate(orders=Count("pk"), total=Sum("settled_amount"))
            .order_by(*fields, "currency"))
    return list(rows)

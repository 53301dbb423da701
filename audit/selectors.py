"""The regulator's reads: exchange volume over time, workflow states, overdue items and
anomalies. Every figure is aggregated in the database (GROUP BY), not counted in Python,
over the objects the reader may see (``policy.visibility``; regulators and the data
authority see them all)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Model, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from contracts import deadlines
from contracts import selectors as contracts
from contracts.calendar import SHANGHAI
from contracts.models import (
    Delivery,
    ErasureRequest,
    Grant,
    Objection,
    Order,
    SharingRequest,
)
from ledger.models import Entry
from operators.models import Participant
from policy import visibility
from policy.visibility import Who

REPEATED_REFUSALS = 3
ATTESTATION = "audit.verification.completed"


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def daily_series(rows: QuerySet[Any], since: date, until: date,
                 *fields: str) -> dict[str, list[Any]]:
    """Rows with ``day`` and ``fields`` as one series per field over every day since..until
    (days without rows are 0)."""
    by_day = {row["day"]: row for row in rows}
    days = _days(since, until)
    series: dict[str, list[Any]] = {"days": [d.isoformat() for d in days]}
    for name in fields:
        series[name] = [by_day.get(d, {}).get(name) or 0 for d in days]
    return series


def deliveries_per_day(who: Who, since: datetime) -> QuerySet[Any]:
    """Deliveries and rows delivered per day (Asia/Shanghai) since ``since``."""
    return (visibility.deliveries(who).filter(delivered__gte=since)
            .annotate(day=TruncDate("delivered", tzinfo=SHANGHAI)).values("day")
            .annotate(deliveries=Count("pk"), rows=Sum("rows")).order_by("day"))


def orders_per_day(who: Who, since: datetime) -> QuerySet[Any]:
    """Orders placed per day since ``since``."""
    return (visibility.orders(who).filter(created__gte=since)
            .annotate(day=TruncDate("created", tzinfo=SHANGHAI)).values("day")
            .annotate(orders=Count("pk")).order_by("day"))


def settlements_per_day(who: Who, since: datetime) -> QuerySet[Any]:
    """Settled orders and settled amount (all currencies summed per currency) per day."""
    return (visibility.orders(who).filter(settled_at__gte=since, settled_amount__isnull=False)
            .annotate(day=TruncDate("settled_at", tzinfo=SHANGHAI)).values("day", "currency")
            .annotate(settled=Count("pk"), amount=Sum("settled_amount")).order_by("day"))


def by_state(who: Who, model: type[Model]) -> dict[str, int]:
    rows = (visibility.visible(who, model).values("state").annotate(n=Count("pk"))
            .order_by("state"))
    return {row["state"]: row["n"] for row in rows}


def totals(who: Who) -> dict[str, Any]:
    deliveries = visibility.deliveries(who).aggregate(n=Count("pk"), rows=Sum("rows"))
    orders = visibility.orders(who)
    settled = (orders.filter(settled_amount__isnull=False).values("currency")
               .annotate(amount=Sum("settled_amount"), n=Count("pk")).order_by("currency"))
    return {"deliveries": deliveries["n"] or 0, "rows": deliveries["rows"] or 0,
            "orders": orders.count(), "settled": list(settled),
            "open_objections": visibility.objections(who).filter(
                state__in=Objection.OPEN_STATES).count(),
            "pending_requests": visibility.sharing_requests(who).filter(
                state=SharingRequest.State.PENDING).count()}


def overdue_requests(who: Who) -> QuerySet[SharingRequest]:
    """Pending requests past their review deadline."""
    return contracts.overdue_requests(among=visibility.sharing_requests(who))


def overdue_or_escalated_requests(who: Who) -> QuerySet[SharingRequest]:
    """Pending requests past their deadline or escalated to the data authority."""
    among = visibility.sharing_requests(who)
    return (contracts.overdue_requests(among=among)
            | contracts.escalated_requests(among=among)).distinct()


def overdue_objections(who: Who) -> QuerySet[Objection]:
    """Open objections past a deadline or escalated."""
    return contracts.overdue_objections(among=visibility.objections(who))


def open_erasures(who: Who) -> QuerySet[ErasureRequest]:
    """Erasure requests awaiting a decision or a re-examination, soonest deadline first."""
    return contracts.open_erasures(among=visibility.erasure_requests(who))


def deliveries_near_expiry(who: Who) -> QuerySet[Delivery]:
    """Deliveries made near their grant's end (``contracts.deadlines.NEAR_EXPIRY``): data
    pulled at the last moment is a pattern worth a look."""
    return (visibility.deliveries(who)
            .select_related("grant__grantee", "grant__resource__provider")
            .filter(deadlines.delivered_near_expiry_q()).order_by("-delivered"))


def repeated_refusals(who: Who, minimum: int = REPEATED_REFUSALS) -> QuerySet[Any]:
    """Requesters refused ``minimum`` times or more."""
    refused = visibility.sharing_requests(who).filter(state=SharingRequest.State.REFUSED)
    found: QuerySet[Any] = (
        refused.values("requester__code", "requester__name_zh")
        .annotate(refusals=Count("pk"), providers=Count("resource__provider", distinct=True))
        .filter(refusals__gte=minimum).order_by("-refusals"))
    return found


def order_totals(who: Who, **grouping: Any) -> list[dict[str, Any]]:
    """Settled turnover (``contracts.selectors.order_totals``) over the visible orders."""
    return contracts.order_totals(among=visibility.orders(who), **grouping)


def attestations() -> QuerySet[Entry]:
    """The auditors' signed attestations of clean verifications, newest first (public)."""
    return Entry.objects.filter(kind=ATTESTATION).select_related("payload_row").order_by("-seq")


EXCHANGE_KINDS = Q(kind="contracts.delivery.recorded") | Q(kind__startswith="contracts.order.")


def _subjects_of(participant: Participant) -> list[str]:
    orders = Order.objects.filter(Q(buyer=participant) | Q(seller=participant)
                                  | Q(notary=participant)).values_list("code", flat=True)
    grants = Grant.objects.filter(Q(grantee=participant)
                                  | Q(resource__provider=participant)).values_list("pk",
                                                                                  flat=True)
    return [*(f"contracts/order/{c}" for c in orders),
            *(f"contracts/grant/{pk}" for pk in grants)]


def exchange_log(*, kind: str = "", since: datetime | None = None,
                 until: datetime | None = None,
                 participant: Participant | None = None) -> QuerySet[Entry]:
    """The exchange log: deliveries and order events as recorded on the ledger (entries are
    public; their payloads are read through the payload policy), unordered. ``kind`` is
    ``delivery`` or ``order`` (empty: both); ``participant`` a party (seller, buyer,
    notary, provider or grantee)."""
    found = Entry.objects.filter(EXCHANGE_KINDS).select_related("payload_row")
    if kind == "delivery":
        found = found.filter(kind="contracts.delivery.recorded")
    elif kind == "order":
        found = found.filter(kind__startswith="contracts.order.")
    if since is not None:
        found = found.filter(recorded__gte=since)
    if until is not None:
        found = found.filter(recorded__lt=until)
    if participant is not None:
        found = found.filter(Q(actor=participant.code)
                             | Q(subject__in=_subjects_of(participant)))
    return found

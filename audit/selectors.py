"""The regulator's reads: exchange volume over time, workflow states, overdue items and
anomalies. Every figure is aggregated in the database (GROUP BY), not counted in Python."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate

from contracts.calendar import SHANGHAI
from contracts.models import Delivery, Objection, Order, SharingRequest
from ledger.models import Entry

NEAR_EXPIRY = timedelta(days=3)
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


def deliveries_per_day(since: datetime) -> QuerySet[Any]:
    """Deliveries and rows delivered per day (Asia/Shanghai) since ``since``."""
    return (Delivery.objects.filter(delivered__gte=since)
            .annotate(day=TruncDate("delivered", tzinfo=SHANGHAI)).values("day")
            .annotate(deliveries=Count("pk"), rows=Sum("rows")).order_by("day"))


def orders_per_day(since: datetime) -> QuerySet[Any]:
    """Orders placed per day since ``since``."""
    return (Order.objects.filter(created__gte=since)
            .annotate(day=TruncDate("created", tzinfo=SHANGHAI)).values("day")
            .annotate(orders=Count("pk")).order_by("day"))


def settlements_per_day(since: datetime) -> QuerySet[Any]:
    """Settled orders and settled amount (all currencies summed per currency) per day."""
    return (Order.objects.filter(settled_at__gte=since, settled_amount__isnull=False)
            .annotate(day=TruncDate("settled_at", tzinfo=SHANGHAI)).values("day", "currency")
            .annotate(settled=Count("pk"), amount=Sum("settled_amount")).order_by("day"))


def by_state(model: type[Any]) -> dict[str, int]:
    rows = model.objects.values("state").annotate(n=Count("pk")).order_by("state")
    return {row["state"]: row["n"] for row in rows}


def totals() -> dict[str, Any]:
    deliveries = Delivery.objects.aggregate(n=Count("pk"), rows=Sum("rows"))
    orders = Order.objects.aggregate(n=Count("pk"))
    settled = (Order.objects.filter(settled_amount__isnull=False).values("currency")
               .annotate(amount=Sum("settled_amount"), n=Count("pk")).order_by("currency"))
    return {"deliveries": deliveries["n"] or 0, "rows": deliveries["rows"] or 0,
            "orders": orders["n"] or 0, "settled": list(settled),
            "open_objections": Objection.objects.filter(
                state__in=Objection.OPEN_STATES).count(),
            "pending_requests": SharingRequest.objects.filter(
                state=SharingRequest.State.PENDING).count()}


def deliveries_near_expiry(window: timedelta = NEAR_EXPIRY) -> QuerySet[Delivery]:
    """Deliveries made within ``window`` of their grant's end: data pulled at the last
    moment is a pattern worth a look."""
    return (Delivery.objects.select_related("grant__grantee", "grant__resource__provider")
            .filter(delivered__gte=F("grant__valid_until") - window,
                    delivered__lte=F("grant__valid_until"))
            .order_by("-delivered"))


def repeated_refusals(minimum: int = REPEATED_REFUSALS) -> QuerySet[Any]:
    """Requesters refused ``minimum`` times or more."""
    return (SharingRequest.objects.filter(state=SharingRequest.State.REFUSED)
            .values("requester__code", "requester__name_zh")
            .annotate(refusals=Count("pk"), providers=Count("resource__provider",
                                                            distinct=True))
            .filter(refusals__gte=minimum).order_by("-refusals"))


def attestations() -> QuerySet[Entry]:
    """The auditors' signed attestations of clean verifications, newest first."""
    return Entry.objects.filter(kind=ATTESTATION).select_related("payload_row").order_by("-seq")

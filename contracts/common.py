"""Small helpers shared by the workflow modules: the clock, ledger times, items."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from catalog.models import DataItem, DataResource, ResourceStatus
from kernel.errors import IllegalTransition, InvalidInput
from ledger.protocol.format import format_time
from operators import authz

User = authz.User


def now() -> datetime:
    return timezone.now()


def when(moment: datetime | None) -> str | None:
    """A ledger time string (UTC, six fractional digits, Z), or None."""
    return format_time(moment) if moment is not None else None


def published(resource: DataResource) -> None:
    """IllegalTransition unless the resource is published now (read from the database)."""
    status = DataResource.objects.filter(pk=resource.pk).values_list("status", flat=True)
    current = status.first()
    if current != ResourceStatus.PUBLISHED:
        raise IllegalTransition(f"resource {resource.code} is {current}, not published")


def published_items(resource: DataResource, items: Iterable[DataItem | str],
                    field: str = "items") -> list[DataItem]:
    """:func:`published`, then :func:`items_of`, in one query (the items carry their
    resource's status)."""
    items = list(items)
    if not items:
        published(resource)
        return []
    rows = list(DataItem.objects.filter(resource_id=resource.pk)
                .annotate(resource_status=F("resource__status")))
    if not rows or rows[0].resource_status != ResourceStatus.PUBLISHED:
        published(resource)
    return _chosen(resource, items, {row.name: row for row in rows}, field)


def items_of(resource: DataResource, items: Iterable[DataItem | str],
             field: str = "items") -> list[DataItem]:
    """The resource's data items named or given; InvalidInput for any other."""
    items = list(items)
    by_name = {item.name: item for item in resource.items.all()} if items else {}
    return _chosen(resource, items, by_name, field)


def _chosen(resource: DataResource, items: list[DataItem | str],
            by_name: dict[str, DataItem], field: str) -> list[DataItem]:
    chosen: list[DataItem] = []
    for n, item in enumerate(items):
        name = item.name if isinstance(item, DataItem) else str(item)
        found = by_name.get(name)
        if found is None or (isinstance(item, DataItem) and item.resource_id != resource.pk):
            raise InvalidInput(f"{field}[{n}]", f"{name!r} is not a data item of {resource.code}")
        if found in chosen:
            raise InvalidInput(f"{field}[{n}]", f"{name!r} appears twice")
        chosen.append(found)
    return chosen


def item_names(items: Iterable[DataItem]) -> list[str]:
    return sorted(item.name for item in items)



"""Small helpers shared by the workflow modules: subjects, times, items, money, actors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from catalog.models import DataItem, DataResource, ResourceStatus
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger.format import format_time
from operators import authz
from operators.models import Kind, Participant

User = authz.User
CENT = Decimal("0.01")


def now() -> datetime:
    return timezone.now()


def when(moment: datetime | None) -> str | None:
    """A ledger time string (UTC, six fractional digits, Z), or None."""
    return format_time(moment) if moment is not None else None


def required(field: str, text: str, action: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidInput(field, f"is required to {action}")
    return cleaned


def published(resource: DataResource) -> None:
    """IllegalTransition unless the resource is published now (read from the database)."""
    status = DataResource.objects.filter(pk=resource.pk).values_list("status", flat=True)
    current = status.first()
    if current != ResourceStatus.PUBLISHED:
        raise IllegalTransition(f"resource {resource.code} is {current}, not published")


def items_of(resource: DataResource, items: Iterable[DataItem | str],
             field: str = "items") -> list[DataItem]:
    """The resource's data items named or given; InvalidInput for any other."""
    chosen: list[DataItem] = []
    by_name = {item.name: item for item in resource.items.all()}
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


def money(value: Any, field: str = "amount") -> Decimal:
    """A non-negative amount with at most two decimals, given as a string (never a float)."""
    if isinstance(value, float):
        raise InvalidInput(field, "give money as a decimal string such as '1250.00', not a float")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(field, "must be a decimal amount such as 1250.00") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(field, "must be a finite amount >= 0")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(field, "has more than two decimals")
    return amount.quantize(CENT)


def money_text(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def currency_code(value: str, field: str = "currency") -> str:
    if not (isinstance(value, str) and len(value) == 3 and value.isascii()
            and value.isalpha() and value.isupper()):
        raise InvalidInput(field, "must be an ISO 4217 code such as CNY")
    return value


def reviewing_authority(user: User) -> Participant | None:
    """The admitted data authority ``user`` reviews for (admin or reviewer role), if any."""
    if not authz.has_kind(user, Kind.AUTHORITY):
        return None
    try:
        return authz.acting_for(user, kinds=[Kind.AUTHORITY], roles=authz.REVIEW_ROLES)
    except NotPermitted:
        return None


def member_of(user: User, *participants: Participant | None) -> Participant | None:
    """The first admitted participant among ``participants`` that ``user`` acts for."""
    for participant in participants:
        if participant is not None and participant.is_admitted and authz.is_member(
            user, participant
        ):
            return participant
    return None


def one_of(user: User, choices: Sequence[tuple[Participant, str]],
           doing: str) -> tuple[Participant, str]:
    """(participant, side) of the first side ``user`` acts for, or NotPermitted."""
    for participant, side in choices:
        if member_of(user, participant) is not None:
            return participant, side
    sides = " or ".join(side for _, side in choices)
    raise NotPermitted(f"only the {sides} may {doing}")

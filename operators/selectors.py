"""Reads of participants."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kernel.errors import NotFound
from operators import authz
from operators.models import Kind, Participant


def participants(*, kind: str | None = None, status: str | None = None,
                 text: str | None = None) -> QuerySet[Participant]:
    """The directory: every participant's public facts are public."""
    query = Participant.objects.all()
    if kind:
        query = query.filter(kind=kind)
    if status:
        query = query.filter(status=status)
    if text:
        query = query.filter(
            Q(name_zh__icontains=text) | Q(name_en__icontains=text) | Q(code__icontains=text)
        )
    return query.order_by("kind", "code")


def participant(code: str) -> Participant:
    found = Participant.objects.filter(code=code.upper()).first()
    if found is None:
        raise NotFound(f"no participant {code}")
    return found


def sees_contacts(user: authz.User, participant: Participant) -> bool:
    """Contacts are personal information: the participant's members, the data authority
    and regulators see them."""
    return authz.is_member(user, participant) or authz.has_kind(
        user, Kind.AUTHORITY, Kind.REGULATOR
    )


def authority() -> Participant | None:
    return Participant.objects.filter(kind=Kind.AUTHORITY).order_by("id").first()


def awaiting_review() -> QuerySet[Participant]:
    return Participant.objects.filter(status__in=["applied", "under_review"]).order_by("created")

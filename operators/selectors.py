"""Reads of participants."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from operators.models import Kind, Participant


def participants(among: QuerySet[Participant], *, kind: str | None = None,
                 status: str | None = None, text: str | None = None) -> QuerySet[Participant]:
    """The directory: ``among`` (the participants the reader may see) filtered."""
    query = among
    if kind:
        query = query.filter(kind=kind)
    if status:
        query = query.filter(status=status)
    if text:
        query = query.filter(
            Q(name_zh__icontains=text) | Q(name_en__icontains=text) | Q(code__icontains=text)
        )
    return query.order_by("kind", "code")


def authority() -> Participant | None:
    return Participant.objects.filter(kind=Kind.AUTHORITY).order_by("id").first()


def awaiting_review() -> QuerySet[Participant]:
    return Participant.objects.filter(status__in=["applied", "under_review"]).order_by("created")

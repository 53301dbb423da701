"""Who acts for whom: memberships, roles and kinds, used by every app's services."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as Person
from django.db.models import QuerySet

from kernel.errors import NotPermitted
from operators.models import Membership, Participant, Status

User = Person | AnonymousUser


def participants_of(user: User) -> QuerySet[Participant]:
    if not user.is_authenticated:
        return Participant.objects.none()
    return Participant.objects.filter(memberships__user=user)


def kinds_of(user: User) -> set[str]:
    return set(participants_of(user).values_list("kind", flat=True))


def is_member(user: User, participant: Participant, roles: Iterable[str] | None = None) -> bool:
    if not user.is_authenticated:
        return False
    query = Membership.objects.filter(user=user, participant=participant)
    if roles is not None:
        query = query.filter(role__in=list(roles))
    return query.exists()


def has_kind(user: User, *kinds: str) -> bool:
    return bool(kinds_of(user) & set(kinds))


def acting_for(user: User, participant: Participant | None = None, *,
               kinds: Iterable[str] | None = None, roles: Iterable[str] | None = None,
               admitted: bool = True) -> Participant:
    """The participant ``user`` acts for here, or NotPermitted saying why not.

    With ``participant`` given, the user must be its member; otherwise the user's only
    participant of the wanted kinds is taken.
    """
    if not user.is_authenticated:
        raise NotPermitted("sign in first")
    wanted = set(kinds) if kinds is not None else None
    if participant is None:
        candidates = participants_of(user)
        if wanted is not None:
            candidates = candidates.filter(kind__in=wanted)
        found = list(candidates[:2])
        if len(found) != 1:
            need = " or ".join(sorted(wanted)) if wanted else "a participant"
            raise NotPermitted(f"this action needs you to act for exactly one {need}")
        participant = found[0]
    elif not is_member(user, participant):
        raise NotPermitted(f"you do not act for {participant.code}")
    if wanted is not None and participant.kind not in wanted:
        raise NotPermitted(f"{participant.code} is a {participant.kind}, not a "
                           f"{' or '.join(sorted(wanted))}")
    if roles is not None and not is_member(user, participant, roles):
        raise NotPermitted(f"your role in {participant.code} does not allow this")
    if admitted and participant.status != Status.ADMITTED:
        raise NotPermitted(f"{participant.code} is {participant.status}, not admitted")
    return participant


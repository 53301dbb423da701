"""Who acts for whom: memberships, roles and kinds, used by every app's services.

A person's memberships are read once per request or service call (kernel.request_cache),
in one query, and every question below is answered from them; a change of a membership or
of a participant empties the scope.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as Person
from django.db.models import F, QuerySet
from django.db.models.signals import post_delete, post_save

from kernel import request_cache
from kernel.errors import NotPermitted
from operators.models import Membership, Participant, Status

User = Person | AnonymousUser


def participants_of(user: User) -> QuerySet[Participant]:
    if not user.is_authenticated:
        return Participant.objects.none()
    return Participant.objects.filter(memberships__user=user)


def memberships(user: User) -> tuple[tuple[Participant, str], ...]:
    """(participant, role) for each participant ``user`` acts for, in the participants'
    order; read once per scope."""
    if not user.is_authenticated:
        return ()

    def read() -> tuple[tuple[Participant, str], ...]:
        rows = participants_of(user).annotate(membership_role=F("memberships__role"))
        return tuple((row, row.membership_role) for row in rows)

    return request_cache.remembered(("memberships", user.pk), read)


def participants(user: User) -> tuple[Participant, ...]:
    return tuple(participant for participant, _ in memberships(user))


def kinds_of(user: User) -> set[str]:
    return {participant.kind for participant, _ in memberships(user)}


def role_in(user: User, participant: Participant) -> str | None:
    for mine, role in memberships(user):
        if mine.pk == participant.pk:
            return role
    return None


def is_member(user: User, participant: Participant, roles: Iterable[str] | None = None) -> bool:
    role = role_in(user, participant)
    return role is not None and (roles is None or role in set(roles))


def _changed(**kwargs: object) -> None:
    request_cache.forget()


for _model in (Membership, Participant):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"authz-{_model.__name__}-saved")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"authz-{_model.__name__}-gone")


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
        found = [p for p in participants(user) if wanted is None or p.kind in wanted]
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


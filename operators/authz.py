"""Who acts for whom: memberships, roles and kinds, used by every app's services."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as Person
from django.db.models import QuerySet
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from kernel.errors import NotPermitted
from operators.models import Kind, Membership, Participant, Status

User = Person | AnonymousUser


def _kind_labels(kinds: frozenset[str]) -> str:
    return ", ".join(str(Kind(kind).label) for kind in sorted(kinds))


_kinds = lazy(lambda kinds: _kind_labels(frozenset(kinds)), str)


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
        raise NotPermitted(_("sign in first"))
    wanted = set(kinds) if kinds is not None else None
    if participant is None:
        candidates = participants_of(user)
        if wanted is not None:
            candidates = candidates.filter(kind__in=wanted)
        found = list(candidates[:2])
        if len(found) != 1:
            raise NotPermitted(_("this action needs you to act for exactly one participant "
                                 "of these kinds: %(kinds)s"), kinds=_kinds(wanted))
        participant = found[0]
    elif not is_member(user, participant):
        raise NotPermitted(_("you do not act for %(name)s"), name=participant.name_zh)
    if wanted is not None and participant.kind not in wanted:
        raise NotPermitted(_("%(name)s is a %(kind)s, not one of: %(kinds)s"),
                           name=participant.name_zh, kind=participant.get_kind_display(),
                           kinds=_kinds(wanted))
    if roles is not None and not is_member(user, participant, roles):
        raise NotPermitted(_("your role in %(name)s does not allow this"),
                           name=participant.name_zh)
    if admitted and participant.status != Status.ADMITTED:
        raise NotPermitted(_("%(name)s is %(status)s, not admitted"),
                           name=participant.name_zh, status=participant.get_status_display())

    return participant


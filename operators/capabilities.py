"""Capabilities: the questions about a person that every rule asks, each named once.

Who oversees (the data authority, regulators, auditors: they read everything), who reviews
for the data authority, who acts for a given participant, who is a notarisation service,
and which kinds of participant may request data, build and buy products, or read the
directory. State-machine guards, the visibility policy, the inbox and the portal's
navigation all ask these, never their own copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kernel.errors import NotPermitted
from operators import authz
from operators.models import Kind, Participant, Role, ServiceType, Status

User = authz.User

# The kinds that read every object and every payload (regulators and auditors only read).
OVERSIGHT_KINDS = frozenset({Kind.AUTHORITY, Kind.REGULATOR, Kind.AUDITOR})
# Auditors, regulators and the data authority verify the ledger and export bundles.
AUDIT_KINDS = OVERSIGHT_KINDS
# The regulator's dashboard: regulators and the data authority.
REGULATOR_KINDS = frozenset({Kind.REGULATOR, Kind.AUTHORITY})
# Departments share with each other; operators and data merchants request authorised use.
REQUESTER_KINDS = frozenset({Kind.PROVIDER, Kind.OPERATOR, Kind.MERCHANT})
# Authorised operators and data merchants build products on their grants, and buy them.
MARKET_KINDS = frozenset({Kind.OPERATOR, Kind.MERCHANT})
# The directory is in the navigation of those who review participants.
DIRECTORY_NAV_KINDS = frozenset({Kind.AUTHORITY, Kind.REGULATOR})
# The roles of the data authority's people who review and sign for it.
REVIEW_ROLES = (Role.ADMIN, Role.REVIEWER)


@dataclass(frozen=True)
class Reader:
    """Who reads: a person and the participants they act for, a participant alone (a
    bundle exported for it), or nobody (an anonymous visitor)."""

    user: User | None
    participants: tuple[Participant, ...]

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(p.kind for p in self.participants)

    @property
    def oversees(self) -> bool:
        return bool(self.kinds & OVERSIGHT_KINDS)

    @property
    def signed_in(self) -> bool:
        return self.user is not None and self.user.is_authenticated

    @property
    def participant_ids(self) -> list[int]:
        return [p.pk for p in self.participants]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.participants)

    def acts_for(self, participant_id: int | None) -> bool:
        return participant_id is not None and participant_id in self.participant_ids


def reader(who: User | Reader | Participant | None) -> Reader:
    """The reader behind a request's user, a participant, or nobody."""
    if isinstance(who, Reader):
        return who
    if isinstance(who, Participant):
        return Reader(None, (who,))
    if who is None or not who.is_authenticated:
        return Reader(None, ())
    return Reader(who, authz.participants(who))


def oversees(user: User) -> bool:
    """Regulators, auditors and the data authority read every object."""
    return authz.has_kind(user, *OVERSIGHT_KINDS)


def has_kind(user: User, kinds: Iterable[str]) -> bool:
    return authz.has_kind(user, *kinds)


def acts_for(user: User | None, *participants: Participant | None) -> Participant | None:
    """The first admitted participant among ``participants`` that ``user`` acts for."""
    if user is None:
        return None
    for participant in participants:
        if participant is not None and participant.is_admitted and authz.is_member(
            user, participant
        ):
            return participant
    return None


def reviewing_authority(user: User | None) -> Participant | None:
    """The admitted data authority ``user`` reviews and signs for (admin or reviewer)."""
    if user is None or not authz.has_kind(user, Kind.AUTHORITY):
        return None
    try:
        return authz.acting_for(user, kinds=[Kind.AUTHORITY], roles=REVIEW_ROLES)
    except NotPermitted:
        return None


def require_reviewing_authority(user: User | None) -> Participant:
    found = reviewing_authority(user)
    if found is None:
        raise NotPermitted("only the data authority (an admin or reviewer of it) may do this")
    return found


def reviews_for(user: User | None, authority: Participant) -> bool:
    """Is ``user`` an admin or reviewer of this (admitted) data authority?"""
    if user is None or acts_for(user, authority) is None:
        return False
    return authz.is_member(user, authority, REVIEW_ROLES)


def notarisation_service(user: User | None) -> Participant | None:
    """The admitted notarisation service (数据公证) ``user`` acts for, if any."""
    if user is None or not user.is_authenticated:
        return None
    return next((p for p in authz.participants(user) if p.kind == Kind.THIRD_PARTY
                 and p.service_type == ServiceType.NOTARISATION
                 and p.status == Status.ADMITTED), None)


def third_party(user: User | None) -> Participant | None:
    """The third-party service (certification, notarisation, valuation) ``user`` acts for."""
    if user is None or not user.is_authenticated:
        return None
    return min((p for p in authz.participants(user) if p.kind == Kind.THIRD_PARTY),
               key=lambda p: p.pk, default=None)

"""Who may read a restricted ledger payload. Entries are public to readers of the ledger;
payloads marked restricted are shown (and exported) only to those with the right."""

from __future__ import annotations

from collections.abc import Iterable

from guardian.shortcuts import get_perms

from operators import authz
from operators.models import Kind, Participant

_EVERYTHING = {Kind.AUDITOR, Kind.REGULATOR, Kind.AUTHORITY}
_RESOURCE_SUBJECT = "catalog/resource/"


def _resource_code(subject: str) -> str | None:
    return subject[len(_RESOURCE_SUBJECT):] if subject.startswith(_RESOURCE_SUBJECT) else None


def readable_by_participants(participants: Iterable[Participant], *, actor: str,
                             subject: str, restricted: bool) -> bool:
    """May any of ``participants`` read a payload with this actor, subject and mark?"""
    if not restricted:
        return True
    parties = list(participants)
    if any(p.kind in _EVERYTHING or p.code == actor for p in parties):
        return True
    code = _resource_code(subject)
    if code is None:
        return False
    from catalog.models import DataResource

    resource = DataResource.objects.filter(code=code).first()
    return resource is not None and any(
        "view_restricted" in get_perms(p.group, resource) for p in parties
    )


def readable_by_user(user: authz.User, *, actor: str, subject: str, restricted: bool) -> bool:
    if not restricted:
        return True
    return readable_by_participants(authz.participants_of(user), actor=actor, subject=subject,
                                    restricted=restricted)

"""Who may see and manage which resources (django-guardian object permissions).

Provider members manage their own resources; the data authority, regulators and auditors
read everything; others see metadata by the opening attribute and restricted fields only
when a grant gave them ``view_restricted`` on the resource.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.functions import Cast
from guardian.models import GroupObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from catalog.models import DataResource, Opening, ResourceStatus
from kernel.errors import NotFound
from operators import authz
from operators.capabilities import Reader, reader
from operators.models import Participant, Status

MANAGE = "catalog.manage_resource"
VIEW_RESTRICTED = "catalog.view_restricted"


def give_provider_rights(resource: DataResource) -> None:
    assign_perm(MANAGE, resource.provider.group, resource)
    assign_perm(VIEW_RESTRICTED, resource.provider.group, resource)


def grant_restricted_view(participant: Participant, resource: DataResource) -> None:
    assign_perm(VIEW_RESTRICTED, participant.group, resource)


def revoke_restricted_view(participant: Participant, resource: DataResource) -> None:
    if participant.pk != resource.provider_id:
        remove_perm(VIEW_RESTRICTED, participant.group, resource)


Who = authz.User | Reader | Participant | None


def _given(found: Reader, permission: str) -> QuerySet[GroupObjectPermission]:
    """django-guardian's object permissions ``permission`` on resources given to the
    reader's participants (object permissions are only ever given to participants' groups),
    as one indexed query or subquery."""
    return GroupObjectPermission.objects.filter(
        group_id__in=[p.group_id for p in found.participants],
        content_type=ContentType.objects.get_for_model(DataResource),
        permission__codename=permission.split(".")[1],
    )


def _granted(found: Reader) -> QuerySet[GroupObjectPermission, Any]:
    """Resources whose restricted view a grant gave to one of the reader's participants."""
    return _given(found, VIEW_RESTRICTED).values(resource=Cast("object_pk", BigIntegerField()))


def _holds(found: Reader, permission: str, resource: DataResource) -> bool:
    return bool(found.participants) and _given(found, permission).filter(
        object_pk=str(resource.pk)).exists()


def visible(who: Who) -> QuerySet[DataResource]:
    """Resources the reader may know exist; everything else looks missing (404): open
    published metadata for everyone, conditionally open for admitted participants, drafts
    for their provider, the restricted ones a grant gave; everything for oversight."""
    found = reader(who)
    everything = DataResource.objects.all()
    if found.oversees:
        return everything
    published = Q(status__in=[ResourceStatus.PUBLISHED, ResourceStatus.WITHDRAWN])
    shown = published & Q(opening=Opening.OPEN)
    if found.participants:
        if any(p.status == Status.ADMITTED for p in found.participants):
            shown |= published & Q(opening=Opening.CONDITIONAL)
        shown |= Q(provider__in=found.participant_ids)
        shown |= published & Q(pk__in=_granted(found))
    return everything.filter(shown)


def missing(code: str) -> NotFound:
    """The error for a resource that does not exist, or that the reader may not see."""
    return NotFound(f"no resource {code}")


def require_visible(who: Who, resource: DataResource) -> None:
    """Services check this first, so an invisible resource looks missing there too."""
    if not visible(who).filter(pk=resource.pk).exists():
        raise missing(resource.code)


def can_manage(user: authz.User, resource: DataResource) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or _holds(reader(user), MANAGE, resource)


def sees_restricted(who: Who, resource: DataResource) -> bool:
    """The resource's restricted fields and items (and the payloads that carry them): its
    provider, grantees and oversight."""
    found = reader(who)
    if found.oversees or found.acts_for(resource.provider_id):
        return True
    return _holds(found, VIEW_RESTRICTED, resource)

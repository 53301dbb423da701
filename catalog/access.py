"""Who may see and manage which resources (django-guardian object permissions).

Provider members manage their own resources; the data authority, regulators and auditors
read everything; others see metadata by the opening attribute and restricted fields only
when a grant gave them ``view_restricted`` on the resource.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import assign_perm, get_objects_for_group, remove_perm

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


def _granted(found: Reader) -> set[int]:
    """Resources whose restricted view a grant gave to one of the reader's participants."""
    ids: set[int] = set()
    for participant in found.participants:
        ids.update(get_objects_for_group(participant.group, VIEW_RESTRICTED, klass=DataResource,
                                         accept_global_perms=False).values_list("pk", flat=True))
    return ids


def visible(who: Who) -> QuerySet[DataResource]:
    """Resources the reader may know exist; everything else looks missing (404): open
    published metadata for everyone, conditionally open for admitted participants and for
    data subjects (signed-in people acting for no participant, who may object to what a
    resource holds about them), drafts for their provider, the restricted ones a grant
    gave; everything for oversight."""
    found = reader(who)
    everything = DataResource.objects.all()
    if found.oversees:
        return everything
    published = Q(status__in=[ResourceStatus.PUBLISHED, ResourceStatus.WITHDRAWN])
    shown = published & Q(opening=Opening.OPEN)
    if not found.participants and getattr(who, "is_authenticated", False):
        shown |= published & Q(opening=Opening.CONDITIONAL)
    if found.participants:
        if any(p.status == Status.ADMITTED for p in found.participants):
            shown |= published & Q(opening=Opening.CONDITIONAL)

        shown |= Q(provider__in=found.participant_ids)
        shown |= published & Q(pk__in=_granted(found))
    return everything.filter(shown)


def missing(code: str) -> NotFound:
    """The error for a resource that does not exist, or that the reader may not see."""
    return NotFound(_("no resource %(code)s"), code=code)


def require_visible(who: Who, resource: DataResource) -> None:
    """Services check this first, so an invisible resource looks missing there too."""
    if not visible(who).filter(pk=resource.pk).exists():
        raise missing(resource.code)


def can_manage(user: authz.User, resource: DataResource) -> bool:
    return bool(user.is_authenticated and user.has_perm(MANAGE, resource))


def sees_restricted(who: Who, resource: DataResource) -> bool:
    """The resource's restricted fields and items (and the payloads that carry them): its
    provider, grantees and oversight."""
    found = reader(who)
    if found.oversees or found.acts_for(resource.provider_id):
        return True
    return any(VIEW_RESTRICTED.split(".")[1] in ObjectPermissionChecker(p.group).get_perms(
        resource) for p in found.participants)

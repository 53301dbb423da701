"""Who may see and manage which resources (django-guardian object permissions).

Provider members manage their own resources; the data authority, regulators and auditors
read everything; others see metadata by the opening attribute and restricted fields only
when a grant gave them ``view_restricted`` on the resource.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from catalog.models import DataResource, Opening, ResourceStatus
from kernel.errors import NotFound
from operators import authz
from operators.models import Participant

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


def visible(user: authz.User) -> QuerySet[DataResource]:
    """Resources ``user`` may know exist; everything else looks missing (404)."""
    everything = DataResource.objects.all()
    if authz.sees_everything(user):
        return everything
    published = Q(status__in=[ResourceStatus.PUBLISHED, ResourceStatus.WITHDRAWN])
    shown = published & Q(opening=Opening.OPEN)
    if user.is_authenticated:
        mine = authz.participants_of(user)
        if mine.filter(status="admitted").exists():
            shown |= published & Q(opening=Opening.CONDITIONAL)
        shown |= Q(provider__in=mine)
        granted = get_objects_for_user(user, VIEW_RESTRICTED, klass=DataResource,
                                       accept_global_perms=False)
        shown |= published & Q(pk__in=granted.values("pk"))
    return everything.filter(shown)


def missing(code: str) -> NotFound:
    """The error for a resource that does not exist, or that the reader may not see."""
    return NotFound(f"no resource {code}")


def require_visible(user: authz.User, resource: DataResource) -> None:
    """Services check this first, so an invisible resource looks missing there too."""
    if not visible(user).filter(pk=resource.pk).exists():
        raise missing(resource.code)


def can_manage(user: authz.User, resource: DataResource) -> bool:
    return bool(user.is_authenticated and user.has_perm(MANAGE, resource))


def sees_restricted(user: authz.User, resource: DataResource) -> bool:
    if not user.is_authenticated:
        return False
    return user.has_perm(VIEW_RESTRICTED, resource) or authz.sees_everything(user)

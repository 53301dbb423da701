"""Reads of the catalogue; visibility rules from catalog.access apply to every one."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from catalog import access
from catalog.models import Category, DataProduct, DataResource, ProductStatus, ResourceVersion
from kernel.errors import NotFound
from operators import authz
from operators.capabilities import reader
from operators.models import Kind, Status


@dataclass(frozen=True)
class ResourceFilter:
    text: str = ""
    category: str = ""
    grade: str = ""
    sharing: str = ""
    opening: str = ""
    provider: str = ""
    quality_failing: bool | None = None
    status: str = ""


def _descendants(code: str) -> list[int]:
    """The category and every category under it (one query per tree level)."""
    ids = list(Category.objects.filter(code=code).values_list("id", flat=True))
    frontier = ids
    while frontier:
        frontier = list(Category.objects.filter(parent_id__in=frontier).values_list("id",
                                                                                   flat=True))
        ids += frontier
    return ids


def search(user: authz.User, criteria: ResourceFilter = ResourceFilter()) -> (
    QuerySet[DataResource]
):
    """Visible resources matching every given criterion, filtered in the database."""
    query = access.visible(user).select_related("provider", "category")
    if criteria.text:
        t = criteria.text
        query = query.filter(Q(name__icontains=t) | Q(name_en__icontains=t)
                             | Q(description__icontains=t) | Q(code__icontains=t))
    if criteria.category:
        query = query.filter(category_id__in=_descendants(criteria.category))
    for field in ("grade", "sharing", "opening", "status"):
        value = getattr(criteria, field)
        if value:
            query = query.filter(**{field: value})
    if criteria.provider:
        query = query.filter(provider__code=criteria.provider)
    if criteria.quality_failing is not None:
        query = query.filter(quality_failing=criteria.quality_failing)
    return query.order_by("code")


def resource(user: authz.User, code: str) -> DataResource:
    """The resource if ``user`` may see it; NotFound otherwise (the two look alike)."""
    found = access.visible(user).select_related("provider", "category").filter(code=code).first()
    if found is None:
        raise access.missing(code)
    return found


def versions_of(resource: DataResource) -> QuerySet[ResourceVersion]:
    return resource.versions.order_by("-number")


def products(who: access.Who) -> QuerySet[DataProduct]:
    """Listed products are public; owners see their own; admitted third-party services also
    see those submitted for review (to certify them); the authority, auditors and
    regulators see all."""
    found = reader(who)
    query = DataProduct.objects.select_related("owner")
    if found.oversees:
        return query
    shown = Q(status=ProductStatus.LISTED) | Q(owner__in=found.participant_ids)
    if any(p.kind == Kind.THIRD_PARTY and p.status == Status.ADMITTED
           for p in found.participants):
        shown |= Q(status=ProductStatus.SUBMITTED)
    return query.filter(shown)


def missing_product(code: str) -> NotFound:
    return NotFound(_("no product %(code)s"), code=code)


def product(who: access.Who, code: str) -> DataProduct:
    found = products(who).filter(code=code).first()
    if found is None:
        raise missing_product(code)
    return found


def require_visible_product(who: access.Who, product: DataProduct) -> None:
    """Services check this first, so an invisible product looks missing there too."""
    if not products(who).filter(pk=product.pk).exists():
        raise missing_product(product.code)


def categories() -> QuerySet[Category]:
    return Category.objects.select_related("parent").order_by("code")

"""Changes to the catalogue; each public act is one ledger entry in the same transaction.

Drafts are the provider's private work and are not on the ledger; publishing (and every
revision of a published resource) creates an immutable version whose canonical JSON is
the payload of a ``catalog.resource.published`` entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog import access, versions
from catalog.models import (
    Category,
    DataItem,
    DataResource,
    DataType,
    Desensitisation,
    Frequency,
    Grade,
    Opening,
    ResourceStatus,
    Sharing,
)
from kernel.errors import InvalidInput, NotPermitted
from kernel.states import Machine, Transition
from kernel.text import required_text
from ledger.models import Entry
from operators import authz
from operators.models import Kind, Participant
from operators.transitions import Change, Recorded, lock, take

RESOURCE_FIELDS = (
    "name", "name_en", "description", "grade", "sensitivity", "sharing", "sharing_basis",
    "opening", "update_frequency", "source_system", "data_format", "responsible_person",
)
ITEM_FIELDS = ("name", "standard_code", "authoritative", "data_type", "description",
               "sensitivity", "personal_information", "desensitisation")



def _manager(user: Any, resource: DataResource) -> Participant:
    """A member of the resource's provider who manages it."""
    if user is None or not access.can_manage(user, resource):
        raise NotPermitted(_("you do not manage resource %(code)s"), code=resource.code)
    return authz.acting_for(user, resource.provider, kinds=[Kind.PROVIDER])


def _unchanged(resource: DataResource, actor: Any) -> str:
    return resource.status


RS = ResourceStatus
RESOURCE: Machine[DataResource] = Machine("resource", [
    Transition("publish", (RS.DRAFT, RS.WITHDRAWN), RS.PUBLISHED, _manager),
    Transition("revise", (RS.DRAFT, RS.PUBLISHED), _unchanged, _manager),
    Transition("withdraw", (RS.PUBLISHED,), RS.WITHDRAWN, _manager),
], field="status")


def _choice(field: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InvalidInput(field, _("must be one of %(choices)s"), choices=", ".join(choices))


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(RESOURCE_FIELDS)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], _("is not a resource field"))
    if "name" in fields and not str(fields["name"]).strip():
        raise InvalidInput("name", _("is required"))
    for field, choices in (("grade", Grade.values), ("sharing", Sharing.values),
                           ("opening", Opening.values),
                           ("update_frequency", Frequency.values)):
        if field in fields:
            _choice(field, fields[field], choices)
    if "sensitivity" in fields and fields["sensitivity"] not in (1, 2, 3, 4):
        raise InvalidInput("sensitivity", _("must be a level from 1 to 4"))


def _check_complete(resource: DataResource) -> None:
    if resource.sharing != Sharing.UNCONDITIONAL and not resource.sharing_basis.strip():
        raise InvalidInput("sharing_basis",
                           _("the legal basis is required for conditional or no sharing"))


def _check_items(resource: DataResource, items: Sequence[dict[str, Any]]) -> None:
    names: set[str] = set()
    claimed: set[str] = set()
    for index, item in enumerate(items):
        where = f"items[{index}]"
        unknown = set(item) - set(ITEM_FIELDS)
        if unknown:
            raise InvalidInput(f"{where}.{sorted(unknown)[0]}", _("is not a data item field"))
        name = str(item.get("name", "")).strip()
        if not name:
            raise InvalidInput(f"{where}.name", _("is required"))
        if name in names:
            raise InvalidInput(f"{where}.name", _("“%(name)s” appears twice"), name=name)
        names.add(name)
        data_type = str(item.get("data_type", "")).strip()
        if not data_type:
            raise InvalidInput(f"{where}.data_type", _("is required"))
        if data_type not in DataType.values:
            raise InvalidInput(f"{where}.data_type", _("must be one of %(choices)s"),
                               choices=", ".join(DataType.values))
        if item.get("sensitivity", 1) not in (1, 2, 3, 4):
            raise InvalidInput(f"{where}.sensitivity", _("must be a level from 1 to 4"))
        _choice(f"{where}.desensitisation", item.get("desensitisation", "none"),
                Desensitisation.values)
        if item.get("personal_information") and item.get(
                "desensitisation", Desensitisation.NONE) == Desensitisation.NONE:
            raise InvalidInput(f"{where}.desensitisation", "personal information must declare "
                               "the desensitisation its deliveries apply (mask, hash or "
                               "generalise)")
        if item.get("authoritative") and not item.get("standard_code"):
            raise InvalidInput(f"{where}.standard_code",
                               _("an authoritative source must name the standard it sources"))
        if item.get("authoritative"):
            if item["standard_code"] in claimed:
                raise InvalidInput(f"{where}.standard_code",
                                   _("%(standard)s is claimed by two items (一数一源)"),
                                   standard=item["standard_code"])
            claimed.add(item["standard_code"])
            _check_one_source(resource, f"{where}.standard_code", item["standard_code"])


def _check_one_source(resource: DataResource, field: str, standard: str) -> None:
    """一数一源: a data standard has exactly one authoritative source resource."""
    holder = (
        DataItem.objects.filter(standard_code=standard, authoritative=True)
        .exclude(resource=resource).select_related("resource__provider").first()
    )
    if holder is not None:
        raise InvalidInput(
            field, _("%(standard)s already has its one source: resource %(code)s of "
                     "%(provider)s (一数一源)"),
            standard=standard, code=holder.resource.code,
            provider=holder.resource.provider.name_zh)


def _check_personal_kept(resource: DataResource, items: Sequence[dict[str, Any]]) -> None:
    """Once published, an item declared personal information stays so: grants were decided,
    and its deliveries are checked (``contracts.desensitisation``), on that declaration, and a
    revision taking it back would let the item be delivered in the clear."""
    if resource.version == 0:
        return
    personal = set(resource.items.filter(personal_information=True)
                   .values_list("name", flat=True))
    for index, item in enumerate(items):
        name = str(item.get("name", "")).strip()
        if name in personal and not item.get("personal_information"):
            raise InvalidInput(f"items[{index}].personal_information", _(
                "%(item)s is declared personal information in a published version: a "
                "revision cannot take that back") % {"item": name})


def _replace_items(resource: DataResource, items: Sequence[dict[str, Any]]) -> None:
    """Make the resource's items exactly ``items``. An item that keeps its name is updated
    in place, so its quality rules stay; items no longer named go, with their rules."""
    _check_items(resource, items)
    _check_personal_kept(resource, items)
    kept = {item.name: item.pk for item in resource.items.all()}
    names = [item["name"] for item in items]
    resource.items.exclude(name__in=names).delete()
    resource.items.update(authoritative=False)  # claims are re-made below, in any order
    for item in items:
        row = DataItem(resource=resource, **{k: v for k, v in item.items() if k in ITEM_FIELDS})
        row.pk = kept.get(item["name"])
        row.save()


def resource_author(by: Any, provider: Participant | None = None) -> Participant:
    """Who may create a resource: a member of an admitted provider department (checked
    first, before any input)."""
    return authz.acting_for(by, provider, kinds=[Kind.PROVIDER])


def create_resource(*, by: authz.User, code: str, category: Category,
                    items: Sequence[dict[str, Any]] = (), provider: Participant | None = None,
                    **fields: Any) -> DataResource:
    """A draft catalogue entry of the acting provider department."""
    owner = resource_author(by, provider)
    if not code.strip():
        raise InvalidInput("code", _("is required"))
    if DataResource.objects.filter(code=code).exists():
        raise InvalidInput("code", _("%(code)s is already in the catalogue"), code=code)
    _check_fields(fields)
    for required in ("name", "grade", "sensitivity", "sharing", "opening", "update_frequency"):
        if required not in fields:
            raise InvalidInput(required, _("is required"))
    with transaction.atomic():
        resource = DataResource(code=code.strip(), provider=owner, category=category, **fields)
        _check_complete(resource)
        resource.save()
        _replace_items(resource, items)
        access.give_provider_rights(resource)
    return resource


def _publication(resource: DataResource, actor: Any) -> Change:
    """A new version: its document is the payload of ``catalog.resource.published``."""
    _check_complete(resource)
    resource.version += 1
    return Change(restricted=resource.opening != Opening.OPEN)


def _store_version(resource: DataResource, actor: Any, entry: Entry) -> None:
    versions.store(resource, versions.content(resource), entry)


RESOURCE_RECORDED: Recorded[DataResource] = Recorded(
    kind=lambda action: "catalog.resource.withdrawn" if action == "withdraw"
    else "catalog.resource.published",
    subject=versions.subject,
    payload=lambda r: versions.content(r) if r.status == ResourceStatus.PUBLISHED
    else {"resource": r.code, "version": r.version},
    related=("provider", "category"))


def publish_resource(*, by: authz.User, resource: DataResource) -> DataResource:
    """Publish a draft (version 1) or re-publish a withdrawn resource as a new version."""
    access.require_visible(by, resource)
    return take(RESOURCE, RESOURCE_RECORDED, resource, "publish", by=by, change=_publication,
                after=_store_version)


def _edit(resource: DataResource, fields: dict[str, Any],
          items: Sequence[dict[str, Any]] | None) -> None:
    for name, value in fields.items():
        setattr(resource, name, value)
    _check_complete(resource)
    resource.save()
    if items is not None:
        _replace_items(resource, items)


def preview_revision(*, by: authz.User, resource: DataResource,
                     items: Sequence[dict[str, Any]] | None = None,
                     **fields: Any) -> dict[str, Any]:
    """The version document ``revise_resource`` would publish with these changes, checked
    exactly as it checks them; nothing is kept (the edit is rolled back) and nothing goes on
    the ledger."""
    access.require_visible(by, resource)
    RESOURCE.permit(by, resource, "revise")
    _check_fields(fields)
    with transaction.atomic():
        locked = lock(resource, RESOURCE_RECORDED.related)
        _edit(locked, fields, items)
        if locked.status == ResourceStatus.PUBLISHED:
            locked.version += 1
        document = versions.content(locked)
        transaction.set_rollback(True)
    return document


def revise_resource(*, by: authz.User, resource: DataResource,
                    items: Sequence[dict[str, Any]] | None = None,
                    **fields: Any) -> DataResource:
    """Edit a resource; a published one gets a new version (and entry) at once, a draft
    changes without one."""
    access.require_visible(by, resource)
    RESOURCE.permit(by, resource, "revise")
    _check_fields(fields)

    def change(locked: DataResource, actor: Any) -> Change:
        _edit(locked, fields, items)
        return _publication(locked, actor)

    with transaction.atomic():
        locked = lock(resource, RESOURCE_RECORDED.related)
        if locked.status == ResourceStatus.PUBLISHED:
            return take(RESOURCE, RESOURCE_RECORDED, locked, "revise", by=by, change=change,
                        after=_store_version)
        RESOURCE.permit(by, locked, "revise")
        _edit(locked, fields, items)
    return locked


def withdraw_resource(*, by: authz.User, resource: DataResource,
                      reason: str) -> DataResource:
    access.require_visible(by, resource)

    def change(locked: DataResource, actor: Any) -> dict[str, Any]:
        return {"reason": required_text("reason", reason, _("to withdraw a resource"))}


    return take(RESOURCE, RESOURCE_RECORDED, resource, "withdraw", by=by, change=change)

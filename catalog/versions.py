"""Immutable published versions of a resource, and checking one against its entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.models import DataResource, ResourceVersion
from crypto.canonical import canonical, parse
from crypto.sm3 import sm3_hex
from ledger import selectors as ledger_selectors
from ledger.models import Entry


def subject(resource: DataResource) -> str:
    return f"catalog/resource/{resource.code}"


def content(resource: DataResource) -> dict[str, Any]:
    """The version's document: everything the catalogue says about the resource."""
    return {
        "resource": resource.code,
        "version": resource.version,
        "provider": resource.provider.code,
        "name": resource.name,
        "name_en": resource.name_en,
        "description": resource.description,
        "category": resource.category.code,
        "grade": resource.grade,
        "sensitivity": resource.sensitivity,
        "sharing": resource.sharing,
        "sharing_basis": resource.sharing_basis,
        "opening": resource.opening,
        "update_frequency": resource.update_frequency,
        "source_system": resource.source_system,
        "data_format": resource.data_format,
        "responsible_person": resource.responsible_person,
        "items": [
            {
                "name": item.name, "standard_code": item.standard_code,
                "authoritative": item.authoritative, "data_type": item.data_type,
                "description": item.description, "sensitivity": item.sensitivity,
                "personal_information": item.personal_information,
                "desensitisation": item.desensitisation,
            }
            for item in resource.items.order_by("id")
        ],
    }


def store(resource: DataResource, document: dict[str, Any], entry: Entry) -> ResourceVersion:
    text = canonical(document).decode("utf-8")
    return ResourceVersion.objects.create(
        resource=resource, number=resource.version, content=text,
        digest=sm3_hex(text.encode("utf-8")), entry_seq=entry.seq,
    )


def matches_entry(version: ResourceVersion) -> bool:
    """Anyone may check that a displayed version is what the ledger recorded: its entry's
    own bytes (checked against their leaf hash) say kind catalog.resource.published about
    this resource, and commit to exactly this content (SM3 of the salt and its canonical
    bytes is the entry's payload commitment)."""
    entry = Entry.objects.filter(seq=version.entry_seq).first()
    if entry is None or sm3_hex(version.content.encode("utf-8")) != version.digest:
        return False
    try:
        statement = ledger_selectors.statement(entry)
    except ledger_selectors.LedgerDamaged:
        return False
    return (
        statement["kind"] == "catalog.resource.published"
        and statement["subject"] == subject(version.resource)
        and ledger_selectors.payload_matches(entry.seq, parse(version.content))
    )


FIELDS = ("name", "name_en", "description", "category", "grade", "sensitivity", "sharing",
          "sharing_basis", "opening", "update_frequency", "source_system", "data_format",
          "responsible_person")
ITEM_FIELDS = ("standard_code", "authoritative", "data_type", "description", "sensitivity",
               "personal_information", "desensitisation")


@dataclass(frozen=True)
class Change:
    """One difference between two version documents: ``where`` is a field name, or
    ``items.<name>`` / ``items.<name>.<field>`` for a data item."""

    where: str
    old: Any
    new: Any
    item: str = ""
    field: str = ""

    @property
    def kind(self) -> str:
        """added, removed or changed."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """What ``new`` changes from ``old`` (None: everything is new), field by field and
    item by item (items matched by name)."""
    before = old or {}
    changes = [Change(name, before.get(name), new.get(name), field=name) for name in FIELDS
               if before.get(name) != new.get(name)]
    old_items = {i["name"]: i for i in before.get("items", [])}
    new_items = {i["name"]: i for i in new.get("items", [])}
    for name in new_items.keys() - old_items.keys():
        changes.append(Change(f"items.{name}", None, new_items[name], item=name))
    for name in old_items.keys() - new_items.keys():
        changes.append(Change(f"items.{name}", old_items[name], None, item=name))
    for name in sorted(old_items.keys() & new_items.keys()):
        for field in ITEM_FIELDS:
            was, now = old_items[name].get(field), new_items[name].get(field)
            if was != now:
                changes.append(Change(f"items.{name}.{field}", was, now, item=name,
                                      field=field))
    return sorted(changes, key=lambda c: (bool(c.item), c.item, c.where))


def document(version: ResourceVersion) -> dict[str, Any]:
    found: dict[str, Any] = parse(version.content)
    return found

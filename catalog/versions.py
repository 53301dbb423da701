"""Immutable published versions of a resource, and checking one against its entry."""

from __future__ import annotations

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

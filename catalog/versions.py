"""Immutable published versions of a resource, and checking one against its entry."""

from __future__ import annotations

from typing import Any

from catalog.models import DataResource, ResourceVersion
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
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
    """Anyone may check that a displayed version is what the ledger recorded: the SM3 of
    its canonical content equals the payload hash of its entry, of the right kind and
    subject."""
    entry = Entry.objects.filter(seq=version.entry_seq).first()
    digest = sm3_hex(version.content.encode("utf-8"))
    return (
        entry is not None
        and entry.kind == "catalog.resource.published"
        and entry.subject == subject(version.resource)
        and digest == version.digest == entry.payload_hash
    )

"""Published versions: immutable (the database refuses UPDATE and DELETE, not only the ORM),
each one the payload of its ``catalog.resource.published`` entry, and checkable by anyone
with versions.matches_entry()."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction

from catalog import services, versions
from catalog.models import DataResource, ResourceStatus, ResourceVersion
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from ledger import services as ledger
from ledger.models import Entry, Payload
from tests.catalog import category_tree, resource, rolled_back
from tests.operators import authority, department, ledger_size, member, one_entry

pytestmark = pytest.mark.django_db


def build() -> str:
    ledger.ensure_ledger_key()
    body, _ = authority()
    provider = department(name="自然资源和规划局", by=body)
    admin = member(provider, "nr-admin")
    tree = category_tree()
    resource(admin, "NR-PARCELS", tree["B02"], name="宗地信息", name_en="Land parcels",
             opening="conditional")
    resource(admin, "NR-PARKS", tree["B02"], name="公园绿地", sharing="unconditional",
             sharing_basis="")
    return provider.code


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def admin():
    return get_user_model().objects.get(username="nr-admin")


def first(code: str = "NR-PARCELS") -> ResourceVersion:
    return ResourceVersion.objects.get(resource__code=code, number=1)


def test_publishing_makes_version_one_as_its_entrys_payload(world):
    version = first()
    target = version.resource
    assert target.status == ResourceStatus.PUBLISHED and target.version == 1
    document = versions.content(target)
    assert version.content == canonical(document).decode()
    assert version.digest == sm3_hex(version.content.encode())
    entry = Entry.objects.get(seq=version.entry_seq)
    assert entry.kind == "catalog.resource.published" and entry.actor == world
    assert json.loads(entry.payload_row.data) == document
    assert document["items"][1]["desensitisation"] == "mask"
    assert versions.matches_entry(version)


def test_payloads_of_resources_not_open_are_withheld_on_export(world):
    assert Payload.objects.get(entry_id=first("NR-PARCELS").entry_seq).restricted
    assert not Payload.objects.get(entry_id=first("NR-PARKS").entry_seq).restricted


def test_a_revision_is_a_new_version_and_the_old_one_stays(world):
    old = first()
    size = ledger_size()
    revised = services.revise_resource(by=admin(), resource=old.resource, name="宗地基本信息")
    assert revised.version == 2
    new = ResourceVersion.objects.get(resource=revised, number=2)
    payload = one_entry(size, kind="catalog.resource.published", actor=world,
                        subject="catalog/resource/NR-PARCELS")
    assert payload["name"] == "宗地基本信息" and payload["version"] == 2
    assert ResourceVersion.objects.get(pk=old.pk).content == old.content
    assert json.loads(old.content)["name"] == "宗地信息"
    assert versions.matches_entry(old) and versions.matches_entry(new)


def test_revising_a_draft_makes_no_version(world):
    draft = resource(admin(), "NR-DRAFT", DataResource.objects.get(code="NR-PARKS").category,
                     state=ResourceStatus.DRAFT)
    size = ledger_size()
    services.revise_resource(by=admin(), resource=draft, description="草稿修改")
    assert ledger_size() == size and not draft.versions.exists()


def test_withdrawing_and_publishing_again(world):
    target = first().resource
    size = ledger_size()
    withdrawn = services.withdraw_resource(by=admin(), resource=target, reason="数据更正")
    payload = one_entry(size, kind="catalog.resource.withdrawn", actor=world)
    assert payload == {"resource": "NR-PARCELS", "version": 1, "reason": "数据更正"}
    again = services.publish_resource(by=admin(), resource=withdrawn)
    assert again.version == 2 and again.versions.count() == 2


def refused(sql: str, operation: str) -> None:
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as c:
        c.execute(sql)
    assert "catalog_resourceversion is append-only" in str(info.value)
    assert operation in str(info.value)


@pytest.mark.parametrize(
    ("operation", "sql"),
    [
        ("UPDATE", "UPDATE catalog_resourceversion SET content = '{}'"),
        ("UPDATE", "UPDATE catalog_resourceversion SET digest = '" + "0" * 64 + "'"),
        ("DELETE", "DELETE FROM catalog_resourceversion"),
    ],
)
def test_raw_sql_cannot_change_versions(world, operation, sql):
    before = list(ResourceVersion.objects.order_by("pk").values_list())
    refused(sql, operation)
    assert list(ResourceVersion.objects.order_by("pk").values_list()) == before


def test_the_orm_cannot_change_versions_either(world):
    version = first()
    version.content = "{}"
    with pytest.raises(DatabaseError), transaction.atomic():
        version.save()
    with pytest.raises(DatabaseError), transaction.atomic():
        ResourceVersion.objects.filter(pk=version.pk).delete()
    assert versions.matches_entry(ResourceVersion.objects.get(pk=version.pk))


def tamper(triggers_lifted, sql: str, *params: object) -> None:
    with triggers_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_tampered_content_no_longer_matches(world, triggers_lifted):
    version = first()
    forged = version.content.replace("宗地信息", "宗地信息（伪）")
    tamper(triggers_lifted, "UPDATE catalog_resourceversion SET content = %s WHERE id = %s",
           forged, version.pk)
    assert not versions.matches_entry(ResourceVersion.objects.get(pk=version.pk))


def test_a_consistent_forgery_still_does_not_match_the_ledger(world, triggers_lifted):
    version = first()
    forged = version.content.replace("宗地信息", "宗地信息（伪）")
    tamper(triggers_lifted,
           "UPDATE catalog_resourceversion SET content = %s, digest = %s WHERE id = %s",
           forged, sm3_hex(forged.encode()), version.pk)
    assert not versions.matches_entry(ResourceVersion.objects.get(pk=version.pk))


def test_pointing_a_version_at_another_entry_does_not_match(world, triggers_lifted):
    version, other = first(), first("NR-PARKS")
    tamper(triggers_lifted, "UPDATE catalog_resourceversion SET entry_seq = %s WHERE id = %s",
           other.entry_seq, version.pk)
    assert not versions.matches_entry(ResourceVersion.objects.get(pk=version.pk))

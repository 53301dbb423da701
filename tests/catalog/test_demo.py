"""``manage.py load_demo``: the scenario the issue asks for, and loading it twice changes
nothing the second time (and says so)."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from catalog.models import (
    Category,
    Certificate,
    DataItem,
    DataProduct,
    DataResource,
    ProductStatus,
    QualityCheck,
    ResourceVersion,
)
from demo import catalogue as catalog_demo
from demo import loader as demo
from demo import participants as operators_demo
from ledger.models import Entry
from operators import uscc
from operators.models import Kind, Membership, Participant, Status
from tests.catalog import grant, rolled_back
from tests.operators import check_entry

pytestmark = pytest.mark.django_db

FAST_HASHER = override_settings(
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])


def build() -> list[str]:
    with FAST_HASHER:
        return list(demo.load())


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def everything() -> dict[str, object]:
    models = [Participant, Membership, DataResource, DataItem, ResourceVersion, QualityCheck,
              DataProduct, Certificate, Category, get_user_model()]
    rows: dict[str, object] = {m.__name__: list(m.objects.order_by("pk").values_list())
                               for m in models}
    rows["entries"] = Entry.objects.count()
    return rows


def test_loading_again_changes_nothing_and_says_so(world):
    assert world[-1] == "Demo loaded."
    before = everything()
    out = io.StringIO()
    with FAST_HASHER:
        call_command("load_demo", stdout=out)
    assert everything() == before
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("Nothing to do: the demo was already loaded")
    assert not any(line.startswith("  registered") for line in lines)


def test_the_participants(world):
    kinds = Counter(Participant.objects.values_list("kind", flat=True))
    assert kinds == {Kind.AUTHORITY: 1, Kind.PROVIDER: 3, Kind.OPERATOR: 2, Kind.MERCHANT: 4,
                     Kind.THIRD_PARTY: 3, Kind.AUDITOR: 1, Kind.REGULATOR: 1}
    merchants = Participant.objects.filter(kind=Kind.MERCHANT)
    assert set(merchants.values_list("merchant_type", flat=True)) == {
        "technical", "service", "application"}
    assert merchants.exclude(status=Status.ADMITTED).get().status == Status.UNDER_REVIEW
    services = Participant.objects.filter(kind=Kind.THIRD_PARTY)
    assert sorted(services.values_list("service_type", flat=True)) == [
        "certification", "notarisation", "valuation"]
    for participant in Participant.objects.all():
        assert uscc.validate(participant.code) == participant.code
        assert participant.name_en


def test_every_demo_user_signs_in_with_the_printed_password(world):
    table = operators_demo.credentials()
    assert len(table) == 17  # later demos may add people of their own (e.g. a citizen)
    printed = "\n".join(world)
    with FAST_HASHER:
        for username, password, participant, role in table:
            person = get_user_model().objects.get(username=username)
            assert person.memberships.get().role == role
            assert password == f"demo-{username}" and person.check_password(password)
            assert person.memberships.get().participant.name_zh == participant
            assert f"{username}" in printed and password in printed
    assert "DEMO-ONLY" in printed


def test_the_catalogue(world):
    resources = DataResource.objects.all()
    assert resources.count() >= 10
    for field, values in (("grade", {"general", "important", "core"}),
                          ("sharing", {"unconditional", "conditional", "not_shareable"}),
                          ("opening", {"open", "conditional", "not_open"})):
        assert set(resources.values_list(field, flat=True)) == values
    assert set(resources.values_list("provider__kind", flat=True)) == {Kind.PROVIDER}
    assert resources.values("provider").distinct().count() == 3
    for resource in resources.exclude(sharing="unconditional"):
        assert resource.sharing_basis.strip(), resource.code
    assert {r.status for r in resources} == {"draft", "published", "withdrawn"}
    assert resources.get(code=catalog_demo.MARKET_PENALTIES).version == 2
    claims = DataItem.objects.filter(authoritative=True)
    assert claims.count() >= 5
    assert DataItem.objects.filter(authoritative=False, standard_code__in=claims.values(
        "standard_code")).exists()  # uses of a standard by other resources
    branches = set(Category.objects.filter(parent=None).values_list("branch", flat=True))
    assert branches == {"base", "topic", "department"}
    assert Category.objects.filter(parent__isnull=False).count() >= 6


def test_quality_checks_one_failing(world):
    checks = {c.resource.code: c.passed for c in QualityCheck.objects.all()}
    assert checks == {catalog_demo.MARKET_ENTITIES: True, catalog_demo.TRANSPORT_BUS: False}
    assert list(DataResource.objects.filter(quality_failing=True).values_list(
        "code", flat=True)) == [catalog_demo.TRANSPORT_BUS]


ACTING_KINDS = {  # who signs catalogue entries, by the entry kind's prefix
    "catalog.resource": {Kind.PROVIDER},
    "catalog.quality": {Kind.PROVIDER},
    "catalog.product": {Kind.OPERATOR, Kind.MERCHANT, Kind.AUTHORITY},
    "catalog.certificate": {Kind.THIRD_PARTY},
}


def test_the_history_is_on_the_ledger_signed_by_each_actor(world):
    kinds = Counter(Entry.objects.values_list("kind", flat=True))
    for kind in ("operators.participant.registered", "operators.registration.applied",
                 "operators.registration.admitted", "operators.member.added",
                 "catalog.resource.published", "catalog.resource.withdrawn",
                 "catalog.quality.checked"):
        assert kinds[kind] >= 1, kind
    for entry in Entry.objects.filter(kind__startswith="catalog.").select_related(
            "payload_row"):
        check_entry(entry, kind=entry.kind, actor=entry.actor)
        actor = Participant.objects.get(code=entry.actor).kind
        assert actor in ACTING_KINDS[entry.kind.rsplit(".", 1)[0]], (entry.kind, actor)


def test_products_follow_the_grants(world):
    made_by_the_demo = DataProduct.objects.exists()  # the contracts demo gave the grants
    if not made_by_the_demo:
        assert all(line.startswith("  skipped") for line in catalog_demo.load_products())
    for spec in catalog_demo.PRODUCTS:
        owner = Participant.objects.get(code=spec.owner)
        for code in spec.resources:
            grant(owner, DataResource.objects.get(code=code))
    list(catalog_demo.load_products())
    credit = DataProduct.objects.get(code=catalog_demo.PRODUCT_CREDIT)
    transit = DataProduct.objects.get(code=catalog_demo.PRODUCT_TRANSIT)
    assert credit.certificates.filter(issuer__code=operators_demo.CERTIFIER).exists()
    if not made_by_the_demo:  # later workflows may move them on
        assert credit.status == ProductStatus.SUBMITTED
        assert transit.status == ProductStatus.DRAFT
    size = Entry.objects.count()
    assert all(line.startswith("  exists") for line in catalog_demo.load_products())
    assert Entry.objects.count() == size


def test_no_demo_request_or_objection_was_filed_after_its_deadline(world):
    from contracts.models import Objection, SharingRequest

    for request in SharingRequest.objects.exclude(due=None):
        assert request.created < request.due, request.pk
    for objection in Objection.objects.all():
        assert objection.created < objection.accept_due, objection.pk
        assert objection.resolve_due is None or objection.created < objection.resolve_due

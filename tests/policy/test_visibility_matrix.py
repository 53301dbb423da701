"""Who may read what, over every read path: the REST API (detail and list), the portal's
page, the ledger explorer, the ledger's payload endpoint, a bundle exported for the
reader's participant and the regulator's CSV exports, for every kind of reader and object.

The expected readers are written here, from the rules (a workflow object's parties, the
data authority, auditors and regulators; the public sees only public objects), not taken
from the policy's code. Runs on SQLite and on PostgreSQL (scripts/test runs both).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from audit import services as audit
from ledger.models import Entry
from tests.portal.scenario import World, build

OVERSIGHT = {"authority", "regulator", "auditor"}
READERS = [None, "authority", "regulator", "auditor", "provider", "provider2", "operator",
           "merchant", "notary", "applicant", "citizen"]
ADMITTED = {"authority", "regulator", "auditor", "provider", "provider2", "operator",
            "merchant", "notary"}
EVERYONE = set(READERS)


@dataclass(frozen=True)
class Case:
    """One object: where each read path finds it, and who may read it and its payload."""

    name: str
    api: str
    api_list: str
    key: str
    portal: str
    subject: str
    sees: frozenset[str | None]
    reads_payload: frozenset[str | None]


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def plain_static(settings: Any) -> None:
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def _parties(*names: str) -> frozenset[str | None]:
    return frozenset(OVERSIGHT | set(names))


def cases(w: World) -> list[Case]:
    r, q, g, o = w.resources, w.requests, w.grants, w.objections
    found = []

    def workflow(name: str, path: str, key: str, subject: str, *parties: str) -> None:
        found.append(Case(name, f"/api/v1/{path}/{key}/", f"/api/v1/{path}/", key,
                          f"/workflows/{'requests' if path == 'sharing-requests' else path}"
                          f"/{key}/", subject, _parties(*parties), _parties(*parties)))

    workflow("pending request", "sharing-requests", str(q["pending"].pk),
             f"contracts/sharing/{q['pending'].pk}", "provider2", "provider")
    workflow("refused request", "sharing-requests", str(q["refused"].pk),
             f"contracts/sharing/{q['refused'].pk}", "operator", "provider2")
    workflow("agreement", "agreements", w.agreement.code,
             f"contracts/agreement/{w.agreement.code}", "operator")
    workflow("agreement grant", "grants", str(g["agreement"].pk),
             f"contracts/grant/{g['agreement'].pk}", "operator", "provider")
    workflow("shared grant", "grants", str(g["shared"].pk), f"contracts/grant/{g['shared'].pk}",
             "provider2", "provider")
    workflow("citizen's objection", "objections", str(o["filed"].pk),
             f"contracts/objection/{o['filed'].pk}", "citizen", "provider")
    workflow("merchant's objection", "objections", str(o["corrected"].pk),
             f"contracts/objection/{o['corrected'].pk}", "merchant", "provider")
    erasure = w.erasures["filed"]
    found.append(Case("citizen's erasure request", f"/api/v1/erasure-requests/{erasure.pk}/",
                      "/api/v1/erasure-requests/", str(erasure.pk),
                      f"/privacy/erasures/{erasure.pk}/", f"contracts/erasure/{erasure.pk}",
                      _parties("citizen", "provider"), _parties("citizen", "provider")))
    for state in ("settled", "new"):
        order = w.orders[state]
        workflow(f"{state} order", "orders", order.code, f"contracts/order/{order.code}",
                 "merchant", "operator")

    def resource(key: str, sees: set[str | None], reads: set[str | None]) -> None:
        code = r[key].code
        found.append(Case(f"{key} resource", f"/api/v1/catalog/resources/{code}/",
                          "/api/v1/catalog/resources/", code, f"/catalogue/resources/{code}/",
                          f"catalog/resource/{code}", frozenset(sees), frozenset(reads)))

    resource("open", EVERYONE, EVERYONE)
    resource("conditional", ADMITTED | {"citizen"}, OVERSIGHT | {"provider", "operator"})
    resource("closed", OVERSIGHT | {"provider2"}, OVERSIGHT | {"provider2"})
    code = w.product.code
    found.append(Case("listed product", f"/api/v1/catalog/products/{code}/",
                      "/api/v1/catalog/products/", code, f"/catalogue/market/{code}/",
                      f"catalog/product/{code}", frozenset(EVERYONE), frozenset(EVERYONE)))
    applicant = w.parties["applicant"].code
    found.append(Case("applicant", f"/api/v1/participants/{applicant}/",
                      "/api/v1/participants/", applicant, f"/participants/{applicant}/",
                      f"operators/participant/{applicant}", _parties("applicant"),
                      _parties("applicant")))
    return found


def client(w: World, who: str | None) -> Client:
    c = Client()
    c.cookies["django_language"] = "en"
    if who is not None:
        c.force_login(w.users[who] if who in w.users
                      else get_user_model().objects.get(username=who))
    return c


def first_entry(subject: str) -> Entry | None:
    return Entry.objects.filter(subject=subject).order_by("seq").first()


def _listed(body: dict[str, Any], key: str) -> bool:
    return any(str(row.get("id", row.get("code"))) == key for row in body["results"])


def _bundle_payloads(w: World, who: str) -> set[int]:
    out = io.BytesIO()
    audit.export_bundle(out, as_code=w.parties[who].code)
    with zipfile.ZipFile(out) as bundle:
        lines = bundle.read("payloads.jsonl").decode().splitlines()
    return {json.loads(line)["seq"] for line in lines}


@pytest.mark.django_db
def test_every_read_path_agrees_with_the_rules(world: World) -> None:
    wrong: list[str] = []
    bundles: dict[str, set[int]] = {}
    for who in READERS:
        c = client(world, who)
        for case in cases(world):
            sees, reads = who in case.sees, who in case.reads_payload
            entry = first_entry(case.subject)
            detail = c.get(case.api)
            if detail.status_code != (200 if sees else 404):
                wrong.append(f"API detail {case.name} for {who}: {detail.status_code}")
            listing = c.get(case.api_list, {"page_size": 200})
            if listing.status_code != 200 or _listed(listing.json(), case.key) != sees:
                wrong.append(f"API list {case.name} for {who}: listed is not {sees}")
            page = c.get(case.portal)
            expected = {200} if sees else ({302, 404} if who is None else {404})
            if page.status_code not in expected:
                wrong.append(f"portal {case.name} for {who}: {page.status_code}")
            if entry is None:  # a grant made by its agreement has no entry of its own yet
                continue
            payload = c.get(f"/api/v1/ledger/entries/{entry.seq}/payload/")
            if payload.status_code != (200 if reads else 403):
                wrong.append(f"payload of {case.name} for {who}: {payload.status_code}")
            explorer = c.get(f"/ledger/entries/{entry.seq}/").content.decode()
            if ("Payload withheld" in explorer) == reads:
                wrong.append(f"explorer of {case.name} for {who}: withheld is {not reads}")
            if who in world.parties:
                if who not in bundles:
                    bundles[who] = _bundle_payloads(world, who)
                if (entry.seq in bundles[who]) != reads:
                    wrong.append(f"bundle for {who}: payload of {case.name} is not {reads}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize("who", READERS)
def test_no_anonymous_or_outside_reader_gets_a_workflow_payload(world: World,
                                                               who: str | None) -> None:
    c = client(world, who)
    kinds = ("contracts.",)
    for entry in Entry.objects.filter(kind__startswith=kinds[0]).order_by("seq"):
        response = c.get(f"/api/v1/ledger/entries/{entry.seq}/payload/")
        if who is None or who in ("applicant", "notary"):
            assert response.status_code == 403, (who, entry.kind, entry.subject)
            assert "withheld" in response.json()["error"]["message"]
        if who in OVERSIGHT:
            assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("who", READERS)
def test_the_regulators_csv_exports_are_for_regulators_and_the_authority(
        world: World, who: str | None) -> None:
    response = client(world, who).get("/audit/regulator/overdue-requests.csv")
    if who in ("regulator", "authority"):
        assert response.status_code == 200
    else:
        assert response.status_code in ((302,) if who is None else (403,))


@pytest.mark.django_db
def test_a_withheld_payload_shows_its_entry_and_the_reason(world: World) -> None:
    entry = first_entry(f"contracts/order/{world.orders['new'].code}")
    assert entry is not None
    page = client(world, None).get(f"/ledger/entries/{entry.seq}/").content.decode()
    assert "Payload withheld" in page and "the data authority" in page
    assert entry.leaf_hash in page

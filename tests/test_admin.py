"""The Django admin edits reference data (categories, the calendar) but only shows the records
that change through services and their ledger entries."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from ledger import services as ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-1")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", ["/admin/ledger/entry/", "/admin/ledger/ledgerkey/",
                                  "/admin/operators/participant/", "/admin/catalog/category/",
                                  "/admin/contracts/holiday/", "/admin/contracts/grant/",
                                  "/admin/contracts/erasurerequest/"])
def test_admin_lists_render(admin_client: Client, path: str) -> None:
    ledger.ensure_ledger_key()
    assert admin_client.get(path).status_code == 200


def test_ledger_entries_cannot_be_added_or_changed_in_the_admin(admin_client: Client) -> None:
    ledger.ensure_ledger_key()
    assert admin_client.get("/admin/ledger/entry/add/").status_code == 403
    page = admin_client.get("/admin/ledger/entry/0/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post("/admin/ledger/entry/0/delete/", {"post": "yes"}).status_code == 403


def test_categories_are_editable_reference_data(admin_client: Client) -> None:
    response = admin_client.post("/admin/catalog/category/add/", {
        "code": "T01", "name": "交通出行", "name_en": "Mobility", "branch": "topic"})
    assert response.status_code == 302
    from catalog.models import Category

    assert Category.objects.filter(code="T01", name="交通出行").exists()

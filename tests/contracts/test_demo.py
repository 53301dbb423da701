"""The demo's workflows: every screen has something real, and loading twice adds nothing."""

from __future__ import annotations

import pytest
from django.test import override_settings

from contracts import selectors
from contracts.models import Delivery, Grant, Objection, SharingRequest
from demo import catalogue, workflows
from demo import loader as demo
from ledger.models import Entry

pytestmark = pytest.mark.django_db


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
def test_the_demo_has_every_workflow_state_and_loads_once() -> None:
    lines = list(demo.load())
    assert lines[-1] == "Demo loaded."
    summary = workflows.summary()
    assert summary["agreements"] == {"draft": 1, "effective": 2, "suspended": 1}
    assert summary["requests"] == {"approved": 2, "pending": 2, "refused": 2, "withdrawn": 1}
    assert summary["objections"] == {"accepted": 1, "appealed": 1, "corrected": 1, "filed": 1,
                                     "upheld": 1}
    assert summary["erasures"] == {"appealed": 1, "erased": 1, "filed": 1}
    assert summary["orders"] == {"cancelled": 1, "closed": 1, "contracted": 1, "disputed": 1}
    assert summary["listed"] >= 1
    assert selectors.escalated_requests().count() == 1
    assert SharingRequest.objects.filter(escalated_at__isnull=False).count() == 1
    assert [o.ground for o in selectors.overdue_objections()] == ["timeliness"]
    assert Grant.objects.filter(state=Grant.State.REVOKED).count() == 1
    assert Grant.objects.filter(state=Grant.State.SUSPENDED).count() == 1
    assert Delivery.objects.count() == 4
    assert Objection.objects.filter(filer_participant__isnull=True).count() == 3
    # the citizen's contact details: one erased, two still held (one refusal under appeal)
    contacts = Entry.objects.filter(kind="contracts.objection.contact")
    assert sorted(c.payload_row.data == "" for c in contacts) == [False, False, True]
    # demo.catalogue could build its products on the agreements' grants
    products = " ".join(lines)
    assert f"created    {catalogue.PRODUCT_CREDIT}" in products
    assert f"created    {catalogue.PRODUCT_TRANSIT}" in products
    entries = Entry.objects.count()
    again = list(demo.load())
    assert again[-1].startswith("Nothing to do")
    assert Entry.objects.count() == entries

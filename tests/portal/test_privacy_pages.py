"""The personal-information pages through the portal's forms: a citizen's objection with
contact details, the request for their erasure, the provider's decision, and what every
page shows afterwards (the objection, its timeline, the ledger entry, the regulator's list),
in both languages."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from contracts.models import ErasureRequest, Objection
from ledger.models import Entry
from tests.portal.scenario import World
from tests.portal.test_pages import client, text

pytestmark = pytest.mark.django_db
PHONE = "13512340000"



def file_objection(c: Client, w: World, **contact: str) -> Objection:
    response = c.post("/workflows/objections/new/", {
        "resource": w.resources["open"].code, "ground": "accuracy",
        "description": "年报中的联系电话是我个人的号码，不应公开。",
        **{f"contact_{k}": v for k, v in contact.items()}})
    assert response.status_code == 302, text(response)
    return Objection.objects.order_by("-pk").first()  # type: ignore[return-value]


def contact_seq(objection: Objection) -> int:
    return Entry.objects.get(kind="contracts.objection.contact",
                             subject=f"contracts/objection/{objection.pk}").seq


def test_the_citizen_asks_and_the_provider_erases(world: World) -> None:
    citizen = client(world, "citizen", lang="zh-hans")
    filed = file_objection(citizen, world, name="周女士", phone=PHONE)
    seq = contact_seq(filed)
    page = text(citizen.get(f"/workflows/objections/{filed.pk}/"))
    assert PHONE in page and "请求删除" in page
    mine = text(citizen.get("/privacy/"))
    assert f"#{seq}" in mine and "提出人的联系方式" in mine
    form = text(citizen.get(f"/privacy/erasures/new/?seq={seq}"))
    assert f'<option value="{seq}" selected>' in form
    response = citizen.post("/privacy/erasures/new/", {"target": str(seq), "ground": "consent",
                                                      "reason": "不再需要联系我"})
    assert response.status_code == 302
    made = ErasureRequest.objects.order_by("-pk").first()
    assert made is not None and response["Location"] == f"/privacy/erasures/{made.pk}/"
    detail = text(citizen.get(response["Location"]))
    assert "待控制者决定" in detail and 'value="withdraw"' in detail
    assert 'value="approve"' not in detail
    # the provider finds it in the inbox and approves it
    provider = client(world, "provider", lang="zh-hans")
    assert f"/privacy/erasures/{made.pk}/" in text(provider.get("/inbox/"))
    assert 'value="approve"' in text(provider.get(f"/privacy/erasures/{made.pk}/"))
    done = provider.post(f"/privacy/erasures/{made.pk}/act/", {"action": "approve"})
    assert done.status_code == 302
    after = text(provider.get(f"/privacy/erasures/{made.pk}/"))
    assert "已批准：已删除" in after and "已批准：相关载荷及其盐值已删除。" in after
    redaction = Entry.objects.get(kind="ledger.payload.redacted",
                                  subject=f"ledger/entry/{seq}")
    # every page shows the erasure, and nowhere the phone number
    for who, lang, marker in (("citizen", "zh-hans", "已依法删除"),
                              ("provider", "en", "Erased under the law")):
        c = client(world, who, lang=lang)
        for url in (f"/workflows/objections/{filed.pk}/", f"/ledger/entries/{seq}/",
                    f"/privacy/erasures/{made.pk}/"):
            shown = text(c.get(url))
            assert marker in shown, (who, url)
            assert PHONE not in shown
        objection = text(c.get(f"/workflows/objections/{filed.pk}/"))
        assert f"/ledger/entries/{redaction.seq}/" in objection
    english = text(client(world, "provider", lang="en").get(f"/ledger/entries/{seq}/"))
    assert re.search(r"erased under 《个人信息保护法》第四十七条第一款第（三）项 \(PIPL art. "
                     rf"47\(1\)\(iii\)\) \(entry {redaction.seq}\)", english)
    assert "年报中的联系电话" in text(citizen.get(f"/workflows/objections/{filed.pk}/"))


def test_refusal_and_appeal_through_the_pages(world: World) -> None:
    citizen = client(world, "citizen", lang="en")
    filed = file_objection(citizen, world, email="zhou@example.com")
    citizen.post("/privacy/erasures/new/", {"target": str(contact_seq(filed)),
                                            "ground": "purpose"})
    made = ErasureRequest.objects.order_by("-pk").first()
    assert made is not None
    provider = client(world, "provider", lang="en")
    provider.post(f"/privacy/erasures/{made.pk}/act/", {"action": "refuse", "reason": ""})
    assert ErasureRequest.objects.get(pk=made.pk).state == "filed"  # a reason is required
    provider.post(f"/privacy/erasures/{made.pk}/act/", {"action": "refuse",
                                                        "reason": "The objection is open."})
    page = text(citizen.get(f"/privacy/erasures/{made.pk}/"))
    assert "The objection is open." in page and 'value="appeal"' in page
    citizen.post(f"/privacy/erasures/{made.pk}/act/", {"action": "appeal",
                                                       "reason": "I no longer object."})
    reviewer = client(world, "authority", lang="en")
    assert "Re-examine the refused erasure" in text(reviewer.get("/inbox/"))
    assert "appealed" in text(citizen.get(f"/privacy/erasures/{made.pk}/"))
    # the data authority re-examines with the grounds of the appeal in front of it
    page = text(reviewer.get(f"/privacy/erasures/{made.pk}/"))
    assert "Grounds of appeal</dt><dd>I no longer object.</dd>" in page
    assert re.search(r"Re-examine by</dt><dd class=\"due\">\d{4}-\d\d-\d\d", page)


def test_bad_input_is_shown_on_the_form_in_the_users_language(world: World) -> None:
    citizen = client(world, "citizen", lang="zh-hans")
    before = Entry.objects.count()
    page = citizen.post("/workflows/objections/new/", {
        "resource": world.resources["open"].code, "ground": "accuracy",
        "description": "x", "contact_phone": "打电话给我"})
    assert page.status_code == 200 and "不是有效的电话号码" in text(page)
    authority = client(world, "authority", lang="en")
    page = authority.post("/privacy/erasures/new/?on=authority", {
        "ground": "court_order", "reference": "(2026)闽01民初1号", "seq": "0"})
    assert page.status_code == 200
    assert "one of the ledger&#x27;s own records" in text(page)
    assert Entry.objects.count() == before


def test_the_regulator_lists_erasure_requests_and_their_deadlines(world: World) -> None:
    made = world.erasures["filed"]
    page = text(client(world, "regulator", lang="en").get("/audit/regulator/"))
    assert "Erasure requests awaiting a decision" in page
    due = timezone.localtime(made.due).strftime("%Y-%m-%d %H:%M")
    row = re.search(rf'<a class="row-link" href="/privacy/erasures/{made.pk}/">{made.pk}</a>'
                    rf"</td>.*?{due}", page, re.S)
    assert row, "the erasure request's row, linked to its page, with its deadline"
    csv = client(world, "regulator").get("/audit/regulator/erasures.csv")
    assert csv.status_code == 200 and due in csv.content.decode("utf-8-sig")


def test_the_delivery_form_names_the_rule_a_personal_item_needs(world: World) -> None:
    grant = world.grants["agreement"]
    provider = client(world, "provider", lang="en")
    page = text(provider.get(f"/workflows/grants/{grant.pk}/"))
    assert "Personal information: only mask, as the catalogue declares." in page
    response = provider.post(f"/workflows/grants/{grant.pk}/", {
        "rows": "10", "digest": "a" * 64, "rule_统一社会信用代码": "none",
        "rule_企业名称": "none", "rule_法定代表人": "hash"})
    assert response.status_code == 200
    assert "法定代表人 is personal information: the catalogue requires mask for it, not hash" \
        in text(response)
    assert not grant.deliveries.exists()

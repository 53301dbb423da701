"""The portal through Django's test client: who sees which page, 404s for invisible
objects, every form's POST doing its service action, and the language switch.

One scenario (tests/portal/scenario.py, built through the services) serves the module;
each test runs in a savepoint inside it, so its changes are undone.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from catalog.models import DataResource
from contracts.models import Grant, Objection, OperationAgreement, Order, SharingRequest
from ledger.models import Entry
from operators.models import Participant, Status
from tests.portal.scenario import PASSWORD, World


def client(world: World, who: str | None = None, lang: str = "en") -> Client:
    c = Client()
    c.cookies["django_language"] = lang
    if who is not None:
        c.force_login(world.users[who] if who in world.users
                      else get_user_model().objects.get(username=who))
    return c


def text(response: Any) -> str:
    return response.content.decode("utf-8")


# --- who may see which page ------------------------------------------------------------------

PUBLIC = ["/", "/catalogue/", "/catalogue/market/", "/ledger/", "/ledger/checkpoints/",
          "/ledger/consistency/", "/ledger/entries/0/", "/participants/apply/",
          "/participants/", "/accounts/login/"]
SIGNED_IN = ["/inbox/", "/workflows/requests/", "/workflows/agreements/",
             "/workflows/grants/", "/workflows/objections/", "/workflows/orders/",
             "/workflows/objections/new/", "/audit/", "/audit/regulator/", "/privacy/",
             "/privacy/erasures/new/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC)
def test_public_pages_render_for_anonymous_visitors(world: World, url: str) -> None:
    assert client(world).get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", SIGNED_IN)
def test_pages_that_need_an_account_send_anonymous_visitors_to_sign_in(world: World,
                                                                      url: str) -> None:
    response = client(world).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


ROLE_PAGES = {
    "/audit/": {"auditor": 200, "regulator": 200, "authority": 200, "provider": 403,
                "merchant": 403, "citizen": 403},
    "/audit/regulator/": {"regulator": 200, "authority": 200, "auditor": 403,
                          "provider": 403, "operator": 403},
    "/catalogue/resources/new/": {"provider": 200, "provider2": 200, "operator": 403,
                                  "authority": 403},
    "/catalogue/market/new/": {"operator": 200, "merchant": 200, "provider": 403},
    "/workflows/agreements/new/": {"authority": 200, "operator": 403, "provider": 403},
    "/workflows/requests/new/": {"provider": 200, "operator": 200, "merchant": 200,
                                 "citizen": 403},
}
ROLE_CASES = [(url, who, code) for url, table in ROLE_PAGES.items()
              for who, code in table.items()]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "who", "expected"), ROLE_CASES)
def test_role_pages(world: World, url: str, who: str, expected: int) -> None:
    assert client(world, who).get(url).status_code == expected


def _detail_urls(world: World) -> dict[str, str]:
    return {
        "resource": f"/catalogue/resources/{world.resources['conditional'].code}/",
        "quality": f"/catalogue/resources/{world.resources['conditional'].code}/quality/",
        "edit": f"/catalogue/resources/{world.resources['conditional'].code}/edit/",
        "product": f"/catalogue/market/{world.product.code}/",
        "request": f"/workflows/requests/{world.requests['pending'].pk}/",
        "agreement": f"/workflows/agreements/{world.agreement.code}/",
        "grant": f"/workflows/grants/{world.grants['agreement'].pk}/",
        "objection": f"/workflows/objections/{world.objections['corrected'].pk}/",
        "order": f"/workflows/orders/{world.orders['settled'].code}/",
        "participant": f"/participants/{world.parties['merchant'].code}/",
        "erasure": f"/privacy/erasures/{world.erasures['filed'].pk}/",
    }


DETAIL_ACCESS = {
    # page: users who see it (200); others in the list get 404 (or 403 for managers' pages)
    # A data subject sees a conditionally open resource's page (to object to it), not
    # the pages that manage it.
    "resource": ({"provider", "authority", "regulator", "merchant", "operator", "citizen"},
                 {}),
    "quality": ({"provider"}, {"provider2": 403, "citizen": 403}),
    "edit": ({"provider"}, {"operator": 403, "citizen": 403}),

    "product": ({"operator", "merchant", "citizen", "authority"}, {}),
    "request": ({"provider", "provider2", "authority", "regulator"},
                {"operator": 404, "merchant": 404, "citizen": 404}),
    "agreement": ({"operator", "authority", "auditor"}, {"merchant": 404, "provider": 404}),
    "grant": ({"operator", "provider", "regulator"}, {"merchant": 404, "citizen": 404}),
    "objection": ({"merchant", "provider", "authority"}, {"citizen": 404, "operator": 404}),
    "order": ({"merchant", "operator", "regulator"}, {"provider": 404, "citizen": 404}),
    "participant": ({"merchant", "citizen", "authority"}, {}),
    "erasure": ({"citizen", "provider", "authority", "regulator", "auditor"},
                {"merchant": 404, "provider2": 404, "operator": 404}),
}


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(DETAIL_ACCESS))
def test_detail_pages_show_to_who_may_see_them_and_look_missing_otherwise(
        world: World, page: str) -> None:
    url = _detail_urls(world)[page]
    readers, others = DETAIL_ACCESS[page]
    for who in readers:
        assert client(world, who).get(url).status_code == 200, (who, url)
    for who, code in others.items():
        assert client(world, who).get(url).status_code == code, (who, url)


@pytest.mark.django_db
def test_missing_objects_are_404(world: World) -> None:
    c = client(world, "regulator")
    for url in ["/catalogue/resources/NOPE/", "/workflows/requests/99999/",
                "/workflows/orders/NOPE/", "/ledger/entries/999999/",
                "/participants/91350100MA0000000X/", "/catalogue/market/NOPE/"]:
        assert c.get(url).status_code == 404, url


@pytest.mark.django_db
def test_timelines_list_every_entry_of_the_subject_with_a_verify_button(world: World) -> None:
    page = text(client(world, "operator").get(_detail_urls(world)["agreement"]))
    seqs = Entry.objects.filter(subject=f"contracts/agreement/{world.agreement.code}")
    assert seqs.count() == 3
    for entry in seqs:
        assert f"/ledger/entries/{entry.seq}/verify/" in page
        assert entry.leaf_hash[:16] in page
        assert entry.key_id[:16] in page


# --- actions: shown only when allowed, and enforced anyway -------------------------------------


@pytest.mark.django_db
def test_action_buttons_follow_the_state_machine_and_the_users_rights(world: World) -> None:
    url = _detail_urls(world)["request"]
    provider = text(client(world, "provider").get(url))
    assert 'value="approve"' in provider and 'value="refuse"' in provider
    assert 'value="withdraw"' not in provider
    requester = text(client(world, "provider2").get(url))
    assert 'value="approve"' not in requester and 'value="withdraw"' in requester
    regulator = text(client(world, "regulator").get(url))
    assert 'name="action"' not in regulator
    done = text(client(world, "regulator").get(
        f"/workflows/requests/{world.requests['auto'].pk}/"))
    assert 'value="approve"' not in done


@pytest.mark.django_db
def test_the_server_refuses_an_action_whose_button_is_hidden(world: World) -> None:
    pending = world.requests["pending"]
    response = client(world, "provider2").post(
        f"/workflows/requests/{pending.pk}/act/", {"action": "approve"}, follow=True)
    assert "only the provider" in text(response)
    pending.refresh_from_db()
    assert pending.state == SharingRequest.State.PENDING


@pytest.mark.django_db
def test_provider_approves_a_request_and_the_grant_appears(world: World) -> None:
    pending = world.requests["pending"]
    before = Entry.objects.count()
    response = client(world, "provider").post(
        f"/workflows/requests/{pending.pk}/act/",
        {"action": "approve", "conditions": "仅限社保登记使用"}, follow=True)
    pending.refresh_from_db()
    assert pending.state == SharingRequest.State.APPROVED
    assert pending.conditions == "仅限社保登记使用"
    assert Grant.objects.filter(sharing_request=pending).exists()
    assert Entry.objects.count() == before + 1
    assert "Approved" in text(response)


@pytest.mark.django_db
def test_refusing_without_a_reason_shows_the_error_and_changes_nothing(world: World) -> None:
    pending = world.requests["pending"]
    response = client(world, "provider").post(f"/workflows/requests/{pending.pk}/act/",
                                              {"action": "refuse", "reason": " "}, follow=True)
    assert "reason: is required" in text(response)
    pending.refresh_from_db()
    assert pending.state == SharingRequest.State.PENDING


@pytest.mark.django_db
def test_request_form_is_prefilled_from_the_resource_and_files_a_request(world: World) -> None:
    resource = world.resources["conditional"]
    c = client(world, "operator")
    form = text(c.get(f"/workflows/requests/new/?resource={resource.code}"))
    assert f'value="{resource.code}" selected' in form
    assert "法定代表人" in form  # the resource's items to choose from
    response = c.post(f"/workflows/requests/new/?resource={resource.code}", {
        "resource": resource.code, "items": ["企业名称"], "purpose": "信用评估",
        "scenario": "金融", "legal_basis": "授权运营协议",
        "period_from": date.today().isoformat(),
        "period_until": (date.today() + timedelta(days=180)).isoformat()})
    made = SharingRequest.objects.filter(requester=world.parties["operator"],
                                         resource=resource).latest("pk")
    assert response.status_code == 302 and response["Location"].endswith(f"/{made.pk}/")
    assert [i.name for i in made.items.all()] == ["企业名称"]


@pytest.mark.django_db
def test_request_form_shows_field_errors(world: World) -> None:
    resource = world.resources["conditional"]
    response = client(world, "operator").post("/workflows/requests/new/", {
        "resource": resource.code, "purpose": "x", "scenario": "y", "legal_basis": "z",
        "period_from": "2026-01-10", "period_until": "2026-01-01"})
    assert response.status_code == 200
    assert "is before the start of the period" in text(response)


@pytest.mark.django_db
def test_objection_workflow_through_the_pages(world: World) -> None:
    resource = world.resources["open"]
    citizen = client(world, "citizen")
    response = citizen.post(f"/workflows/objections/new/?resource={resource.code}", {
        "resource": resource.code, "ground": "accuracy", "description": "名称错误"})
    objection = Objection.objects.latest("pk")
    assert response.status_code == 302 and objection.filer == world.users["citizen"]
    catalogue = text(citizen.get(f"/catalogue/resources/{resource.code}/"))
    assert "disputed" in catalogue
    provider = client(world, "provider")
    url = f"/workflows/objections/{objection.pk}/"
    assert 'value="accept"' in text(provider.get(url))
    assert 'value="accept"' not in text(citizen.get(url))
    for action, data in [("accept", {}), ("start_verification", {}),
                         ("uphold", {"reason": "数据核实无误"})]:
        provider.post(url + "act/", {"action": action, **data})
    objection.refresh_from_db()
    assert objection.state == Objection.State.UPHELD
    assert 'value="appeal"' in text(citizen.get(url))
    citizen.post(url + "act/", {"action": "appeal", "reason": "不同意"})
    client(world, "authority").post(url + "act/", {"action": "close", "outcome": "维持"})
    objection.refresh_from_db()
    assert objection.state == Objection.State.CLOSED and objection.outcome == "维持"


@pytest.mark.django_db
def test_operator_signs_the_draft_agreement(world: World) -> None:
    draft = OperationAgreement.objects.get(code="OA-DEMO-002")
    c = client(world, "operator")
    assert "Sign as the operator" in text(c.get(f"/workflows/agreements/{draft.code}/"))
    c.post(f"/workflows/agreements/{draft.code}/act/", {"action": "sign"})
    draft.refresh_from_db()
    assert draft.operator_signed_seq is not None and draft.state == "draft"
    assert "Sign as the operator" not in text(c.get(f"/workflows/agreements/{draft.code}/"))


@pytest.mark.django_db
def test_authority_suspends_an_agreement_with_a_reason(world: World) -> None:
    code = world.agreement.code
    client(world, "authority").post(f"/workflows/agreements/{code}/act/",
                                    {"action": "suspend", "reason": "安全检查"})
    world.agreement.refresh_from_db()
    assert world.agreement.state == OperationAgreement.State.SUSPENDED


@pytest.mark.django_db
def test_provider_records_a_delivery_under_a_grant(world: World) -> None:
    grant = world.grants["agreement"]
    c = client(world, "provider")
    page = text(c.get(f"/workflows/grants/{grant.pk}/"))
    assert "Record a delivery" in page
    assert "Record a delivery" not in text(client(world, "operator").get(
        f"/workflows/grants/{grant.pk}/"))
    response = c.post(f"/workflows/grants/{grant.pk}/", {
        "rows": "10", "digest": "a" * 64, "rule_统一社会信用代码": "none",
        "rule_企业名称": "none", "rule_法定代表人": "mask"})
    assert response.status_code == 302
    assert grant.deliveries.get().digest == "a" * 64


@pytest.mark.django_db
@pytest.mark.parametrize("encoding, shown", [("gbk", "GB18030"), ("utf-16", "UTF-16"),
                                             ("utf-8-sig", "UTF-8 (BOM)")])
def test_a_delivered_table_is_counted_in_its_encoding_and_the_encoding_is_shown(
        world: World, encoding: str, shown: str) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    grant = world.grants["agreement"]
    c = client(world, "provider")
    table = "统一社会信用代码,企业名称\n91350100MA2Y0001X9,数字榕城\n91350100MA2Y00079H,福建数据\n"
    rules = {"rule_统一社会信用代码": "none", "rule_企业名称": "none", "rule_法定代表人": "mask"}

    def deliver(rows: int) -> Any:
        upload = SimpleUploadedFile("交付.csv", table.encode(encoding), "text/csv")
        return c.post(f"/workflows/grants/{grant.pk}/", {"rows": str(rows), "data": upload,
                                                          **rules}, follow=True)

    wrong = text(deliver(3))
    assert "holds 2 rows, not 3" in wrong and not grant.deliveries.exists()
    done = text(deliver(2))
    assert f"The file was read as {shown}." in done
    assert grant.deliveries.get().rows == 2


@pytest.mark.django_db
def test_delivery_form_shows_the_services_refusal(world: World) -> None:
    grant = world.grants["agreement"]
    response = client(world, "provider").post(f"/workflows/grants/{grant.pk}/", {
        "rows": "10", "digest": "a" * 64, "rule_统一社会信用代码": "none",
        "rule_企业名称": "none", "rule_法定代表人": "none"})
    assert response.status_code == 200
    assert "the catalogue requires mask" in text(response)
    assert not grant.deliveries.exists()


@pytest.mark.django_db
def test_order_steps_through_the_pages(world: World) -> None:
    order = world.orders["new"]
    url = f"/workflows/orders/{order.code}/"
    merchant, operator = client(world, "merchant"), client(world, "operator")
    assert 'value="sign"' in text(merchant.get(url))
    merchant.post(url + "act/", {"action": "sign"})
    operator.post(url + "act/", {"action": "sign"})
    client(world, "notary").post(url + "act/", {"action": "notarise"})
    operator.post(url + "act/", {"action": "deliver", "digest": "b" * 64})
    merchant.post(url + "act/", {"action": "dispute", "reason": "数据不全"})
    client(world, "authority").post(url + "act/", {"action": "settle", "amount": "600.00",
                                                   "currency": "CNY"})
    order.refresh_from_db()
    assert order.state == Order.State.SETTLED and str(order.settled_amount) == "600.00"
    assert order.notarised_seq is not None


@pytest.mark.django_db
def test_placing_an_order_from_a_listed_product(world: World) -> None:
    c = client(world, "merchant")
    page = text(c.get(f"/catalogue/market/{world.product.code}/"))
    assert "/workflows/orders/new/?product=" in page
    response = c.post("/workflows/orders/new/", {"product": world.product.code})
    assert response.status_code == 302
    assert Order.objects.filter(buyer=world.parties["merchant"]).count() == 3


@pytest.mark.django_db
def test_provider_creates_and_publishes_a_resource(world: World) -> None:
    c = client(world, "provider")
    fields = {"code": "350100-SCJG-0099", "name": "新资源", "category": "B01",
              "grade": "general", "sensitivity": "1", "sharing": "conditional",
              "sharing_basis": "", "opening": "open", "update_frequency": "daily",
              "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0",
              "items-0-name": "字段一", "items-0-data_type": "string",
              "items-0-sensitivity": "1", "items-0-desensitisation": "none"}
    more = c.post("/catalogue/resources/new/", {**fields, "add_row": "1"})
    assert more.status_code == 200 and 'name="items-1-name"' in text(more)
    assert 'name="items-2-name"' not in text(more)
    assert DataResource.objects.filter(code="350100-SCJG-0099").count() == 0
    two = {**fields, "items-TOTAL_FORMS": "2", "items-1-name": "字段二",
           "items-1-data_type": "date", "items-1-sensitivity": "2",
           "items-1-desensitisation": "none"}
    missing_basis = c.post("/catalogue/resources/new/", two)
    assert missing_basis.status_code == 200
    assert "the legal basis is required" in text(missing_basis)
    bad_type = c.post("/catalogue/resources/new/", {**two, "items-1-data_type": "varchar"})
    assert "Select a valid choice" in text(bad_type)
    dropped = {**two, "sharing_basis": "第十条", "items-1-DELETE": "on"}
    response = c.post("/catalogue/resources/new/", dropped)
    assert response.status_code == 302
    resource = DataResource.objects.get(code="350100-SCJG-0099")
    assert [i.name for i in resource.items.all()] == ["字段一"]
    c.post(f"/catalogue/resources/{resource.code}/act/", {"action": "publish"})
    resource.refresh_from_db()
    assert resource.status == "published" and resource.version == 1


@pytest.mark.django_db
def test_a_new_version_is_previewed_with_its_diff_before_it_is_published(
        world: World) -> None:
    resource = world.resources["open"]
    c = client(world, "provider")
    edit = f"/catalogue/resources/{resource.code}/edit/"
    page = c.get(edit)
    form = page.context["form"]
    formset = page.context["formset"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"items-TOTAL_FORMS": str(len(formset.forms)), "items-INITIAL_FORMS":
                 str(len(formset.forms))})
    for n, row in enumerate(formset.forms):
        for name, value in row.initial.items():
            if value not in (None, False):
                data[f"items-{n}-{name}"] = value
    data["description"] = "修订后的说明"
    before = resource.version
    size = Entry.objects.count()
    preview = c.post(edit, {**data, "preview": "1"})
    shown = text(preview)
    assert preview.status_code == 200 and "修订后的说明" in shown
    assert f"Changes in version {before + 1}" in shown
    assert Entry.objects.count() == size
    resource.refresh_from_db()
    assert resource.version == before and resource.description != "修订后的说明"
    digest = preview.context["previewed"]
    changed_meanwhile = c.post(edit, {**data, "description": "又改了", "confirm": "1",
                                      "previewed": digest})
    assert changed_meanwhile.status_code == 200 and Entry.objects.count() == size
    published = c.post(edit, {**data, "confirm": "1", "previewed": digest})
    assert published.status_code == 302
    resource.refresh_from_db()
    assert resource.version == before + 1 and resource.description == "修订后的说明"
    old = c.get(f"/catalogue/resources/{resource.code}/versions/{before}/")
    new = c.get(f"/catalogue/resources/{resource.code}/versions/{before + 1}/")
    assert old.status_code == 200 and new.status_code == 200
    assert "修订后的说明" not in text(old) and "修订后的说明" in text(new)
    assert "matches its ledger entry" in text(new)


@pytest.mark.django_db
def test_quality_rules_per_type_samples_in_any_encoding_and_failing_rows(world: World) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.models import QualityRule

    resource = world.resources["conditional"]
    url = f"/catalogue/resources/{resource.code}/quality/"
    c = client(world, "provider")
    c.post(url, {"form": "rule", "check": "not_null", "not_null-item": "统一社会信用代码",
                 "not_null-threshold": "100"})
    empty_pattern = c.post(url, {"form": "rule", "check": "pattern",
                                 "pattern-item": "企业名称", "pattern-pattern": "",
                                 "pattern-threshold": "100"})
    assert "must be a non-empty regular expression" in text(empty_pattern)
    c.post(url, {"form": "rule", "check": "enumeration", "enumeration-item": "企业名称",
                 "enumeration-values": "甲\n乙\n", "enumeration-threshold": "50"})
    rules = QualityRule.objects.filter(item__resource=resource)
    assert sorted(rules.values_list("rule", flat=True)) == ["enumeration", "not_null"]
    assert rules.get(rule="enumeration").parameters == {"values": ["甲", "乙"]}
    page = text(c.get(url))
    assert "one of: 甲、乙" in page and "{" not in page.split("<h2>Rules</h2>")[1][:2000]
    sample = SimpleUploadedFile("sample.csv",
                                "统一社会信用代码,企业名称\n,甲\nA1,丙\nA2,乙\n".encode("gbk"))
    done = c.post(url, {"form": "sample", "sample": sample}, follow=True)
    check = resource.quality_checks.get()
    assert not check.passed and check.rows == 3 and check.sample_encoding == "GB18030"
    assert "The sample was read as GB18030." in text(done)
    failing = {r["check"]: r["failing_rows"] for r in check.results}
    assert failing == {"not_null": [1], "enumeration": [2]}
    assert "failing rows: 1" in text(done) and "failing rows: 2" in text(done)
    rule = rules.get(rule="enumeration")
    c.post(f"{url}?edit={rule.pk}", {"form": "rule", "check": "enumeration",
                                     "enumeration-item": "企业名称",
                                     "enumeration-values": "甲\n乙\n丙",
                                     "enumeration-threshold": "100"})
    rule.refresh_from_db()
    assert rule.parameters == {"values": ["甲", "乙", "丙"]} and rule.threshold == 100
    c.post(url, {"form": "remove", "rule": rule.pk})
    assert not rules.filter(pk=rule.pk).exists()


@pytest.mark.django_db
def test_a_draft_without_checks_does_not_claim_to_pass(world: World) -> None:
    resource = world.resources["conditional"]
    page = text(client(world, "provider").get(f"/catalogue/resources/{resource.code}/"))
    assert "not checked yet" in page and ">passing<" not in page


@pytest.mark.django_db
def test_company_applies_and_the_authority_admits_it(world: World) -> None:
    from operators import uscc

    code = uscc.make("91", "350100", "NEWC0001")
    visitor = client(world)
    response = visitor.post("/participants/apply/", {
        "code": code, "name_zh": "新公司", "kind": "merchant", "merchant_type": "service",
        "contact_name": "李四", "contact_phone": "123", "contact_email": "a@b.cn",
        "account-password": PASSWORD})
    assert response.status_code == 302
    company = Participant.objects.get(code=code)
    assert company.status == Status.APPLIED
    assert company.memberships.get().user.get_username() == code
    authority = client(world, "authority")
    url = f"/participants/{code}/"
    assert 'value="start_review"' in text(authority.get(url))
    assert 'value="start_review"' not in text(visitor.get(url))
    authority.post(url + "review/", {"action": "start_review"})
    authority.post(url + "review/", {"action": "admit"})
    company.refresh_from_db()
    assert company.status == Status.ADMITTED


@pytest.mark.django_db
def test_application_with_a_bad_code_keeps_no_account(world: World) -> None:
    accounts = get_user_model().objects.count()
    response = client(world).post("/participants/apply/", {
        "code": "91350100XXXXXXXXXX", "name_zh": "坏公司", "kind": "merchant",
        "merchant_type": "service", "contact_name": "x", "contact_phone": "1",
        "contact_email": "a@b.cn", "account-password": PASSWORD})
    assert response.status_code == 200
    assert "not a valid unified social credit code" in text(response)
    assert get_user_model().objects.count() == accounts


@pytest.mark.django_db
def test_inbox_lists_what_awaits_each_user(world: World) -> None:
    provider = text(client(world, "provider").get("/inbox/"))
    assert "Decide the sharing request" in provider and "Accept or decline" in provider
    assert "Decide the erasure request" in provider
    authority = text(client(world, "authority").get("/inbox/"))
    assert "Review the registration" in authority and "申请中科技有限公司" in authority
    assert "Sign the agreement" in authority
    operator = text(client(world, "operator").get("/inbox/"))
    assert "OA-DEMO-002" in operator and "Sign the contract" in operator
    assert "Nothing awaits you" in text(client(world, "citizen").get("/inbox/"))


# --- the ledger, audit and regulator pages ---------------------------------------------------


@pytest.mark.django_db
def test_verify_checks_signature_and_inclusion_proof(world: World) -> None:
    response = client(world).post("/ledger/entries/3/verify/")
    page = text(response)
    assert response.status_code == 200
    assert "signature ok" in page and "proof verifies" in page and "✓ verified" in page
    assert client(world).get("/ledger/entries/3/verify/").status_code == 405


@pytest.mark.django_db
def test_explorer_filters_and_restricted_payloads_stay_hidden(world: World) -> None:
    page = text(client(world).get("/ledger/?kind=contracts.objection.filed"))
    assert "contracts/objection/" in page and "catalog/resource/" not in page
    restricted = Entry.objects.filter(payload_row__restricted=True,
                                      subject__startswith="catalog/resource/").first()
    hidden = text(client(world, "citizen").get(f"/ledger/entries/{restricted.seq}/"))
    assert "Payload withheld" in hidden and restricted.leaf_hash in hidden
    shown = text(client(world, "regulator").get(f"/ledger/entries/{restricted.seq}/"))
    assert "Payload withheld" not in shown and "&quot;resource&quot;" in shown


@pytest.mark.django_db
def test_consistency_between_two_sizes(world: World) -> None:
    page = text(client(world).get("/ledger/consistency/?old=5&new=20"))
    assert "✓ consistent" in page
    bad = client(world).get("/ledger/consistency/?old=20&new=5")
    assert "must be at least the old size" in text(bad)


@pytest.mark.django_db
def test_auditor_runs_a_verification_and_downloads_a_bundle(
        world: World, django_capture_on_commit_callbacks: Any) -> None:
    c = client(world, "auditor")
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post("/audit/", {"first": "", "last": ""})
    assert response.status_code == 302 and "?run=" in response["Location"]
    run_id = response["Location"].split("=")[-1]
    status = text(c.get(f"/audit/runs/{run_id}/"))
    assert "passed" in status and "hx-trigger" not in status
    assert Entry.objects.filter(kind="audit.verification.completed").exists()
    bundle = c.get("/audit/bundle/")
    assert bundle["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(bundle.streaming_content))).namelist()
    assert "entries.jsonl" in names and "manifest.json" in names


@pytest.mark.django_db
def test_regulator_dashboard_has_charts_tables_and_csv(world: World) -> None:
    c = client(world, "regulator")
    page = text(c.get("/audit/regulator/"))
    for chart in ("chart-volume", "chart-transactions", "chart-requests", "chart-objections"):
        assert f'data-chart="{chart}"' in page and f'id="{chart}"' in page
    assert "Exchange volume per day" in page and "Deliveries within 3 days" in page
    csv_response = c.get("/audit/regulator/turnover.csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    body = csv_response.content.decode("utf-8-sig")
    assert "1250.00" in body and world.parties["operator"].code in body
    assert c.get("/audit/regulator/nope.csv").status_code == 404


# --- languages -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_chinese_by_default_and_english_on_request(world: World) -> None:
    chinese = text(client(world, lang="zh-hans").get("/catalogue/"))
    assert "公共数据目录" in chinese and 'lang="zh-hans"' in chinese
    english = text(client(world, lang="en").get("/catalogue/"))
    assert "Public data catalogue" in english and 'lang="en"' in english
    switched = Client()
    response = switched.post("/i18n/setlang/", {"language": "en", "next": "/catalogue/"})
    assert response.status_code == 302
    assert "Public data catalogue" in text(switched.get("/catalogue/"))


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/ledger/", "/inbox/", "/audit/regulator/", "/privacy/"])
def test_pages_are_translated(world: World, url: str) -> None:
    page = text(client(world, "authority", lang="zh-hans").get(url))
    assert "账本" in page  # the ledger, in the navigation and the page
    assert "Sign out" not in page

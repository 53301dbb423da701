"""The right to erasure in a real browser, through page interactions only, with a
screenshot of every page (test-artifacts/browser/erasure/):

1. in Chinese, a citizen objects to a resource and leaves contact details, then asks, from
   the personal-information page, for those contact details to be erased;
2. the provider finds the request in the inbox, approves it: the page, the objection and
   the ledger entry (which still verifies) show it as erased under the law (已依法删除);
3. in English, the citizen asks for the objection's description to be erased, the
   provider refuses with a reason, and the citizen appeals the refusal;
4. the data authority's reviewer re-examines the appeal with its grounds on the page and
   erases the description: the objection keeps its facts, its description shows as erased.

The test body never touches the database: everything goes through the pages.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SHOTS_DIR, Screenshots, new_person_context
from tests.browser.test_story import TIMEOUT_MS, Actor, expect

pytestmark = pytest.mark.browser
CITIZEN, PROVIDER, REVIEWER = "citizen", "market", "reviewer"
RESOURCE = "食品经营许可证信息"  # SCJG-003, open, by the market regulator
COMPLAINT = "我店的许可证编号被登记成了别人的编号，请核实。"
PHONE = "13959100000"
EMAIL = "zhou.shop@example.com"
APPEAL = "I only need the correction, not the record."


@pytest.fixture
def erasure_shots() -> Screenshots:
    return Screenshots(SHOTS_DIR / "erasure")


def english(actor: Actor) -> None:
    page = actor.page
    with page.expect_navigation():
        page.locator("select[name=language]").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def citizen_asks(citizen: Actor, shots: Screenshots) -> str:
    page = citizen.page
    citizen.search_and_open(RESOURCE)
    page.get_by_role("link", name="提出异议").click()
    page.select_option("#id_ground", "accuracy")
    page.fill("#id_description", COMPLAINT)
    page.fill("#id_contact_name", "周女士")
    page.fill("#id_contact_phone", PHONE)
    page.fill("#id_contact_email", EMAIL)
    shots(page, "citizen-objects-with-contact")
    page.locator("main form").get_by_role("button", name="提交异议").click()
    expect(citizen.state()).to_have_text("已提出")
    expect(page.locator("dl.facts")).to_contain_text(PHONE)
    objection_url = page.url
    shots(page, "objection-with-contact")

    citizen.nav("个人信息")
    expect(citizen.heading()).to_have_text("个人信息")
    row = page.locator("tbody tr", has_text="提出人的联系方式").last
    shots(page, "citizen-personal-information")
    row.get_by_role("link", name="请求删除").click()
    expect(citizen.heading()).to_have_text("请求删除您的个人信息")
    expect(page.locator("#id_target option:checked")).to_contain_text("提出人的联系方式")
    page.select_option("#id_ground", "consent")
    page.fill("#id_reason", "异议已提交，不希望平台继续保存我的电话和邮箱。")
    shots(page, "erasure-form")
    page.get_by_role("button", name="提交申请").click()
    expect(citizen.message()).to_have_text("删除请求已记入账本，控制者须在期限内作出决定。")
    expect(citizen.state()).to_have_text("待控制者决定")
    expect(page.locator("dl.facts")).to_contain_text("决定期限")
    shots(page, "erasure-requested")
    return objection_url


def provider_erases(provider: Actor, shots: Screenshots) -> None:
    page = provider.page
    provider.open_from_inbox("删除请求", "决定删除请求")
    expect(provider.state()).to_have_text("待控制者决定")
    expect(page.locator("table")).to_contain_text("提出人的联系方式")
    shots(page, "provider-sees-erasure-request")
    provider.press_with("approve", {"outcome": "经核实，联系方式已无保存必要。"})
    expect(provider.message()).to_have_text("已批准：相关载荷及其盐值已删除。")
    expect(provider.state()).to_have_text("已批准：已删除")
    expect(page.locator("table")).to_contain_text("已依法删除")
    shots(page, "provider-approved")
    page.locator("table a.mono").first.click()
    expect(page.locator(".notice")).to_contain_text("已依法删除")
    expect(page.locator("main")).not_to_contain_text(PHONE)
    page.get_by_role("button", name="验证").first.click()
    expect(page.locator("#verify-result")).to_contain_text("验证通过")
    shots(page, "erased-entry-verifies")


def citizen_sees_erasure(citizen: Actor, objection_url: str, shots: Screenshots) -> None:
    page = citizen.page
    page.goto(objection_url)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("已依法删除")
    expect(facts).to_contain_text(COMPLAINT)  # the objection's facts stay on record
    expect(facts).not_to_contain_text(PHONE)
    expect(page.locator("ol.timeline")).to_contain_text("已依法删除")
    shots(page, "objection-after-erasure")


def in_english(citizen: Actor, provider: Actor, shots: Screenshots) -> str:
    english(citizen)
    page = citizen.page
    citizen.nav("Privacy")
    expect(citizen.heading()).to_have_text("Personal information")
    page.locator("tbody tr", has_text="the objection's description").last.get_by_role(
        "link", name="Request erasure").click()
    page.select_option("#id_ground", "purpose")
    shots(page, "erasure-form-en")
    page.get_by_role("button", name="Submit request").click()
    expect(citizen.state()).to_have_text("awaiting the controller's decision")
    request_url = page.url
    shots(page, "erasure-requested-en")

    english(provider)
    provider.page.goto(request_url)
    provider.press_with("refuse", {"reason": "The objection is still being verified."})
    expect(provider.message()).to_have_text("Erasure refused.")
    expect(provider.state()).to_have_text("refused")
    shots(provider.page, "provider-refuses-en")

    page.goto(request_url)
    expect(page.locator("dl.facts")).to_contain_text("The objection is still being verified.")
    citizen.press_with("appeal", {"reason": APPEAL})
    expect(citizen.message()).to_have_text("Appeal filed.")
    expect(citizen.state()).to_have_text("appealed")
    expect(page.locator("dl.facts")).to_contain_text("Re-examine by")
    shots(page, "citizen-appeals-en")
    return request_url


def authority_erases_on_appeal(reviewer: Actor, request_url: str, objection_url: str,
                               shots: Screenshots) -> None:
    english(reviewer)
    page = reviewer.page
    page.goto(request_url)
    expect(page.locator("dl.facts")).to_contain_text(APPEAL)
    expect(page.locator("dl.facts")).to_contain_text("Re-examine by")
    shots(page, "authority-re-examines-en")
    reviewer.press_with("approve", {"outcome": "The correction is recorded; the text is spent."})
    expect(reviewer.state()).to_have_text("approved: erased")
    expect(page.locator("table")).to_contain_text("Erased under the law")
    page.goto(objection_url)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Erased under the law")
    expect(facts).not_to_contain_text(COMPLAINT)
    shots(page, "objection-after-appeal-en")


def test_the_citizens_request_and_the_providers_decision(portal: str, browser: Any,
                                                        erasure_shots: Screenshots) -> None:
    def person(username: str) -> Actor:
        context = new_person_context(browser, portal)  # axe-core ready on every page
        context.set_default_timeout(TIMEOUT_MS)
        actor = Actor(context.new_page())
        actor.sign_in(username)
        return actor

    citizen, provider = person(CITIZEN), person(PROVIDER)
    objection_url = citizen_asks(citizen, erasure_shots)
    provider_erases(provider, erasure_shots)
    citizen_sees_erasure(citizen, objection_url, erasure_shots)
    request_url = in_english(citizen, provider, erasure_shots)
    authority_erases_on_appeal(person(REVIEWER), request_url, objection_url, erasure_shots)
    assert not erasure_shots.problems, "\n".join(erasure_shots.problems)

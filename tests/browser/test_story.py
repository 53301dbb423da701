"""The whole story in a real browser, through page interactions only, with a screenshot of
every page (test-artifacts/browser/):

1. a company applies for admission on the public form and the data authority admits it;
   the company's person signs in again;
2. it requests access to a conditional resource from the resource page;
3. the provider approves the request, which creates a grant (and one timeline entry is
   verified in the page);
4. the provider records a delivery under the grant, and the company sees it;
5. a citizen (an account acting for no participant) objects to a resource, which is marked
   disputed; the provider accepts, verifies, publishes a corrected version and resolves the
   objection as corrected, and the mark is gone;
6. the auditor verifies the ledger and downloads a bundle that ``python -m audit.offline
   verify`` accepts;
7. the regulator's dashboard draws its charts and counts the new delivery, the approved
   request and the corrected objection;
8. the catalogue and the dashboard in both languages (zh-hans by default, English through
   the language switch);
9. and what each role trips over otherwise: the provider's quality rules (a form per rule
   type, a GBK sample read as GB18030, failing rows listed), the preview and diff before a
   new version, the grant's conditions, a delivered table whose row count is checked; the
   citizen's appeal and the grounds the data authority decides from; the company's order,
   its contract text, the seller's signature and the notarisation service's inbox; the
   auditor's search by leaf hash and the proof path with its sides; the regulator's date
   range and exchange log; a 403 in the portal's own layout.

Every page of the story is screenshotted at 1366x768 and checked with axe-core (no serious
or critical violation) and for sideways scrolling.

The company applies as a data merchant (数商, application type) and requests authorised use
of a conditionally shared resource.

The browser's language is Chinese (Accept-Language zh-CN): the pages are in zh-hans and the
assertions name what a Chinese user reads. The test body never touches the database: while
Playwright runs, everything goes through the pages.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from operators import uscc
from tests.browser.conftest import REPO_ROOT, Screenshots, new_person_context

pytestmark = pytest.mark.browser

# The demo's people (operators/demo.py, contracts/demo.py); passwords are demo-<username>.
AUTHORITY, PROVIDER, AUDITOR, REGULATOR, CITIZEN, SELLER, NOTARY = (
    "authority", "market", "auditor", "regulator", "citizen", "operator2", "notary")
PRODUCT = "停车泊位实时查询服务"  # DP-PARKING-001 of operator2, listed
CONDITIONAL = "行政处罚信息"  # SCJG-002, conditional sharing, by the market regulator
OBJECTED = "食品经营许可证信息"  # SCJG-003, open, by the market regulator

COMPANY = "榕链数据应用有限公司"
COMPANY_CODE = uscc.make("91", "350100", "MA2YT001")
USERNAME, PASSWORD = "rongchain", "Rongchain-2026-browser"
ROWS = "2"
PENALTIES = ("处罚决定书文号,违法行为类型\n榕市监罚〔2026〕1号,虚假宣传\n"
             "榕市监罚〔2026〕2号,无证经营\n")
APPEAL = "更正后的有效期仍与延续后的许可证不一致，请数据主管部门复核。"
COMPLAINT = "本人经营的餐饮店已于上月办理许可证延续，目录中有效期仍为旧日期。"
REVISED = "食品经营许可证的核发、变更、延续与注销信息（已按异议核实更正有效期）"
CORRECTION = "经核实，已按延续后的许可证更正有效期，发布目录第2版。"
TIMEOUT_MS = 20_000
CHARTS_DRAWN = ("() => [...document.querySelectorAll('canvas[data-chart]')]"
                ".filter(c => window.Chart && Chart.getChart(c) && c.width > 0).length")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


@dataclass
class Actor:
    """One person with their own browser context (own cookies, own session)."""

    page: Any

    def sign_in(self, username: str, password: str | None = None) -> None:
        page = self.page
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password or f"demo-{username}")
        page.locator("main").get_by_role("button", name="登录").click()
        expect(page.locator(".userbox")).to_contain_text(username)

    def nav(self, label: str) -> None:
        self.page.locator("header nav").get_by_role("link", name=label).first.click()

    def press(self, label: str) -> None:
        """Click an action that has no fields (it posts at once)."""
        self.page.locator(".action-panel").get_by_role("button", name=label,
                                                       exact=True).click()

    def press_with(self, action: str, fields: dict[str, str]) -> None:
        """Open an action that asks for input (a <details> form), fill it and submit."""
        form = self.page.locator(f"details.action:has(input[name=action][value={action}])")
        form.locator("summary").click()
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("button[type=submit]").click()

    def open_from_inbox(self, about: str, task: str) -> None:
        self.nav("待办")
        row = self.page.locator("tbody tr", has_text=about)
        expect(row).to_contain_text(task)
        row.locator("td a").first.click()

    def search_and_open(self, name: str) -> None:
        self.nav("数据目录")
        self.page.fill("#q", name)
        self.page.locator("#q").press("Enter")
        self.page.get_by_role("link", name=name, exact=True).click()
        expect(self.heading()).to_contain_text(name)

    def open_resource_of_page(self) -> None:
        self.page.locator(".page-head a[href*='/catalogue/resources/']").click()

    def message(self) -> Any:
        return self.page.locator("ul.messages li").first

    def heading(self) -> Any:
        return self.page.locator("main h1").first

    def state(self) -> Any:
        """The state chip beside the page's title."""
        return self.heading().locator(".chip").first


def api_docs(visitor: Actor, story: Story) -> None:
    """Swagger UI (served offline) works under the same policy."""
    visitor.page.goto("/api/docs/")
    expect(visitor.page.locator(".swagger-ui .info .title")).to_contain_text("Shulian")
    expect(visitor.page.locator(".opblock-tag").first).to_be_visible()
    story.shots(visitor.page, "api-docs", ours=False)  # Swagger UI's own markup


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective + " " +
                event.blockedURI);
});
"""


@dataclass
class Story:
    person: Callable[[], Actor]
    shots: Screenshots
    company: Actor | None = None
    provider: Actor | None = None
    request_url: str = ""


def _local_date(days: int = 0) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=days)).isoformat()


def _dashboard_figures(page: Any) -> dict[str, Any]:
    """What the dashboard shows: the stat cards and the data each chart draws."""
    cards = {card.locator(".stat-label").inner_text().strip():
             int(card.locator(".stat").inner_text().strip().replace(",", ""))
             for card in page.locator(".stats .card").all()}
    charts = {}
    for name in ("chart-requests", "chart-objections", "chart-volume"):
        spec = json.loads(page.locator(f"script#{name}").text_content())
        charts[name] = dict(zip(spec["labels"], spec["series"][0]["data"], strict=True))
    return {"cards": cards, "charts": charts}


def _wait_for_charts(page: Any) -> None:
    expect(page.locator("canvas[data-chart]")).to_have_count(4)
    page.wait_for_function(f"() => ({CHARTS_DRAWN})() === 4")


# --- the steps ---------------------------------------------------------------------------------


def admission(story: Story) -> None:
    company = story.company = story.person()
    page = company.page
    page.goto("/participants/apply/")
    page.fill("#id_code", COMPANY_CODE)
    page.fill("#id_name_zh", COMPANY)
    page.fill("#id_name_en", "Rongchain Data Applications Co., Ltd.")
    page.select_option("#id_kind", "merchant")
    page.select_option("#id_merchant_type", "application")
    page.fill("#id_contact_name", "林小明")
    page.fill("#id_contact_phone", "0591-86001234")
    page.fill("#id_contact_email", "lin@rongchain.example.com")
    page.fill("#id_address", "福州市鼓楼区软件大道89号")
    page.fill("#id_account-password", PASSWORD)
    story.shots(page, "company-applies")
    page.get_by_role("button", name="提交申请").click()
    expect(company.heading()).to_contain_text(COMPANY)
    expect(company.state()).to_have_text("已申请")
    expect(company.message()).to_have_text("申请已记入账本，数据主管部门将进行审核。")
    story.shots(page, "application-recorded")

    authority = story.person()
    authority.sign_in(AUTHORITY)
    authority.nav("待办")
    expect(authority.page.locator("tbody tr", has_text=COMPANY)).to_contain_text("审核入场登记")
    story.shots(authority.page, "authority-inbox")
    authority.open_from_inbox(COMPANY, "审核入场登记")
    authority.press("开始审核")
    expect(authority.state()).to_have_text("审核中")
    authority.press("准入")
    expect(authority.state()).to_have_text("已入场")
    expect(authority.message()).to_have_text("参与方已准入。")
    story.shots(authority.page, "authority-admits")

    page.locator(".userbox").get_by_role("button", name="退出").click()
    company.sign_in(COMPANY_CODE, PASSWORD)  # a company's account signs in with its code
    story.shots(page, "company-signs-in")


def sharing_request(story: Story) -> None:
    assert story.company is not None
    company, page = story.company, story.company.page
    company.search_and_open(CONDITIONAL)
    expect(page.locator(".facts")).to_contain_text("有条件共享")
    story.shots(page, "conditional-resource")
    page.get_by_role("link", name="申请共享").click()
    page.locator("input[name=items]").nth(0).check()
    page.locator("input[name=items]").nth(2).check()
    page.fill("#id_purpose", "企业信用评价模型中核查市场主体的违法记录")
    page.fill("#id_scenario", "普惠金融授信辅助")
    page.fill("#id_legal_basis", "《福建省大数据发展条例》第二十七条；数据使用授权申请")
    page.fill("#id_period_from", _local_date())
    page.fill("#id_period_until", _local_date(180))
    story.shots(page, "request-form")
    page.locator("main form").get_by_role("button", name="提交申请").click()
    expect(company.state()).to_have_text("待提供方审核")
    story.request_url = page.url
    story.shots(page, "request-pending")


def approval(story: Story) -> None:
    provider = story.provider = story.person()
    provider.sign_in(PROVIDER)
    provider.nav("待办")
    story.shots(provider.page, "provider-inbox")
    provider.open_from_inbox(COMPANY, "审核共享申请")
    provider.press_with("approve", {"conditions": "仅限授信辅助场景使用，不得向第三方提供"})
    expect(provider.state()).to_have_text("已批准")
    expect(provider.message()).to_have_text("已批准：授权已生效。")
    step = provider.page.locator("ol.timeline > li").last
    expect(step.locator("strong[title='contracts.sharing.approved']")).to_have_text(
        "共享申请获批")
    expect(step).to_contain_text(provider_name(provider))
    step.get_by_role("button", name="验证").click()
    expect(step.locator(".verify-result")).to_contain_text("验证通过")
    expect(step.locator(".verify-result")).to_contain_text("签名有效")
    expect(step.locator(".verify-result")).to_contain_text("证明有效")
    sides = step.locator(".verify-result ol.proof .chip")
    expect(sides.first).to_have_text(re.compile("^(左|右)$"))
    story.shots(provider.page, "request-approved-and-verified")


def delivery(story: Story) -> None:
    assert story.provider is not None and story.company is not None
    provider, page = story.provider, story.provider.page
    page.locator("dl.facts a[href*='/workflows/grants/']").click()
    expect(provider.state()).to_have_text("有效")
    expect(page.locator("dd.conditions")).to_have_text("仅限授信辅助场景使用，不得向第三方提供")
    penalties = [{"name": "penalties-2026.csv", "mimeType": "text/csv",
                  "buffer": PENALTIES.encode("gbk")}]
    page.fill("#id_rows", "3215")
    page.set_input_files("#id_data", files=penalties)
    page.get_by_role("button", name="记录交付").click()
    expect(page.locator(".field.has-error .errorlist")).to_contain_text(
        "交付文件 penalties-2026.csv 有 2 行，而不是 3,215 行")
    story.shots(page, "delivery-row-count-checked")
    page.fill("#id_rows", ROWS)
    page.set_input_files("#id_data", files=penalties)
    page.get_by_role("button", name="记录交付").click()
    expect(provider.message()).to_have_text("交付已记入账本。")
    expect(page.locator("ul.messages li").nth(1)).to_have_text("文件按 GB18030 编码读取。")
    expect(page.locator("table tbody tr", has_text=ROWS)).to_have_count(1)
    story.shots(page, "provider-delivers")

    company, page = story.company, story.company.page
    page.goto(story.request_url)
    expect(company.state()).to_have_text("已批准")
    page.locator("dl.facts a[href*='/workflows/grants/']").click()
    delivered = page.locator("table tbody tr", has_text=ROWS)
    expect(delivered).to_have_count(1)
    expect(delivered).to_contain_text("处罚决定书文号")
    story.shots(page, "company-sees-delivery")


def objection(story: Story) -> None:
    assert story.provider is not None
    citizen, provider = story.person(), story.provider
    citizen.sign_in(CITIZEN)
    citizen.search_and_open(OBJECTED)
    expect(citizen.heading().locator(".chip.bad")).to_have_count(0)
    citizen.page.get_by_role("link", name="提出异议").click()
    citizen.page.select_option("#id_ground", "accuracy")
    citizen.page.fill("#id_description", COMPLAINT)
    story.shots(citizen.page, "citizen-objects")
    citizen.page.locator("main form").get_by_role("button", name="提交异议").click()
    expect(citizen.state()).to_have_text("已提出")
    objection_url = citizen.page.url
    story.shots(citizen.page, "objection-filed")
    citizen.open_resource_of_page()
    expect(citizen.heading().locator(".chip.bad")).to_have_text("有异议")
    story.shots(citizen.page, "resource-disputed")
    citizen.nav("数据目录")
    listed = citizen.page.locator("tbody tr", has_text=OBJECTED)
    expect(listed.locator(".chip.bad")).to_have_text("有异议")

    provider.open_from_inbox(OBJECTED, "受理或不予受理异议")
    provider.press("受理")
    expect(provider.state()).to_have_text("已受理")
    provider.press("开始核查")
    expect(provider.state()).to_have_text("核查中")
    story.shots(provider.page, "objection-verifying")
    provider.open_resource_of_page()
    provider.page.get_by_role("link", name="修订").click()
    provider.page.fill("#id_description", REVISED)
    story.shots(provider.page, "provider-revises")
    provider.page.get_by_role("button", name="预览变更").click()
    diff = provider.page.locator("table.diff tbody tr", has_text="描述")
    expect(diff.locator(".diff-new")).to_have_text(REVISED)
    expect(provider.page.locator("table.diff tbody tr")).to_have_count(1)
    story.shots(provider.page, "provider-previews-the-diff")
    provider.page.get_by_role("button", name="发布第 2 版").click()
    expect(provider.message()).to_have_text("已修订：新版本已记入账本。")
    expect(provider.page.locator("table tbody tr", has_text="v2")).to_have_count(1)
    provider.page.get_by_role("link", name="v1", exact=True).click()
    expect(provider.heading()).to_contain_text("第 1 版")
    expect(provider.page.locator("main")).not_to_contain_text(REVISED)
    story.shots(provider.page, "old-version-viewable")
    provider.page.goto(objection_url)
    provider.press_with("correct", {"correction": CORRECTION})
    expect(provider.state()).to_have_text("已办结：已更正")
    expect(provider.message()).to_have_text("已办结：已更正。")
    story.shots(provider.page, "objection-corrected")

    citizen.page.goto(objection_url)
    expect(citizen.state()).to_have_text("已办结：已更正")
    expect(citizen.page.locator("dl.facts")).to_contain_text(CORRECTION)
    citizen.open_resource_of_page()
    expect(citizen.heading().locator(".chip.bad")).to_have_count(0)
    expect(citizen.page.locator("table tbody tr", has_text="v2")).to_have_count(1)
    expect(citizen.page.locator("main .card").first).to_contain_text(REVISED)
    story.shots(citizen.page, "resource-corrected")
    citizen.nav("数据目录")
    expect(listed.locator(".chip.bad")).to_have_count(0)

    citizen.page.goto(objection_url)
    citizen.press_with("appeal", {"reason": APPEAL})
    expect(citizen.state()).to_have_text("已申诉")
    expect(citizen.page.locator("dd.appeal-grounds")).to_have_text(APPEAL)
    authority = story.person()
    authority.sign_in(AUTHORITY)
    authority.open_from_inbox(OBJECTED, "复核申诉")
    expect(authority.page.locator("dd.appeal-grounds")).to_have_text(APPEAL)
    story.shots(authority.page, "authority-sees-the-grounds-of-appeal")
    authority.press_with("close", {"outcome": "经复核，有效期已按延续后的许可证更正。"})
    expect(authority.state()).to_contain_text("已关闭")


def quality(story: Story) -> None:
    """The provider's quality rules: one form per rule type, a GBK sample, failing rows."""
    assert story.provider is not None
    provider, page = story.provider, story.provider.page
    provider.search_and_open(CONDITIONAL)
    page.get_by_role("link", name="质量规则与样本").click()
    pattern = page.locator("form.card:has(input[name=check][value=pattern])")
    pattern.locator("select[name='pattern-item']").select_option("处罚决定书文号")
    pattern.get_by_role("button").click()
    expect(pattern.locator(".errorlist")).to_contain_text("必须是非空的正则表达式")
    story.shots(page, "a-pattern-rule-needs-a-pattern")
    pattern = page.locator("form.card:has(input[name=check][value=pattern])")
    pattern.locator("select[name='pattern-item']").select_option("处罚决定书文号")
    pattern.locator("input[name='pattern-pattern']").fill("榕市监罚〔2026〕[0-9]+号")
    pattern.get_by_role("button").click()
    expect(provider.message()).to_have_text("规则已添加。")
    sample = (PENALTIES + "闽罚2026-3,其他\n").encode("gbk")
    page.set_input_files("#id_sample", files=[{"name": "penalties-sample.csv",
                                               "mimeType": "text/csv", "buffer": sample}])
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator("ul.messages")).to_contain_text("样本按 GB18030 编码读取。")
    latest = page.locator("table.checks tbody tr").first
    expect(latest).to_contain_text("GB18030")
    expect(latest.locator(".failing")).to_contain_text("未通过的行: 3")
    story.shots(page, "quality-check-with-failing-rows")


def market(story: Story) -> None:
    """The company orders a listed product, reads the contract text it signs; the seller
    signs; the notarisation service finds it in its inbox and notarises it."""
    assert story.company is not None
    company, page = story.company, story.company.page
    company.nav("交易市场")
    page.get_by_role("link", name=PRODUCT).click()
    page.locator("a[href*='/workflows/orders/new/']").click()
    page.get_by_role("button", name="确认下单").click()
    expect(company.state()).to_have_text("已下单")
    expect(page.locator("pre.contract-text")).to_contain_text('"product":"DP-PARKING-001"')
    story.shots(page, "order-with-its-contract-text")
    code = page.locator("main h1 .mono").inner_text().strip()
    company.press("签署合同")
    seller = story.person()
    seller.sign_in(SELLER)
    seller.open_from_inbox(code, "签署合同")
    seller.press("签署合同")
    expect(seller.state()).to_have_text("双方已签约")
    notary = story.person()
    notary.sign_in(NOTARY)
    notary.open_from_inbox(code, "公证合同")
    expect(notary.page.locator("pre.contract-text")).to_be_visible()
    notary.press_with("notarise", {})
    expect(notary.message()).to_have_text("合同已公证。")
    story.shots(notary.page, "notary-notarises")


def explorer(story: Story) -> None:
    """Search by leaf hash; names beside codes; a 403 in the portal's layout."""
    auditor = story.person()
    auditor.sign_in(AUDITOR)
    auditor.nav("账本")
    first = auditor.page.locator("table.entries tbody tr").first
    leaf = first.locator("td[title]").last.get_attribute("title")
    seq = first.locator("a.row-link").inner_text()
    auditor.page.fill("#q", leaf[:16])
    auditor.page.locator("#q").press("Enter")
    expect(auditor.page.locator("table.entries tbody tr")).to_have_count(1)
    expect(auditor.page.locator("table.entries tbody tr a.row-link")).to_have_text(seq)
    story.shots(auditor.page, "explorer-search-by-leaf-hash")
    assert story.provider is not None
    story.provider.page.goto("/audit/")
    expect(story.provider.page.locator(".error-page .code")).to_have_text("403")
    expect(story.provider.page.locator(".error-page")).to_contain_text("审计页面")
    story.shots(story.provider.page, "forbidden-page")


def audit(story: Story, downloads: Path) -> None:
    auditor = story.person()
    auditor.sign_in(AUDITOR)
    auditor.nav("审计")
    auditor.page.get_by_role("button", name="验证账本").click()
    run = auditor.page.locator(".run-status:not([hx-get])")  # no longer polling: finished
    expect(run).to_have_count(1, timeout=90_000)
    story.shots(auditor.page, "auditor-verifies")
    assert run.locator(".chip").first.inner_text().strip() == "✓ 通过", run.inner_text()
    expect(run.locator(".progress")).to_have_attribute("value", "100")
    expect(run).to_contain_text("（100%）")

    with auditor.page.expect_download() as download:
        auditor.page.get_by_role("button", name="下载审计包").click()
    bundle = downloads / download.value.suggested_filename
    download.value.save_as(bundle)
    checked = subprocess.run([sys.executable, "-m", "audit.offline", "verify", str(bundle)],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def dashboard(regulator: Actor, before: dict[str, Any], story: Story) -> None:
    regulator.page.goto("/audit/regulator/")
    _wait_for_charts(regulator.page)
    after = _dashboard_figures(regulator.page)
    assert after["cards"]["交付"] == before["cards"]["交付"] + 1
    # the corrected objection was appealed and closed after re-examination
    for chart, label in [("chart-requests", "已批准"), ("chart-objections", "已关闭")]:
        assert after["charts"][chart][label] == before["charts"][chart][label] + 1, chart
    assert sum(after["charts"]["chart-volume"].values()) == sum(
        before["charts"]["chart-volume"].values()) + 1
    story.shots(regulator.page, "dashboard-zh")
    today = _local_date()
    regulator.page.fill("#id_since", _local_date(-6))
    regulator.page.fill("#id_until", today)
    regulator.page.get_by_role("button", name="显示").click()
    _wait_for_charts(regulator.page)
    spec = json.loads(regulator.page.locator("script#chart-volume").text_content())
    assert len(spec["labels"]) == 7 and spec["labels"][-1] == today
    regulator.page.get_by_role("link", name="交易日志").first.click()
    expect(regulator.page.locator("table.exchange tbody tr", has_text="记录交付").first
           ).to_be_visible()
    story.shots(regulator.page, "exchange-log")


def both_languages(regulator: Actor, story: Story) -> None:
    regulator.nav("数据目录")
    expect(regulator.heading()).to_have_text("公共数据目录")
    story.shots(regulator.page, "catalogue-zh-regulator")
    regulator.nav("监管")
    regulator.page.locator("select[name=language]").select_option("en")
    expect(regulator.page.locator("html")).to_have_attribute("lang", "en")
    expect(regulator.heading()).to_have_text("Regulator dashboard")
    _wait_for_charts(regulator.page)
    story.shots(regulator.page, "dashboard-en")
    regulator.nav("Catalogue")
    expect(regulator.heading()).to_have_text("Public data catalogue")
    story.shots(regulator.page, "catalogue-en")


def provider_name(actor: Actor) -> str:
    return "福州市市场监督管理局"


def test_the_whole_story_in_a_browser(portal: str, browser: Any, shots: Screenshots,
                                      tmp_path: Path) -> None:
    violations: list[str] = []

    def person() -> Actor:
        context = new_person_context(browser, portal)
        context.set_default_timeout(TIMEOUT_MS)
        # The page's Content Security Policy: every violation is reported in the console
        # ("Refused to ...") and as a securitypolicyviolation event; none may occur.
        context.add_init_script(CSP_LISTENER)
        page = context.new_page()
        page.on("console", lambda message: violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        return Actor(page)

    story = Story(person, shots)
    visitor = person()
    visitor.page.goto("/catalogue/")
    expect(visitor.heading()).to_have_text("公共数据目录")
    expect(visitor.page.locator("html")).to_have_attribute("lang", "zh-hans")
    shots(visitor.page, "catalogue-zh")
    regulator = person()
    regulator.sign_in(REGULATOR)
    regulator.nav("监管")
    expect(regulator.heading()).to_have_text("监管看板")
    before = _dashboard_figures(regulator.page)

    admission(story)
    sharing_request(story)
    approval(story)
    delivery(story)
    objection(story)
    quality(story)
    market(story)
    explorer(story)
    audit(story, tmp_path)
    dashboard(regulator, before, story)
    both_languages(regulator, story)
    api_docs(visitor, story)
    assert "script-src 'self'" in regulator.page.request.get("/").headers[
        "content-security-policy"]
    assert violations == []
    assert not shots.problems, "\n".join(shots.problems)

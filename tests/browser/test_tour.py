"""Every role's pages at 1366x768 and at 390x844 (a phone), in zh-hans and in English: a
screenshot of each under test-artifacts/browser/tour/, no serious or critical axe-core
violation, no sideways scrolling, and the page in the language asked for."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SHOTS_DIR, Screenshots, new_person_context

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000

# Who, and the pages they work in (after signing in; None: a visitor).
ROLES: dict[str | None, list[str]] = {
    None: ["/", "/catalogue/", "/catalogue/resources/SCJG-003/", "/ledger/",
           "/participants/apply/", "/no-such-page/"],
    "authority": ["/inbox/", "/participants/", "/workflows/agreements/"],
    "market": ["/catalogue/resources/SCJG-002/", "/catalogue/resources/SCJG-002/quality/",
               "/catalogue/resources/SCJG-002/edit/", "/workflows/requests/"],
    "operator": ["/workflows/grants/", "/catalogue/market/"],
    "app": ["/workflows/orders/", "/catalogue/market/DP-PARKING-001/"],
    "certifier": ["/catalogue/market/"],
    "notary": ["/inbox/", "/workflows/orders/"],
    "auditor": ["/audit/", "/ledger/checkpoints/", "/audit/exchange-log/"],
    "regulator": ["/audit/regulator/", "/ledger/entries/3/"],
    "citizen": ["/workflows/objections/", "/workflows/objections/new/?resource=SCJG-002"],
}
LANGUAGES = {"zh-CN": "zh-hans", "en-US": "en"}


def _sign_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"demo-{username}")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector(".userbox form[action*='logout']")


def _on_postgresql() -> bool:
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


@pytest.mark.skipif(_on_postgresql(), reason="pages and their layout do not depend on the "
                    "database: the tour runs in the SQLite pass (the story runs in both)")
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_role_at_both_sizes_and_in_both_languages(portal: str, browser: Any,
                                                        viewport: str) -> None:
    shots = Screenshots(SHOTS_DIR / "tour" / viewport)
    for locale, language in LANGUAGES.items():
        for username, paths in ROLES.items():
            context = new_person_context(browser, portal, viewport=viewport, locale=locale)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            if username is not None:
                _sign_in(page, username)
            for path in paths:
                page.goto(path)
                assert page.locator("html").get_attribute("lang") == language, path
                name = f"{language}-{username or 'visitor'}-{path.strip('/') or 'home'}"
                shots(page, name.replace("/", "_").replace("?", "_").replace("=", "_"))
            context.close()
    assert not shots.problems, "\n".join(shots.problems)

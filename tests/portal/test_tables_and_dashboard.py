"""Tables a person can work with: sortable columns (a second click reverses), rows that
link to their page, numbers with thousands separators; the regulator's dashboard over a
chosen date range; the exchange log as a page."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.portal.scenario import World


def client(world: World, who: str) -> Client:
    c = Client()
    c.cookies["django_language"] = "en"
    c.force_login(world.users[who])
    return c


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.django_db
def test_a_list_sorts_by_a_column_and_reverses_on_a_second_click(world: World) -> None:
    c = client(world, "authority")
    ids = sorted(r.pk for r in world.requests.values())
    ascending = page(c.get("/workflows/requests/?sort=id"))
    found = [int(n) for n in re.findall(r'class="row-link" href="/workflows/requests/(\d+)/"',
                                        ascending)]
    assert found == ids
    assert 'aria-sort="ascending"' in ascending and "sort=-id" in ascending
    descending = page(c.get("/workflows/requests/?sort=-id"))
    assert [int(n) for n in re.findall(
        r'class="row-link" href="/workflows/requests/(\d+)/"', descending)] == ids[::-1]
    # an unknown key falls back to the default order rather than failing
    assert c.get("/workflows/requests/?sort=password").status_code == 200


@pytest.mark.django_db
def test_the_dashboard_shows_the_chosen_date_range(world: World) -> None:
    c = client(world, "regulator")
    today = timezone.localdate()
    since = today - timedelta(days=6)
    response = c.get(f"/audit/regulator/?since={since}&until={today}")
    volume = json.loads(re.search(r'<script id="chart-volume" type="application/json">(.*?)'
                                  r"</script>", response.content.decode(), re.S).group(1))
    assert volume["labels"][0] == since.isoformat() and volume["labels"][-1] == today.isoformat()
    assert len(volume["labels"]) == 7
    assert sum(volume["series"][0]["data"]) == 1  # the scenario's one delivery, made today
    backwards = page(c.get(f"/audit/regulator/?since={today}&until={since}"))
    assert "is before the start of the period" in backwards


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.django_db
def test_the_date_pickers_show_the_period_in_use_in_either_language(
        world: World, language: str) -> None:
    """A date picker shows only an ISO 8601 value (``2026-12-09``); in zh-hans Django's
    own date format (``2026/12/09``) would leave it blank."""
    c = client(world, "regulator")
    c.cookies["django_language"] = language
    today = timezone.localdate()
    text = page(c.get("/audit/regulator/"))
    since = today - timedelta(days=29)
    assert f'name="since" value="{since.isoformat()}"' in text
    assert f'name="until" value="{today.isoformat()}"' in text
    chosen = page(c.get(f"/audit/regulator/?since={today - timedelta(days=2)}&until={today}"))
    assert f'name="since" value="{(today - timedelta(days=2)).isoformat()}"' in chosen


@pytest.mark.django_db
def test_the_exchange_log_page_lists_deliveries_and_orders_with_their_figures(
        world: World) -> None:
    text = page(client(world, "regulator").get("/audit/exchange-log/"))
    assert "Delivery recorded" in text and "1,200 rows" in text
    assert "Settlement recorded" in text
    deliveries = page(client(world, "regulator").get("/audit/exchange-log/?kind=delivery"))
    assert "Order placed" not in deliveries and "Delivery recorded" in deliveries
    assert client(world, "provider").get("/audit/exchange-log/").status_code == 403

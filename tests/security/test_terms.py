"""Terms have a maximum, enforced by the services (so by the API and the portal alike): an
authorised-operation agreement runs five years at most, a sharing request (and so its grant)
SHULIAN_SHARING_MAX_MONTHS (default 12); either begins at most that long after today."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from contracts import calendar
from contracts.models import Grant, OperationAgreement, SharingRequest
from tests.api.conftest import Api, World
from tests.api.test_contracts_api import ask, draft, error

TODAY = calendar.local_date(timezone.now())


def years_later(day: date, n: int) -> date:
    """Computed here by hand: the same day n years on (28 February for 29 February)."""
    try:
        return day.replace(year=day.year + n)
    except ValueError:
        return day.replace(year=day.year + n, day=28)


def months_later(day: date, n: int) -> date:
    month, year = day.month - 1 + n, day.year
    year, month = year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError


def test_the_issues_request_for_ten_thousand_years_is_refused(api: Api, w: World) -> None:
    grants, requests = Grant.objects.count(), SharingRequest.objects.count()
    refused = ask(api, "provider_b", "RS-OPEN", period_from="0001-01-01",
                  period_until="9999-12-31")
    assert "period_until" in error(refused, 400)["fields"]
    assert (Grant.objects.count(), SharingRequest.objects.count()) == (grants, requests)


@pytest.mark.parametrize(("until", "ok"), [
    (lambda t: months_later(t, 12) - timedelta(days=1), True),
    (lambda t: months_later(t, 12), False),
])
def test_a_sharing_request_runs_a_year_at_most(api: Api, w: World, until: Any,
                                              ok: bool) -> None:
    response = ask(api, "provider_b", "RS-OPEN", period_from=TODAY.isoformat(),
                   period_until=until(TODAY).isoformat())
    if ok:
        assert response.status_code == 201, response.content
        grant = Grant.objects.get(sharing_request__pk=response.json()["id"])
        assert calendar.local_date(grant.valid_until) == until(TODAY)
    else:
        assert "period_until" in error(response, 400)["fields"]


def test_a_sharing_request_begins_within_a_year(api: Api, w: World) -> None:
    start = months_later(TODAY, 12) + timedelta(days=1)
    refused = ask(api, "provider_b", "RS-OPEN", period_from=start.isoformat(),
                  period_until=(start + timedelta(days=30)).isoformat())
    assert "period_from" in error(refused, 400)["fields"]


def test_the_sharing_maximum_is_a_setting(api: Api, w: World, settings: Any) -> None:
    settings.SHULIAN_SHARING_MAX_MONTHS = 3
    refused = ask(api, "provider_b", "RS-OPEN", period_from=TODAY.isoformat(),
                  period_until=months_later(TODAY, 3).isoformat())
    assert "3 months" in error(refused, 400)["fields"]["period_until"][0]


@pytest.mark.parametrize(("end", "ok"), [
    (lambda t: years_later(t, 5) - timedelta(days=1), True),
    (lambda t: years_later(t, 5), False),
    (lambda t: date(9999, 12, 31), False),
])
def test_an_agreement_runs_five_years_at_most(api: Api, w: World, end: Any, ok: bool) -> None:
    agreements = OperationAgreement.objects.count()
    response = draft(api, w, term_end=end(TODAY).isoformat())
    if ok:
        assert response.status_code == 201, response.content
    else:
        assert "term_end" in error(response, 400)["fields"]
        assert OperationAgreement.objects.count() == agreements


def test_the_portal_refuses_the_same_terms(w: World) -> None:
    from django.test import Client

    from operators.models import Membership

    person = Membership.objects.filter(participant__code=w.code("provider_b")).first()
    assert person is not None
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(person.user)
    page = client.post("/workflows/requests/new/", {
        "resource": "RS-OPEN", "purpose": "p", "scenario": "s", "legal_basis": "b",
        "period_from": "0001-01-01", "period_until": "9999-12-31"})
    assert page.status_code == 200 and "12 months at most" in page.content.decode()

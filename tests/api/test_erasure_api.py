"""Personal information through the REST API: an objection's contact details, the payloads
that hold my personal information, and erasure requests from filing to decision, with the
error classes (401, 403 before 409 before 400) and the regulator's list of deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import selectors as ledger_reads
from ledger.models import Entry
from tests.api.conftest import Api, World, entries
from tests.api.test_contracts_api import error

V = "/api/v1/"
CONTACT = {"name": "王先生", "phone": "0591-87654321", "email": ""}


def file_objection(api: Api, contact: dict[str, str] | None = CONTACT) -> dict[str, Any]:
    body = {"resource": "RS-OPEN", "ground": "accuracy", "description": "我的企业名称登记有误"}
    if contact is not None:
        body["contact"] = contact
    response = api.as_("outsider").post(f"{V}objections/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def contact_seq(objection: dict[str, Any]) -> int:
    return Entry.objects.get(kind="contracts.objection.contact",
                             subject=f"contracts/objection/{objection['id']}").seq


def ask(api: Api, role: str, **body: Any) -> Any:
    return api.as_(role).post(f"{V}erasure-requests/", body, format="json")


def test_the_person_lists_their_personal_information(api: Api) -> None:
    objection = file_objection(api)
    response = api.as_("outsider").get(f"{V}personal-information/")
    assert response.status_code == 200
    held = {row["seq"]: row for row in response.json()}
    seq = contact_seq(objection)
    assert held[seq]["kind"] == "contracts.objection.contact"
    assert held[seq]["record"] == f"contracts/objection/{objection['id']}"
    assert set(held[seq]) == {"seq", "kind", "holds", "record", "recorded"}
    assert api.as_("merchant").get(f"{V}personal-information/").json() == []
    assert api.anon.get(f"{V}personal-information/").status_code == 401


@pytest.mark.parametrize(("language", "reason"), [("zh-hans", "不是有效的电话号码"),
                                                ("en", "is not a telephone number")])
def test_bad_contact_details_are_named_in_the_users_language(api: Api, language: str,
                                                             reason: str) -> None:
    before = entries()
    body = {"resource": "RS-OPEN", "ground": "accuracy", "description": "x",
            "contact": {"phone": "call me"}}
    response = api.as_("outsider").post(f"{V}objections/", body, format="json",
                                        HTTP_ACCEPT_LANGUAGE=language)
    assert error(response, 400)["fields"] == {"contact.phone": [reason]}
    assert entries() == before


def test_file_and_approve_through_the_api(api: Api, w: World) -> None:
    objection = file_objection(api)
    seq = contact_seq(objection)
    response = ask(api, "outsider", ground="consent", seq=seq, reason="不再需要")
    assert response.status_code == 201, response.content
    (made,) = response.json()["requests"]
    assert made["entry"]["kind"] == "contracts.erasure.requested"
    assert (made["controller"], made["state"], made["scope"]) == (
        w.code("provider"), "filed", "payload")
    assert made["targets"] == [{"seq": seq, "kind": "contracts.objection.contact",
                                "redaction_seq": None}]
    url = f"{V}erasure-requests/{made['id']}/"
    assert api.as_("provider").get(url).json()["actions"] == ["approve", "refuse"]
    assert api.as_("outsider").get(url).json()["actions"] == ["withdraw"]
    assert api.as_("merchant").get(url).status_code == 404  # not theirs to see
    before = entries()
    error(api.as_("provider_b").post(f"{url}approve/", {}, format="json"), 404)
    assert error(api.as_("outsider").post(f"{url}approve/", {"outcome": "x" * 5000},
                                          format="json"), 403)
    assert entries() == before
    approved = api.as_("provider").post(f"{url}approve/", {"outcome": "同意"}, format="json")
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert (body["state"], body["entry"]["kind"]) == ("erased", "contracts.erasure.approved")
    redaction = body["targets"][0]["redaction_seq"]
    assert Entry.objects.get(seq=redaction).kind == "ledger.payload.redacted"
    payload = api.as_("provider").get(f"{V}ledger/entries/{seq}/payload/").json()
    assert (payload["payload"], payload["salt"]) == (None, None)
    assert payload["erased"]["seq"] == redaction
    # the same step again: illegal from the state (409), before the body is read (400)
    error(api.as_("provider").post(f"{url}approve/", {"outcome": ["x"]}, format="json"), 409)


def test_refuse_appeal_and_uphold(api: Api, w: World) -> None:
    objection = file_objection(api)
    (made,) = ask(api, "outsider", ground="purpose", seq=contact_seq(objection)
                  ).json()["requests"]
    url = f"{V}erasure-requests/{made['id']}/"
    assert "reason" in error(api.as_("provider").post(f"{url}refuse/", {}, format="json"),
                             400)["fields"]
    refused = api.as_("provider").post(f"{url}refuse/", {"reason": "异议未办结"}, format="json")
    assert refused.json()["state"] == "refused"
    error(api.as_("provider").post(f"{url}appeal/", {"reason": "x"}, format="json"), 403)
    appealed = api.as_("outsider").post(f"{url}appeal/", {"reason": "不服"}, format="json")
    assert appealed.json()["state"] == "appealed"
    assert api.as_("authority").get(url).json()["actions"] == ["approve", "uphold"]
    error(api.as_("authority_staff").post(f"{url}uphold/", {"outcome": "x"}, format="json"), 403)
    upheld = api.as_("authority").post(f"{url}uphold/", {"outcome": "维持"}, format="json")
    assert (upheld.json()["state"], upheld.json()["entry"]["kind"]) == (
        "closed", "contracts.erasure.upheld")
    assert not ledger_reads.payload(contact_seq(objection)).erased  # type: ignore[union-attr]


def test_who_may_file_and_what_is_refused(api: Api, w: World) -> None:
    objection = file_objection(api)
    seq = contact_seq(objection)
    before = entries()
    assert api.anon.post(f"{V}erasure-requests/", {"ground": "consent"},
                         format="json").status_code == 401
    error(ask(api, "merchant", ground="court_order", seq=seq, reference="x"), 403)
    found = error(ask(api, "merchant", ground="consent", seq=seq), 400)
    assert list(found["fields"]) == ["seq"]
    found = error(ask(api, "authority", ground="court_order", seq=seq), 400)
    assert list(found["fields"]) == ["reference"]
    assert list(error(ask(api, "outsider", ground="consent", seq=seq, colour="red"),
                      400)["fields"]) == ["colour"]
    assert list(error(ask(api, "authority", ground="court_order", reference="(2026)京01",
                          person="nobody-here"), 400)["fields"]) == ["person"]
    assert entries() == before
    response = ask(api, "authority", ground="court_order", reference="(2026)京01民初9号",
                   person=w.usernames["outsider"])
    assert response.status_code == 201, response.content
    made = response.json()["requests"]
    assert {r["filer_participant"] for r in made} == {w.code("authority")}
    assert seq in {t["seq"] for r in made for t in r["targets"]}


def test_the_regulator_sees_the_deadlines(api: Api, w: World) -> None:
    objection = file_objection(api)
    (made,) = ask(api, "outsider", ground="consent", seq=contact_seq(objection)
                  ).json()["requests"]
    response = api.as_("regulator").get(f"{V}regulator/erasures/")
    assert response.status_code == 200
    (row,) = [r for r in response.json() if r["id"] == made["id"]]
    assert (row["controller"], row["state"], row["payloads"], row["overdue"]) == (
        w.code("provider"), "filed", 1, False)
    assert row["due"] == made["due"]
    error(api.as_("merchant").get(f"{V}regulator/erasures/"), 403)
    listed = api.as_("regulator").get(f"{V}erasure-requests/?state=filed").json()
    assert made["id"] in [r["id"] for r in listed["results"]]


@pytest.mark.parametrize("role", ["provider", "outsider", "authority", "regulator"])
def test_the_list_shows_what_each_reader_may_see(api: Api, role: str) -> None:
    objection = file_objection(api)
    (made,) = ask(api, "outsider", ground="consent", seq=contact_seq(objection)
                  ).json()["requests"]
    ids = [r["id"] for r in api.as_(role).get(f"{V}erasure-requests/").json()["results"]]
    assert made["id"] in ids
    for stranger in ("merchant", "provider_b"):
        listed = api.as_(stranger).get(f"{V}erasure-requests/").json()["results"]
        assert made["id"] not in [r["id"] for r in listed]

"""Usage records through the REST API: a gateway posts a batch of records signed with the
grantee's own key; they are queued with every signature checked, integrated by the
integrator, and the gateway finds each one where it stands (queued, then integrated with its
entry). Bad batches name the record and the field, and queue nothing.

These tests run inside a transaction that is rolled back, so nothing commits and nothing is
integrated by itself: the API answers 202 with where to look, and the test integrates the
queue as the integrator would (the 201 path, through a real server: tests/demo).
"""

from __future__ import annotations

from typing import Any

import pytest

from contracts.models import Grant
from ledger import queue
from ledger.models import Entry, Pending
from tests.api.conftest import Api, World
from tests.api.test_contracts_api import error
from tests.ledger.helpers import Client, register_client

URL = "/api/v1/usage-records/"


@pytest.fixture
def gateway(w: World, settings: Any) -> Client:
    """The operator's gateway with a key of its own (the server holds no secret of it)."""
    settings.SHULIAN_INTEGRATION_WAIT_MS = 0
    return register_client(w.code("operator"))


def records(gateway: Client, w: World, count: int, **fields: Any) -> list[dict[str, Any]]:
    grant = Grant.objects.filter(grantee=w.participant("operator")).order_by("pk").first()
    assert grant is not None
    made = []
    fields = {"kind": "usage.api.called", "subject": f"contracts/grant/{grant.pk}", **fields}
    for n in range(count):
        sub = gateway.submission({"calls": n + 1, "rows": 10}, **fields)
        made.append({"statement": sub.statement, "signature": sub.signature,
                     "payload": sub.payload, "salt": sub.salt})
    return made


def post(api: Api, role: str | None, body: Any) -> Any:
    client = api.anon if role is None else api.as_(role)
    return client.post(URL, body, format="json")


def test_a_batch_is_queued_and_then_found_integrated(api: Api, w: World,
                                                     gateway: Client) -> None:
    batch = records(gateway, w, 3)
    response = post(api, "operator", {"statements": batch})
    assert response.status_code == 202, response.content
    pending = response.json()["pending"]
    assert len(pending) == 3 and all(p["url"].endswith(f"/api/v1/ledger/pending/{p['id']}/")
                                     for p in pending)
    client = api.as_("operator")
    assert {client.get(p["url"]).json()["state"] for p in pending} == {"queued"}

    assert queue.drain() == 3  # what the integrator does
    for item, sent in zip(pending, batch, strict=True):
        body = client.get(item["url"]).json()
        assert body["state"] == "integrated" and body["problem"] == ""
        entry = Entry.objects.get(seq=body["entry"]["seq"])
        assert entry.leaf_hash == body["entry"]["leaf_hash"]
        assert entry.nonce == sent["statement"]["nonce"] and entry.kind == "usage.api.called"
    seqs = [client.get(p["url"]).json()["entry"]["seq"] for p in pending]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3  # in the order they were posted


def test_where_a_statement_stands_is_for_its_actor_and_oversight(api: Api, w: World,
                                                                 gateway: Client) -> None:
    response = post(api, "operator", {"statements": records(gateway, w, 1)})
    url = response.json()["pending"][0]["url"]
    assert api.as_("auditor").get(url).status_code == 200
    error(api.as_("merchant").get(url), 404)
    error(api.anon.get(url), 401)
    queue.drain()
    error(api.as_("merchant").get(url), 404)
    assert api.as_("regulator").get(url).json()["state"] == "integrated"
    error(api.as_("operator").get("/api/v1/ledger/pending/999999/"), 404)


@pytest.mark.parametrize(("spoil", "role", "status", "field"), [
    ("signature", "operator", 400, "statements[1].signature"),
    ("payload", "operator", 400, "statements[1].statement.payload"),
    ("grant", "operator", 400, "statements[1].statement.subject"),
    ("kind", "operator", 400, "statements[1].statement.kind"),
    ("replay", "operator", 400, "statements[1].statement.nonce"),
    ("actor", "merchant", 403, None),
    ("none", None, 401, None),
])
def test_a_bad_batch_names_the_record_and_queues_nothing(
        api: Api, w: World, gateway: Client, spoil: str, role: str | None, status: int,
        field: str | None) -> None:
    batch = records(gateway, w, 3)
    second = batch[1]
    if spoil == "signature":
        second["signature"] = batch[0]["signature"]
    elif spoil == "payload":
        second["payload"] = {"calls": 999, "rows": 10}
    elif spoil == "grant":
        batch[1] = records(gateway, w, 1, subject="contracts/grant/999999")[0]
    elif spoil == "kind":
        batch[1] = records(gateway, w, 1, kind="contracts.objection.filed")[0]
    elif spoil == "replay":
        batch[1] = records(gateway, w, 1, nonce=batch[0]["statement"]["nonce"])[0]
    before = Pending.objects.count(), Entry.objects.count()
    found = error(post(api, role, {"statements": batch}), status)
    if field is not None:
        assert field in found["fields"], found
    assert (Pending.objects.count(), Entry.objects.count()) == before


def test_a_batch_holds_one_to_256_records(api: Api, w: World, gateway: Client) -> None:
    assert "statements" in error(post(api, "operator", {"statements": []}), 400)["fields"]
    many = records(gateway, w, 1) * 257
    assert "statements" in error(post(api, "operator", {"statements": many}), 400)["fields"]

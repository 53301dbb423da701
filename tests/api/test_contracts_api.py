"""Workflows through the REST API: sharing requests, agreements, grants and deliveries,
objections (server-signed and client-signed) and orders, with every error class each
endpoint can produce and the permission matrix of the main actions."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contracts.models import Grant, Objection, Order, SharingRequest
from crypto import sm2
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from ledger import services as ledger
from ledger.models import Entry
from ledger.protocol.format import format_time
from operators import services as operators
from tests.api.conftest import Api, World, entries

V = "/api/v1/"
TODAY = date.today()
PERIOD = {
    "period_from": TODAY.isoformat(),
    "period_until": (TODAY + timedelta(days=90)).isoformat(),
}
DIGEST = sm3_hex(b"delivered rows")
DESENS = {"uscc": "none"}


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == status
    return body["error"]  # type: ignore[no-any-return]


def written(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["entry"]["kind"] == kind, body["entry"]
    assert Entry.objects.get(seq=body["entry"]["seq"]).leaf_hash == body["entry"]["leaf_hash"]
    return body  # type: ignore[no-any-return]


def ask(api: Api, role: str, resource: str, **extra: Any) -> Any:
    return api.as_(role).post(
        f"{V}sharing-requests/",
        {
            "resource": resource,
            "purpose": "监管核查",
            "scenario": "市场监管",
            "legal_basis": "《办法》第十条",
            **PERIOD,
            **extra,
        },
        format="json",
    )


def pending(api: Api) -> int:
    body = written(ask(api, "provider_b", "RS-COND"), 201, "contracts.sharing.requested")
    assert body["state"] == "pending" and body["due"]
    return int(body["id"])


# --- sharing requests ----------------------------------------------------------------------


def test_unconditional_request_is_granted_at_once(api: Api) -> None:
    body = written(
        ask(api, "provider_b", "RS-OPEN", items=["uscc"]), 201, "contracts.sharing.requested"
    )
    assert body["state"] == "approved" and body["items"] == ["uscc"]
    assert Grant.objects.filter(sharing_request_id=body["id"]).exists()


def test_request_errors(api: Api, w: World) -> None:
    before = entries()
    assert "purpose" in error(ask(api, "provider_b", "RS-COND", purpose=""), 400)["fields"]
    assert "resource" in error(ask(api, "provider_b", "RS-NONE"), 400)["fields"]
    assert "items[0]" in error(ask(api, "provider_b", "RS-COND", items=["nope"]), 400)["fields"]
    assert "period_from" in error(ask(api, "provider_b", "RS-COND", period_from="x"), 400)["fields"]
    error(ask(api, None, "RS-COND"), 401)  # type: ignore[arg-type]
    error(ask(api, "certifier", "RS-COND"), 403)
    error(ask(api, "provider", "RS-COND"), 400)  # its own resource
    error(ask(api, "provider_b", "RS-DRAFT"), 400)  # invisible draft: no such resource
    assert entries() == before


def test_approve_refuse_withdraw_and_their_errors(api: Api) -> None:
    pk = pending(api)
    url = f"{V}sharing-requests/{pk}/"
    assert api.as_("provider_b").get(url).json()["state"] == "pending"
    error(api.as_("merchant").get(url), 404)
    error(api.anon.get(url), 404)
    error(api.as_("provider_b").post(url + "approve/", {}, format="json"), 403)
    error(api.anon.post(url + "approve/", {}, format="json"), 401)
    assert (
        "reason"
        in error(api.as_("provider").post(url + "refuse/", {"reason": " "}, format="json"), 400)[
            "fields"
        ]
    )
    body = written(
        api.as_("provider").post(url + "approve/", {"conditions": "仅限内部使用"}, format="json"),
        200,
        "contracts.sharing.approved",
    )
    assert body["state"] == "approved" and body["conditions"] == "仅限内部使用"
    error(api.as_("provider").post(url + "refuse/", {"reason": "late"}, format="json"), 409)
    error(api.as_("provider_b").post(url + "withdraw/", {}, format="json"), 409)
    error(api.as_("provider").post(f"{V}sharing-requests/999999/approve/", {}, format="json"), 404)
    error(api.as_("provider").post(f"{V}sharing-requests/{2**70}/approve/", {}, format="json"), 404)

    other = pending(api)
    body = written(
        api.as_("provider").post(
            f"{V}sharing-requests/{other}/refuse/", {"reason": "不符合条件"}, format="json"
        ),
        200,
        "contracts.sharing.refused",
    )
    assert body["state"] == "refused"
    third = pending(api)
    error(
        api.as_("provider").post(f"{V}sharing-requests/{third}/withdraw/", {}, format="json"), 403
    )
    body = written(
        api.as_("provider_b").post(f"{V}sharing-requests/{third}/withdraw/", {}, format="json"),
        200,
        "contracts.sharing.withdrawn",
    )
    assert body["state"] == "withdrawn"


def test_request_list_filters_and_orders(api: Api, w: World) -> None:
    first = pending(api)
    written(ask(api, "provider_b", "RS-OPEN"), 201, "contracts.sharing.requested")
    client = api.as_("provider_b")
    rows = client.get(f"{V}sharing-requests/", {"state": "pending"}).json()
    assert [r["id"] for r in rows["results"]] == [first] and rows["count"] == 1
    assert client.get(f"{V}sharing-requests/", {"resource": "RS-OPEN"}).json()["count"] == 1
    assert (
        client.get(f"{V}sharing-requests/", {"requester": w.code("provider_b").lower()}).json()[
            "count"
        ]
        == 2
    )
    assert client.get(f"{V}sharing-requests/", {"escalated": "true"}).json()["count"] == 0
    ordered = client.get(f"{V}sharing-requests/", {"ordering": "created"}).json()["results"]
    assert ordered[0]["id"] == first
    assert (
        "ordering" in error(client.get(f"{V}sharing-requests/", {"ordering": "x"}), 400)["fields"]
    )
    assert "state" in error(client.get(f"{V}sharing-requests/", {"state": "x"}), 400)["fields"]
    assert api.as_("merchant").get(f"{V}sharing-requests/").json()["count"] == 0
    assert api.anon.get(f"{V}sharing-requests/").json()["count"] == 0
    assert api.as_("regulator").get(f"{V}sharing-requests/").json()["count"] == 2


# --- agreements ----------------------------------------------------------------------------


def draft(api: Api, w: World, **extra: Any) -> Any:
    return api.as_("authority").post(
        f"{V}agreements/",
        {
            "operator": w.code("operator"),
            "resources": ["RS-OPEN"],
            "items": [{"resource": "RS-OPEN", "name": "uscc"}],
            "scenarios": "金融风控",
            "security_obligations": "等保三级",
            "desensitisation_rules": "法定代表人脱敏",
            "term_start": TODAY.isoformat(),
            "term_end": (TODAY + timedelta(days=365)).isoformat(),
            **extra,
        },
        format="json",
    )


def test_agreement_lifecycle(api: Api, w: World) -> None:
    body = written(draft(api, w), 201, "contracts.agreement.created")
    assert body["state"] == "draft" and body["items"] == ["RS-OPEN/uscc"]
    url = f"{V}agreements/{body['code']}/"
    error(api.as_("merchant").get(url), 404)
    error(api.as_("merchant").post(url + "sign/"), 404)
    error(api.as_("operator").post(url + "suspend/", {"reason": "x"}, format="json"), 403)
    written(api.as_("authority").post(url + "sign/"), 200, "contracts.agreement.signed")
    error(api.as_("authority").post(url + "sign/"), 409)
    body = api.as_("operator").post(url + "sign/").json()
    assert body["state"] == "effective"
    assert (
        "reason"
        in error(api.as_("authority").post(url + "suspend/", {}, format="json"), 400)["fields"]
    )
    body = api.as_("authority").post(url + "suspend/", {"reason": "整改"}, format="json").json()
    assert body["state"] == "suspended" and body["entry"]["actor"] == w.code("authority")
    error(api.as_("authority").post(url + "suspend/", {"reason": "again"}, format="json"), 409)
    assert (
        api.as_("authority").post(url + "resume/", {}, format="json").json()["state"] == "effective"
    )
    assert (
        api.as_("authority")
        .post(url + "terminate/", {"reason": "到期前终止"}, format="json")
        .json()["state"]
        == "terminated"
    )
    rows = api.as_("operator").get(f"{V}agreements/", {"state": "terminated"}).json()
    assert rows["count"] == 1
    assert api.as_("merchant").get(f"{V}agreements/").json()["count"] == 0


def test_agreement_errors(api: Api, w: World) -> None:
    error(draft(api, w, operator=w.code("merchant")), 400)
    assert "operator" in error(draft(api, w, operator="NOPE"), 400)["fields"]
    assert (
        "items[0]"
        in error(draft(api, w, items=[{"resource": "RS-OPEN", "name": "x"}]), 400)["fields"]
    )
    assert "term_end" in error(draft(api, w, term_end="2000-01-01"), 400)["fields"]
    # who may draft is checked first: an operator is told 403, not a list of missing fields
    error(api.as_("operator").post(f"{V}agreements/", {}, format="json"), 403)
    response = api.as_("operator").post(
        f"{V}agreements/",
        {
            "operator": w.code("operator"),
            "resources": ["RS-OPEN"],
            "scenarios": "a",
            "security_obligations": "b",
            "desensitisation_rules": "c",
            "term_start": TODAY.isoformat(),
            "term_end": TODAY.isoformat(),
        },
        format="json",
    )
    error(response, 403)
    error(api.anon.post(f"{V}agreements/", {}, format="json"), 401)
    assert "code" in error(api.as_("authority").post(f"{V}agreements/NOPE\x00/sign/"), 400)[
        "fields"]


# --- grants and deliveries -----------------------------------------------------------------


def operator_grant(w: World, resource: str = "RS-OPEN") -> Grant:
    return Grant.objects.get(grantee__code=w.code("operator"), resource__code=resource)


def test_grants_list_detail_and_revoke(api: Api, w: World) -> None:
    grant = operator_grant(w)
    rows = api.as_("operator").get(f"{V}grants/", {"resource": "RS-OPEN", "state": "active"}).json()
    assert [r["id"] for r in rows["results"]] == [grant.pk]
    assert (
        api.as_("operator").get(f"{V}grants/", {"grantee": w.code("operator")}).json()["count"] == 2
    )
    assert api.as_("merchant").get(f"{V}grants/").json()["count"] == 0
    url = f"{V}grants/{grant.pk}/"
    assert api.as_("provider").get(url).json()["resource"] == "RS-OPEN"
    error(api.as_("merchant").get(url), 404)
    error(api.as_("operator").post(url + "revoke/", {"reason": "x"}, format="json"), 403)
    assert (
        "reason"
        in error(api.as_("provider").post(url + "revoke/", {}, format="json"), 400)["fields"]
    )
    body = written(
        api.as_("provider").post(url + "revoke/", {"reason": "违规使用"}, format="json"),
        200,
        "contracts.grant.revoked",
    )
    assert body["state"] == "revoked"
    error(api.as_("provider").post(url + "revoke/", {"reason": "again"}, format="json"), 409)
    # the next delivery under it is refused
    error(
        api.as_("provider").post(
            url + "deliveries/",
            {"digest": DIGEST, "rows": 1, "desensitisation": DESENS},
            format="json",
        ),
        409,
    )


def test_deliveries_json_and_multipart(api: Api, w: World) -> None:
    grant = operator_grant(w)
    url = f"{V}grants/{grant.pk}/deliveries/"
    body = written(
        api.as_("provider").post(
            url, {"digest": DIGEST, "rows": 120, "desensitisation": DESENS}, format="json"
        ),
        201,
        "contracts.delivery.recorded",
    )
    assert (
        body["digest"] == DIGEST and body["rows"] == 120 and body["grantee"] == w.code("operator")
    )
    upload = SimpleUploadedFile("rows.csv", b"uscc\n91110000\n", content_type="text/csv")
    body = written(
        api.as_("provider").post(
            url,
            {"file": upload, "rows": "1", "desensitisation": '{"uscc": "none"}'},
            format="multipart",
        ),
        201,
        "contracts.delivery.recorded",
    )
    assert body["digest"] == sm3_hex(b"uscc\n91110000\n")
    assert api.as_("operator").get(url).json()["count"] == 2
    assert api.as_("operator").get(f"{V}deliveries/", {"resource": "RS-OPEN"}).json()["count"] == 2
    assert api.as_("merchant").get(f"{V}deliveries/").json()["count"] == 0
    assert api.as_("operator").get(url, {"ordering": "-rows"}).json()["results"][0]["rows"] == 120


def test_delivery_errors(api: Api, w: World) -> None:
    url = f"{V}grants/{operator_grant(w).pk}/deliveries/"
    before = entries()
    provider = api.as_("provider")
    assert (
        "digest"
        in error(
            provider.post(
                url, {"digest": "zz", "rows": 1, "desensitisation": DESENS}, format="json"
            ),
            400,
        )["fields"]
    )
    assert (
        "rows"
        in error(
            provider.post(
                url, {"digest": DIGEST, "rows": -1, "desensitisation": DESENS}, format="json"
            ),
            400,
        )["fields"]
    )
    assert (
        "desensitisation"
        in error(
            provider.post(
                url,
                {"file": SimpleUploadedFile("a.csv", b"x"), "rows": "1", "desensitisation": "[1"},
                format="multipart",
            ),
            400,
        )["fields"]
    )
    error(
        provider.post(
            url, {"digest": DIGEST, "rows": 1, "desensitisation": {"nope": "mask"}}, format="json"
        ),
        400,
    )
    error(
        api.as_("operator").post(
            url, {"digest": DIGEST, "rows": 1, "desensitisation": DESENS}, format="json"
        ),
        403,
    )
    error(
        api.anon.post(url, {"digest": DIGEST, "rows": 1, "desensitisation": DESENS}, format="json"),
        401,
    )
    error(
        api.as_("merchant").post(
            url, {"digest": DIGEST, "rows": 1, "desensitisation": DESENS}, format="json"
        ),
        404,
    )
    error(api.as_("merchant").get(url), 404)
    assert entries() == before


# --- objections ----------------------------------------------------------------------------


def file(api: Api, role: str = "merchant", **extra: Any) -> Any:
    return api.as_(role).post(
        f"{V}objections/",
        {"resource": "RS-OPEN", "ground": "accuracy", "description": "注册资本有误", **extra},
        format="json",
    )


def test_objection_full_story(api: Api, w: World) -> None:
    body = written(file(api), 201, "contracts.objection.filed")
    assert body["state"] == "filed" and body["filer_participant"] == w.code("merchant")
    url = f"{V}objections/{body['id']}/"

    def step(action: str, role: str = "provider", **data: Any) -> dict[str, Any]:
        return api.as_(role).post(url + action + "/", data, format="json").json()  # type: ignore[no-any-return]

    error(api.as_("merchant").post(url + "accept/"), 403)
    error(api.as_("provider").post(url + "start-verification/"), 409)
    assert step("accept")["state"] == "accepted"
    assert step("start-verification")["state"] == "verifying"
    error(api.as_("provider").post(url + "correct/", {}, format="json"), 400)
    body = step("correct", correction="已更正注册资本")
    assert body["state"] == "corrected" and body["entry"]["kind"] == (
        "contracts.objection.corrected"
    )
    error(api.as_("provider").post(url + "appeal/", {"reason": "x"}, format="json"), 403)
    assert step("appeal", "merchant", reason="更正不完整")["state"] == "appealed"
    error(api.as_("provider").post(url + "close/", {"outcome": "x"}, format="json"), 403)
    body = step("close", "authority", outcome="维持更正")
    assert body["state"] == "closed" and body["outcome"] == "维持更正"
    error(api.as_("authority").post(url + "close/", {"outcome": "x"}, format="json"), 409)


@pytest.mark.parametrize(
    ("action", "data", "state"),
    [
        ("not-accept", {"reason": "不属于受理范围"}, "not_accepted"),
    ],
)
def test_objection_not_accepted(api: Api, action: str, data: dict[str, str], state: str) -> None:
    pk = file(api).json()["id"]
    body = api.as_("provider").post(f"{V}objections/{pk}/{action}/", data, format="json")
    assert body.json()["state"] == state


@pytest.mark.parametrize("action", ["uphold", "dismiss"])
def test_objection_uphold_or_dismiss(api: Api, action: str) -> None:
    pk = file(api).json()["id"]
    client = api.as_("provider")
    client.post(f"{V}objections/{pk}/accept/")
    client.post(f"{V}objections/{pk}/start-verification/")
    error(client.post(f"{V}objections/{pk}/{action}/", {"reason": ""}, format="json"), 400)
    body = client.post(f"{V}objections/{pk}/{action}/", {"reason": "数据无误"}, format="json")
    assert body.json()["state"] == {"uphold": "upheld", "dismiss": "dismissed"}[action]


def test_objection_errors_and_visibility(api: Api, w: World) -> None:
    before = entries()
    assert "ground" in error(file(api, ground="mood"), 400)["fields"]
    assert "description" in error(file(api, description=" "), 400)["fields"]
    assert "grant" in error(file(api, ground="legitimacy"), 400)["fields"]
    assert "resource" in error(file(api, resource="RS-DRAFT"), 400)["fields"]
    assert "grant" in error(file(api, grant=999999), 400)["fields"]
    error(api.anon.post(f"{V}objections/", {}, format="json"), 401)
    assert entries() == before
    pk = file(api).json()["id"]
    error(api.as_("provider_b").get(f"{V}objections/{pk}/"), 404)
    error(api.as_("provider_b").post(f"{V}objections/{pk}/accept/"), 404)
    assert api.as_("provider").get(f"{V}objections/", {"state": "filed"}).json()["count"] == 1
    assert api.as_("provider_b").get(f"{V}objections/").json()["count"] == 0
    assert (
        api.as_("regulator")
        .get(f"{V}objections/", {"ground": "accuracy", "resource": "RS-OPEN"})
        .json()["count"]
        == 1
    )


def test_a_person_files_for_nobody(api: Api) -> None:
    body = written(file(api, "outsider"), 201, "contracts.objection.filed")
    assert body["filer_participant"] is None
    assert body["entry"]["actor"] == ledger.origin()


# --- client-signed objections --------------------------------------------------------------


def client_key(w: World) -> tuple[sm2.PrivateKey, str]:
    key = sm2.PrivateKey.generate()
    registered = operators.upload_key(
        participant=w.participant("merchant"),
        pem=key.public_key.pem,
        by=w.user("merchant"),
    )
    return key, registered.key_id


def signed_filing(
    w: World, key: sm2.PrivateKey, key_id: str, **payload_extra: Any
) -> dict[str, Any]:
    payload = {
        "resource": "RS-OPEN",
        "ground": "accuracy",
        "description": "地址有误",
        "filer": w.code("merchant"),
        "grant": None,
        **payload_extra,
    }
    salt = secrets.token_bytes(16)
    statement = {
        "v": 2,
        "ledger": ledger.origin(),
        "kind": "contracts.objection.filed",
        "actor": w.code("merchant"),
        "key": key_id,
        "subject": "catalog/resource/RS-OPEN",
        "payload": sm3_hex(salt + canonical(payload, ledger_profile=True)),
        "nonce": secrets.token_hex(16),
        "time": format_time(datetime.now(UTC)),
    }
    signature = base64.b64encode(key.sign(canonical(statement))).decode()
    return {"statement": statement, "signature": signature, "payload": payload,
            "salt": base64.b64encode(salt).decode()}


def test_client_signed_objection_is_signed_by_the_clients_key(api: Api, w: World) -> None:
    key, key_id = client_key(w)
    body = signed_filing(w, key, key_id)
    response = api.as_("merchant").post(f"{V}objections/", body, format="json")
    result = written(response, 201, "contracts.objection.filed")
    assert result["state"] == "filed" and result["description"] == "地址有误"
    assert Entry.objects.get(seq=result["entry"]["seq"]).key_id == key_id
    # the same statement again is a replay: refused, and no second objection
    count = Objection.objects.count()
    assert (
        "statement.nonce"
        in error(api.as_("merchant").post(f"{V}objections/", body, format="json"), 400)["fields"]
    )
    assert Objection.objects.count() == count


def test_client_signed_objection_errors(api: Api, w: World) -> None:
    key, key_id = client_key(w)
    before, count = entries(), Objection.objects.count()
    client = api.as_("merchant")
    bad = signed_filing(w, key, key_id)
    bad["payload"]["description"] = "另一件事"
    assert (
        "statement.payload"
        in error(client.post(f"{V}objections/", bad, format="json"), 400)["fields"]
    )
    wrong = signed_filing(w, key, key_id, filer=w.code("operator"))
    assert (
        "payload.filer"
        in error(client.post(f"{V}objections/", wrong, format="json"), 400)["fields"]
    )
    forged = signed_filing(w, sm2.PrivateKey.generate(), key_id)
    assert (
        "signature" in error(client.post(f"{V}objections/", forged, format="json"), 400)["fields"]
    )
    odd = signed_filing(w, key, key_id, extra="x")
    assert "payload" in error(client.post(f"{V}objections/", odd, format="json"), 400)["fields"]
    missing = signed_filing(w, key, key_id)
    del missing["payload"]["ground"]
    assert (
        "payload.ground"
        in error(client.post(f"{V}objections/", missing, format="json"), 400)["fields"]
    )
    # another participant's member cannot submit the merchant's statement
    error(
        api.as_("operator").post(f"{V}objections/", signed_filing(w, key, key_id), format="json"),
        403,
    )
    assert entries() == before and Objection.objects.count() == count


# --- orders --------------------------------------------------------------------------------


def place(api: Api, role: str = "merchant", product: str = "DP-LISTED") -> Any:
    return api.as_(role).post(f"{V}orders/", {"product": product}, format="json")


def test_order_lifecycle(api: Api, w: World) -> None:
    body = written(place(api), 201, "contracts.order.placed")
    assert body["state"] == "ordered" and body["amount"] == "1250.00"
    url = f"{V}orders/{body['code']}/"

    def step(action: str, role: str, **data: Any) -> Any:
        return api.as_(role).post(url + action + "/", data, format="json")

    error(step("deliver", "operator", digest=DIGEST), 409)
    assert step("sign", "merchant").json()["state"] == "ordered"
    assert step("sign", "operator").json()["state"] == "contracted"
    error(step("notarise", "certifier"), 404)
    error(step("deliver", "merchant", digest=DIGEST), 403)
    assert "digest" in error(step("deliver", "operator", digest="x"), 400)["fields"]
    assert step("deliver", "operator", digest=DIGEST).json()["state"] == "delivered"
    error(step("accept", "operator"), 403)
    assert step("accept", "merchant").json()["state"] == "accepted"
    assert (
        "amount"
        in error(step("settle", "operator", amount="99999.00", currency="CNY"), 400)["fields"]
    )
    assert (
        "currency"
        in error(step("settle", "operator", amount="1.00", currency="cny"), 400)["fields"]
    )
    body = step("settle", "operator", amount="1250.00", currency="CNY").json()
    assert body["state"] == "settled" and body["settled_amount"] == "1250.00"
    assert step("close", "merchant").json()["state"] == "closed"
    error(step("cancel", "merchant", reason="x"), 409)
    rows = (
        api.as_("merchant")
        .get(f"{V}orders/", {"state": "closed", "seller": w.code("operator")})
        .json()
    )
    assert rows["count"] == 1
    assert api.as_("provider_b").get(f"{V}orders/").json()["count"] == 0


def test_order_errors(api: Api) -> None:
    error(place(api, product="DP-DRAFT"), 409)
    assert "product" in error(place(api, product="NOPE"), 400)["fields"]
    error(place(api, role="operator"), 400)  # its own product
    error(place(api, role="provider"), 403)
    error(api.anon.post(f"{V}orders/", {"product": "DP-LISTED"}, format="json"), 401)
    code = place(api).json()["code"]
    error(api.as_("provider").get(f"{V}orders/{code}/"), 404)
    error(api.as_("merchant").post(f"{V}orders/{code}/cancel/", {}, format="json"), 400)
    body = (
        api.as_("merchant")
        .post(f"{V}orders/{code}/cancel/", {"reason": "不再需要"}, format="json")
        .json()
    )
    assert body["state"] == "cancelled" and body["entry"]["kind"] == "contracts.order.cancelled"
    assert Order.objects.get(code=code).state == "cancelled"
    error(api.as_("merchant").get(f"{V}orders/", {"ordering": "price"}), 400)


# --- the permission matrix -----------------------------------------------------------------

MATRIX = {
    # (action) -> {role: expected status}
    "approve": {
        "provider": 200,
        "provider_staff": 200,
        "provider_b": 403,
        "authority": 403,
        "regulator": 403,
        "merchant": 404,
        "outsider": 404,
    },
    "withdraw": {"provider_b": 200, "provider": 403, "regulator": 403, "merchant": 404},
    "accept-objection": {
        "provider": 200,
        "provider_b": 404,
        "merchant": 403,
        "regulator": 403,
        "authority": 403,
        "outsider": 404,
    },
    "place-order": {
        "merchant": 201,
        "operator": 400,
        "provider": 403,
        "regulator": 403,
        "auditor": 403,
        "outsider": 403,
    },
}


@pytest.mark.parametrize(
    ("action", "role", "status"),
    [(action, role, status) for action, roles in MATRIX.items() for role, status in roles.items()],
)
def test_permission_matrix(api: Api, action: str, role: str, status: int) -> None:
    client = api.as_(role)
    if action in ("approve", "withdraw"):
        pk = pending(api)
        response = client.post(f"{V}sharing-requests/{pk}/{action}/", {}, format="json")
        expected = SharingRequest.State.APPROVED if action == "approve" else "withdrawn"
        assert (SharingRequest.objects.get(pk=pk).state == expected) == (status == 200)
    elif action == "accept-objection":
        pk = file(api).json()["id"]
        response = client.post(f"{V}objections/{pk}/accept/")
    else:
        response = place(api, role=role)
    assert response.status_code == status, (action, role, response.content)

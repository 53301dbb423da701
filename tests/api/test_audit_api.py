"""Audits and the regulator's views through the REST API: verification runs, bundle downloads
that the offline verifier accepts, and the dashboard reads, with their permission matrix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import Verification
from contracts import services
from contracts.models import Grant, SharingRequest
from crypto.sm3 import sm3_hex
from ledger.models import Entry
from tests.api.conftest import Api, World, resource

V = "/api/v1/"
AUDIT_ROLES = ("auditor", "regulator", "authority")
OTHERS = ("provider", "merchant", "operator", "outsider")


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["status"] == status
    return body["error"]  # type: ignore[no-any-return]


# --- verifications -------------------------------------------------------------------------


def test_start_a_verification_and_follow_it(api: Api, w: World,
                                            django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_("auditor").post(f"{V}audit/verifications/", {}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] in ("queued", "running", "passed")
    assert body["acting_for"] == w.code("auditor") and body["total"] > 0
    run = api.as_("auditor").get(f"{V}audit/verifications/{body['id']}/").json()
    assert run["state"] == "passed" and run["percent"] == 100
    assert run["report"]["ok"] is True
    assert run["entry"]["kind"] == "audit.verification.completed"
    assert run["entry"]["actor"] == w.code("auditor")
    rows = api.as_("regulator").get(f"{V}audit/verifications/", {"state": "passed"}).json()
    assert [r["id"] for r in rows["results"]] == [body["id"]]


def test_verification_errors(api: Api) -> None:
    url = f"{V}audit/verifications/"
    error(api.anon.post(url, {}, format="json"), 401)
    error(api.anon.get(url), 401)
    for role in OTHERS:
        error(api.as_(role).post(url, {}, format="json"), 403)
        error(api.as_(role).get(url), 403)
    assert "first" in error(api.as_("auditor").post(url, {"first": -1}, format="json"),
                            400)["fields"]
    assert "to" in error(api.as_("auditor").post(url, {"last": 10**9}, format="json"),
                         400)["fields"]
    assert "state" in error(api.as_("auditor").get(url, {"state": "x"}), 400)["fields"]
    error(api.as_("auditor").get(f"{url}999999/"), 404)
    error(api.as_("auditor").get(f"{url}{2**70}/"), 404)
    error(api.as_("merchant").get(f"{url}1/"), 403)
    assert Verification.objects.count() == 0


# --- bundles -------------------------------------------------------------------------------


def _download(api: Api, role: str, **query: Any) -> Any:
    return api.as_(role).get(f"{V}audit/bundle/", query)


@pytest.mark.parametrize("role", AUDIT_ROLES)
def test_bundle_download_passes_the_offline_verifier(api: Api, role: str,
                                                     tmp_path: Path) -> None:
    response = _download(api, role)
    assert response.status_code == 200, getattr(response, "content", b"")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    target = tmp_path / "bundle.zip"
    target.write_bytes(b"".join(response.streaming_content))
    done = subprocess.run([sys.executable, "-m", "audit.offline", "verify", str(target)],
                          capture_output=True, text=True, timeout=300,
                          cwd=settings.BASE_DIR)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bundle_errors(api: Api) -> None:
    error(api.anon.get(f"{V}audit/bundle/"), 401)
    for role in OTHERS:
        error(_download(api, role), 403)
    assert "from" in error(_download(api, "auditor", **{"from": "x"}), 400)["fields"]
    assert "to" in error(_download(api, "auditor", to=10**9), 400)["fields"]
    assert "to" in error(_download(api, "auditor", **{"from": 5, "to": 2}), 400)["fields"]
    response = api.as_("auditor").get(f"{V}audit/bundle/", HTTP_ACCEPT="application/zip",
                                      data={"from": "x"})
    assert response.status_code == 400


# --- the regulator -------------------------------------------------------------------------

REGULATOR = ["summary", "overdue", "anomalies", "exchange-log"]


@pytest.mark.parametrize("view", REGULATOR)
def test_regulator_views_permissions(api: Api, view: str) -> None:
    url = f"{V}regulator/{view}/"
    error(api.anon.get(url), 401)
    for role in OTHERS:
        error(api.as_(role).get(url), 403)
    for role in AUDIT_ROLES:
        assert api.as_(role).get(url).status_code == 200


def _activity(w: World) -> None:
    """A delivery, an order event, a refused request and an overdue objection."""
    provider, merchant = w.user("provider"), w.user("merchant")
    grant = Grant.objects.get(grantee__code=w.code("operator"), resource__code="RS-OPEN")
    services.record_delivery(by=provider, grant=grant, rows=7,
                             desensitisation={"uscc": "none"}, digest=sm3_hex(b"x"))
    from catalog.models import DataProduct

    services.place_order(by=merchant, product=DataProduct.objects.get(code="DP-LISTED"))
    objection = services.file_objection(by=merchant, resource=resource("RS-OPEN"),
                                        ground="accuracy", description="有误")
    type(objection).objects.filter(pk=objection.pk).update(
        accept_due=objection.accept_due.replace(year=2000))


def test_regulator_reads(api: Api, w: World) -> None:
    _activity(w)
    client = api.as_("regulator")
    summary = client.get(f"{V}regulator/summary/").json()
    assert summary["objections"] == {"filed": 1}
    assert summary["orders"] == {"ordered": 1}
    assert summary["totals"]["deliveries"] == 1 and summary["totals"]["rows"] == 7
    overdue = client.get(f"{V}regulator/overdue/").json()
    assert [o["resource"] for o in overdue["objections"]] == ["RS-OPEN"]
    assert overdue["sharing_requests"] == []
    anomalies = client.get(f"{V}regulator/anomalies/").json()
    assert set(anomalies) == {"deliveries_near_expiry", "repeated_refusals",
                              "unsettled_checkpoints", "split_views"}
    log = client.get(f"{V}regulator/exchange-log/").json()
    assert [row["kind"] for row in log["results"]] == ["contracts.order.placed",
                                                        "contracts.delivery.recorded"]
    assert log["results"][1]["payload"]["rows"] == 7
    only = client.get(f"{V}regulator/exchange-log/", {"kind": "delivery"}).json()
    assert only["count"] == 1
    mine = client.get(f"{V}regulator/exchange-log/",
                      {"participant": w.code("merchant")}).json()
    assert [row["kind"] for row in mine["results"]] == ["contracts.order.placed"]
    assert client.get(f"{V}regulator/exchange-log/",
                      {"since": "2999-01-01T00:00:00Z"}).json()["count"] == 0
    assert client.get(f"{V}regulator/exchange-log/", {"ordering": "seq"}).json()[
        "results"][0]["kind"] == "contracts.delivery.recorded"
    assert "participant" in error(client.get(f"{V}regulator/exchange-log/",
                                             {"participant": "NOPE"}), 400)["fields"]
    assert "since" in error(client.get(f"{V}regulator/exchange-log/", {"since": "x"}),
                            400)["fields"]
    assert Entry.objects.filter(kind="contracts.order.placed").count() == 1
    assert SharingRequest.objects.count() == 0

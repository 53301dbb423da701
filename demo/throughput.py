"""Throughput a user would believe: a real gunicorn server, N concurrent HTTP clients.

In a scratch database of the configured engine, loaded with the demo, it starts gunicorn
(and, with a broker-less PostgreSQL setup as in production, the integrator process
``manage.py integrate``), then runs three phases, each with N client processes on loopback:

* **single**: client-signed usage records, one per request (``POST /api/v1/usage-records/``);
* **batch**: the same, 256 records a request, as a data-sharing gateway posts them;
* **objections**: a domain action through the API (``POST /api/v1/objections/``, signed on
  the server with the filer's custodial key).

Every record is signed by the clients beforehand (with the grantee's own key, registered as
a client would), so that the timed part is the server's: checking every signature,
accepting, integrating. For each phase it reports appends (or actions) per second and the
latency from sending a request to its statements being integrated (p50, p99), beside
``openssl speed sm2`` verify/s per core, measured in the same run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from rest_framework.authtoken.models import Token

from contracts.models import Grant
from crypto.bench import openssl_sm2
from crypto.canonical import canonical
from crypto.sm2 import PrivateKey
from demo import loader
from ledger import bench, services
from ledger.models import Entry

BATCH = 256
KIND = "usage.call.recorded"


@dataclass(frozen=True)
class Setup:
    base: str
    actor: str
    grants: list[int]
    key_pem: str
    key_id: str
    origin: str
    gateway_token: str
    filers: list[tuple[str, str]]  # (token, resource code)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _environment(in_process: bool) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _database_url(), "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
            "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
            "SHULIAN_SECRET_KEY": settings.SECRET_KEY,
            "SHULIAN_LEDGER_ORIGIN": settings.SHULIAN_LEDGER_ORIGIN,
            "SHULIAN_INTEGRATE_IN_PROCESS": "1" if in_process else "0",
            "SHULIAN_LOG_LEVEL": "ERROR"}


@contextlib.contextmanager
def serving(port: int, in_process: bool) -> Iterator[None]:
    """gunicorn (2 workers, threaded) on ``port``; the integrator process too if asked."""
    env = _environment(in_process)
    processes = [subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}",
         "--workers", "2", "--worker-class", "gthread", "--threads", "4",
         "--log-level", "error"], cwd=settings.BASE_DIR, env=env)]
    if not in_process:
        processes.append(subprocess.Popen([sys.executable, "manage.py", "integrate"],
                                          cwd=settings.BASE_DIR, env=env))
    try:
        _wait_until_up(port)
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_up(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not come up")


def prepare(port: int) -> Setup:
    """The demo, a gateway's client key for an operator with active grants, and tokens."""
    for _ in loader.load():
        pass
    grants = list(Grant.objects.filter(state=Grant.State.ACTIVE, grantee__kind="operator")
                  .select_related("grantee").order_by("pk"))
    actor = grants[0].grantee.code
    private = PrivateKey.generate()
    with transaction.atomic():
        key = services.register_key(owner=actor, pem=private.public_key.pem)
    users = get_user_model().objects
    gateway = users.get(memberships__participant__code=actor, memberships__role="admin")
    filers = [(Token.objects.get_or_create(user=users.get(username=name))[0].key, "JTYS-001")
              for name in ("tech", "service", "app", "citizen")]
    return Setup(f"127.0.0.1:{port}", actor, [g.pk for g in grants if g.grantee.code == actor],
                 private.to_pem().decode(), key.key_id, services.origin(),
                 Token.objects.get_or_create(user=gateway)[0].key, filers)


# --- the clients --------------------------------------------------------------------------------


def _record(setup: Setup, private: PrivateKey, client: int, number: int) -> dict[str, Any]:
    payload = {"client": client, "n": number, "rows": 1, "at": "gateway"}
    salt = secrets.token_bytes(16)
    grant = setup.grants[number % len(setup.grants)]
    statement = {
        "v": 2, "ledger": setup.origin, "kind": KIND, "actor": setup.actor,
        "key": setup.key_id, "subject": f"contracts/grant/{grant}",
        "payload": hashlib.new("sm3", salt + canonical(payload)).hexdigest(),
        "nonce": f"bench-{client}-{number}-{secrets.token_hex(4)}",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    return {"statement": statement,
            "signature": base64.b64encode(private.sign(canonical(statement))).decode(),
            "payload": payload, "salt": base64.b64encode(salt).decode()}


def _sign(args: tuple[Setup, int, int]) -> list[dict[str, Any]]:
    setup, client, count = args
    private = PrivateKey.from_pem(setup.key_pem)
    return [_record(setup, private, client, number) for number in range(count)]


def presign(setup: Setup, clients: int, per_client: int) -> list[list[dict[str, Any]]]:
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(_sign, [(setup, c, per_client) for c in range(clients)]))


class _Client:
    def __init__(self, base: str, token: str) -> None:
        host, port = base.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        self.conn.request("POST", path, json.dumps(body, ensure_ascii=False).encode(),
                          self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def get(self, path: str) -> tuple[int, Any]:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"null")


def _until_integrated(client: _Client, pending: list[dict[str, Any]]) -> None:
    """The queue is integrated in order: once the batch's last record is, all are."""
    last = max(item["id"] for item in pending)
    while True:
        status, body = client.get(f"/api/v1/ledger/pending/{last}/")
        if status != 200 or body["state"] == "set aside":
            raise RuntimeError(f"record {last}: HTTP {status}: {body}")
        if body["state"] == "integrated":
            return
        time.sleep(0.01)


def _post_records(base: str, token: str, records: list[dict[str, Any]], per_request: int,
                  start: Any) -> tuple[int, list[float]]:
    client = _Client(base, token)
    latencies: list[float] = []
    start.wait(timeout=120)
    for offset in range(0, len(records), per_request):
        chunk = records[offset:offset + per_request]
        began = time.perf_counter()
        status, body = client.post("/api/v1/usage-records/", {"statements": chunk})
        if status == 202:
            _until_integrated(client, body["pending"])
        elif status != 201:
            raise RuntimeError(f"HTTP {status}: {body}")
        latencies += [time.perf_counter() - began] * len(chunk)
    return len(records), latencies


def _file_objections(base: str, token: str, resource: str, count: int, start: Any) -> (
    tuple[int, list[float]]
):
    client = _Client(base, token)
    latencies = []
    start.wait(timeout=120)
    for number in range(count):
        began = time.perf_counter()
        status, body = client.post("/api/v1/objections/", {
            "resource": resource, "ground": "accuracy", "description": f"负载测试 {number}"})
        if status != 201:
            raise RuntimeError(f"HTTP {status}: {body}")
        latencies.append(time.perf_counter() - began)
    return count, latencies


def _client_process(function: Callable[..., tuple[int, list[float]]], args: tuple[Any, ...],
                    start: Any, results: Any) -> None:
    try:
        results.put(function(*args, start))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(exc)


def _phase(work: list[tuple[Callable[..., tuple[int, list[float]]], tuple[Any, ...]]]) -> (
    dict[str, float]
):
    """Run the clients at once (forked, after the parent closed its connections)."""
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(len(work) + 1), ctx.Queue()
    processes = [ctx.Process(target=_client_process, args=(function, args, start, results))
                 for function, args in work]
    for process in processes:
        process.start()
    start.wait(timeout=120)
    began = time.perf_counter()
    done = [results.get(timeout=1800) for _ in processes]
    seconds = time.perf_counter() - began
    for process in processes:
        process.join(timeout=30)
    failed = [found for found in done if isinstance(found, BaseException)]
    if failed:
        raise RuntimeError(f"a client failed: {failed[0]!r}")
    count = sum(n for n, _ in done)
    latencies = sorted(latency for _, found in done for latency in found)
    return {"count": count, "seconds": round(seconds, 3), "per_s": round(count / seconds, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                            * 1000, 1)}


def run(clients: int, single: int, batches: int, objections: int, openssl_seconds: float,
        report: Callable[[str], None] = print) -> dict[str, Any]:
    """All three phases; the figures."""
    postgres = connection.vendor == "postgresql"
    with bench.scratch_database():
        port = _free_port()
        report("loading the demo into a scratch database…")
        setup = prepare(port)
        report(f"signing {clients * (single + batches * BATCH)} records (not timed)…")
        singles = presign(setup, clients, single)
        batched = presign(setup, clients, batches * BATCH)
        connections.close_all()
        with serving(port, in_process=not postgres):
            report("phase single: one record per request…")
            one = _phase([(_post_records, (setup.base, setup.gateway_token, singles[c], 1))
                          for c in range(clients)])
            report(f"  {one}")
            report(f"phase batch: {BATCH} records per request…")
            many = _phase([(_post_records, (setup.base, setup.gateway_token, batched[c], BATCH))
                           for c in range(clients)])
            report(f"  {many}")
            report("phase objections: a domain action per request…")
            acts = _phase([(_file_objections,
                            (setup.base, *setup.filers[c % len(setup.filers)], objections))
                           for c in range(clients)])
            report(f"  {acts}")
        integrated = Entry.objects.filter(kind=KIND).count()
    _, verify = openssl_sm2(openssl_seconds)
    expected = clients * (single + batches * BATCH)
    return {
        "database": "postgresql" if postgres else "sqlite", "clients": clients,
        "integrated_records": integrated, "expected_records": expected,
        "single_appends_per_s": one["per_s"], "single_p50_ms": one["p50_ms"],
        "single_p99_ms": one["p99_ms"],
        "sustained_appends_per_s": many["per_s"], "integration_p50_ms": many["p50_ms"],
        "integration_p99_ms": many["p99_ms"],
        "domain_actions_per_s": acts["per_s"], "domain_p50_ms": acts["p50_ms"],
        "domain_p99_ms": acts["p99_ms"],
        "openssl_sm2_verify_per_s": verify,
        "sustained_vs_openssl_verify": round(many["per_s"] / verify, 3) if verify else None,
        "single_vs_openssl_verify": round(one["per_s"] / verify, 3) if verify else None,
    }

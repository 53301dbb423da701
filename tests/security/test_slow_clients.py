"""A handful of slow clients cannot stall the service: ten sockets hold half-sent headers
while a normal request still completes in under a second, against the embedded default as
scripts/run serves it (gunicorn with threaded workers, config/gunicorn.py) and against the
documented production setup (nginx as in docs/nginx.conf in front of it, production mode on).
Bounded loops, loopback only."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.api.test_client_example import database_url
from tests.security import servers

SLOW_CLIENTS = 10


@pytest.fixture
def database(committed_db: None) -> str:
    from django.db import connection, connections

    url = database_url(connection.settings_dict)
    connections.close_all()
    return url


def _beside_slow_clients(port: int, base: str, tls: bool, **headers: str) -> list[float]:
    paths = ("/healthz", "/api/v1/ledger/", "/healthz")
    for _ in range(4):  # every worker has served these once (the first answer warms caches)
        for path in paths:
            servers.get(base + path, 10, **headers)
    slow: list[Any] = []
    try:
        for _ in range(SLOW_CLIENTS):
            slow.append(servers.half_sent(port, tls))
        time.sleep(1.0)  # every slow socket is accepted and waiting for the rest
        timings = []
        for path in paths:
            started = time.monotonic()
            assert servers.get(base + path, 5, **headers).status == 200
            timings.append(time.monotonic() - started)
        for sock in slow:  # still connected, still unanswered
            sock.settimeout(0.05)
            with pytest.raises(TimeoutError):
                sock.recv(1)
        return timings
    finally:
        for sock in slow:
            sock.close()


def _report(where: str, timings: list[float]) -> None:
    print(f"{where}: normal requests beside {SLOW_CLIENTS} slow clients: "
          + ", ".join(f"{t * 1000:.0f} ms" for t in timings))


@pytest.mark.slow
def test_the_embedded_default_serves_beside_ten_slow_clients(database: str,
                                                             tmp_path: Path) -> None:
    with servers.embedded(database, tmp_path) as port:
        timings = _beside_slow_clients(port, f"http://127.0.0.1:{port}", tls=False)
    _report("scripts/run", timings)
    assert max(timings) < 1.0


@pytest.fixture
def production(database: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    if not servers.nginx_available():
        message = f"{servers.NGINX} or openssl is missing (scripts/test installs nginx)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    env = {"SHULIAN_HTTPS": "1", "SHULIAN_PROXIES": "1",
           "SHULIAN_ALLOWED_HOSTS": f"{servers.HOST},127.0.0.1"}
    with servers.embedded(database, tmp_path, **env) as upstream, \
            servers.nginx_in_front(upstream, tmp_path) as ports:
        yield ports


@pytest.mark.slow
def test_the_production_setup_serves_beside_ten_slow_clients(
        production: tuple[int, int]) -> None:
    http, https = production
    base = f"https://127.0.0.1:{https}"
    timings = _beside_slow_clients(https, base, tls=True, Host=servers.HOST)
    _report("nginx + gunicorn", timings)
    assert max(timings) < 1.0
    page = servers.get(base + "/catalogue/", 5, Host=servers.HOST)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    cookie = page.headers.get("Set-Cookie", "")
    assert cookie.startswith("__Host-csrftoken=") and "Secure" in cookie
    plain = servers.get(f"http://127.0.0.1:{http}/catalogue/", 5, Host=servers.HOST)
    assert plain.status == 301 and plain.headers["Location"].startswith("https://")
    # Behind nginx the lockout counts the address nginx saw: a client's own X-Forwarded-For
    # is replaced, so rotating it escapes nothing.
    limit = settings.AXES_FAILURE_LIMIT
    codes = [servers.post_json(base + "/api/v1/auth/token/", {
        "username": f"nobody-{n}", "password": "wrong-password-1"}, Host=servers.HOST,
        **{"X-Forwarded-For": f"192.0.2.{n}"}) for n in range(limit + 1)]
    # (the failure that reaches the limit is answered as the lockout already)
    assert codes == [400] * (limit - 1) + [429, 429]

"""A handful of slow clients cannot stall the service: the embedded default, started as
scripts/run starts it (``scripts/run --no-setup``: gunicorn with config/gunicorn.py), still
answers a normal request in under a second while ten sockets hold half-sent headers.
Bounded loops, loopback only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.api.test_client_example import database_url

REPO = Path(settings.BASE_DIR)
SLOW_CLIENTS = 10
START_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, timeout: float) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return int(response.status)


@pytest.fixture
def served(committed_db: None, tmp_path: Path) -> Iterator[str]:
    from django.db import connection, connections

    url = database_url(connection.settings_dict)
    connections.close_all()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",
                                                           "SHULIAN_DEBUG")}
    env.update({"DATABASE_URL": url, "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
                "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
                "SHULIAN_SECRET_KEY": settings.SECRET_KEY, "SHULIAN_PORT": str(port)})
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen([str(REPO / "scripts" / "run"), "--no-setup"], cwd=REPO,
                               env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if _get(f"{base}/healthz", 2) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.2)
        assert "gunicorn" in (tmp_path / "server.log").read_text()
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)
        log.close()


def _half_sent(port: int) -> socket.socket:
    slow = socket.create_connection(("127.0.0.1", port), timeout=5)
    slow.sendall(b"GET /catalogue/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
    return slow


@pytest.mark.slow
def test_ten_slow_clients_do_not_stall_a_normal_request(served: str) -> None:
    port = int(served.rsplit(":", 1)[1])
    slow: list[Any] = []
    try:
        for _ in range(SLOW_CLIENTS):
            slow.append(_half_sent(port))
        time.sleep(1.0)  # every slow socket is accepted and waiting for the rest
        timings = []
        for path in ("/healthz", "/api/v1/ledger/", "/healthz"):
            started = time.monotonic()
            assert _get(served + path, timeout=5) == 200
            timings.append(time.monotonic() - started)
        print(f"normal requests beside {SLOW_CLIENTS} slow clients: "
              + ", ".join(f"{t * 1000:.0f} ms" for t in timings))
        assert max(timings) < 1.0
        for sock in slow:  # the slow clients are still connected, still unanswered
            sock.settimeout(0.05)
            with pytest.raises(TimeoutError):
                sock.recv(1)
    finally:
        for sock in slow:
            sock.close()

"""Servers the slow-client tests start on loopback: the embedded default exactly as
scripts/run serves it (``scripts/run --no-setup``), and nginx with the server block of
docs/nginx.conf in front of it (its addresses, ports and certificate made local). Every wait
is bounded."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

REPO = Path(settings.BASE_DIR)
NGINX = Path("/usr/sbin/nginx")
HOST = "shulian.example.gov.cn"  # the server_name of docs/nginx.conf
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def insecure() -> ssl.SSLContext:
    """TLS to the test's own self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def get(url: str, timeout: float, **headers: str) -> Any:
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=insecure()), NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return response
    except urllib.error.HTTPError as answer:  # a redirect, with its status and headers
        if answer.code >= 400:
            raise
        return answer


def post_json(url: str, body: Any, **headers: str) -> int:
    """POST ``body`` as JSON; the answer's status."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10, context=insecure()) as response:
            return int(response.status)
    except urllib.error.HTTPError as answer:
        return int(answer.code)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, **headers: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if get(url, 2, **headers).status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


@contextlib.contextmanager
def embedded(database_url: str, folder: Path, **env: str) -> Iterator[int]:
    """``scripts/run --no-setup`` over ``database_url``; yields its port."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CELERY_BROKER_URL", "SHULIAN_DEBUG")}
    environ.update({"DATABASE_URL": database_url, "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
                    "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
                    "SHULIAN_SECRET_KEY": settings.SECRET_KEY, "SHULIAN_PORT": str(port),
                    **env})
    log = folder / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(REPO / "scripts" / "run"), "--no-setup"], cwd=REPO,
                                   env=environ, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", process, log)
        assert "gunicorn" in log.read_text(errors="replace")
        yield port
    finally:
        _stop(process)


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    f"/CN={HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@contextlib.contextmanager
def nginx_in_front(upstream: int, folder: Path) -> Iterator[tuple[int, int]]:
    """nginx with docs/nginx.conf's server blocks before ``upstream``; yields its (http,
    https) ports."""
    http, https = free_port(), free_port()
    cert, key = _certificate(folder)
    block = (REPO / "docs" / "nginx.conf").read_text()
    for documented, local in [("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"),
                              ("listen 80;", f"listen 127.0.0.1:{http};"),
                              ("listen 443 ssl http2;",
                               f"listen 127.0.0.1:{https} ssl http2;"),
                              ("/etc/ssl/shulian/fullchain.pem", str(cert)),
                              ("/etc/ssl/shulian/privkey.pem", str(key))]:
        assert documented in block, documented
        block = block.replace(documented, local)
    (folder / "shulian.conf").write_text(block)
    temp = folder / "temp"
    temp.mkdir()
    user = "user root;\n" if os.getuid() == 0 else ""
    (folder / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {temp}/body;\n"
        f"  proxy_temp_path {temp}/proxy;\n  fastcgi_temp_path {temp}/fastcgi;\n"
        f"  uwsgi_temp_path {temp}/uwsgi;\n  scgi_temp_path {temp}/scgi;\n"
        f"  include {folder}/shulian.conf;\n}}\n")
    log = folder / "nginx.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(NGINX), "-p", str(folder), "-c",
                                    str(folder / "nginx.conf")], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(f"https://127.0.0.1:{https}/healthz", process, folder / "error.log", Host=HOST)
        yield http, https
    finally:
        _stop(process)


def half_sent(port: int, tls: bool = False) -> socket.socket:
    """A client that sends half its request headers and then nothing."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock = insecure().wrap_socket(raw, server_hostname=HOST) if tls else raw
    sock.sendall(f"GET /catalogue/ HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: slow".encode())
    return sock


def nginx_available() -> bool:
    return NGINX.exists() and shutil.which("openssl") is not None

"""docs/examples/file_objection.py run as a real client against a live server: the key is
uploaded through the API, the script signs and files an objection, and the ledger entry is
signed by the client's key. Also: a refused filing exits non-zero with the server's message.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings

from crypto.sm2 import PrivateKey

REPO = Path(settings.BASE_DIR)
SCRIPT = REPO / "docs" / "examples" / "file_objection.py"
START_SECONDS = 60


def database_url(db: dict[str, Any]) -> str:
    """A DATABASE_URL (as config.settings reads it) naming the test database."""
    engine = db["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite:///" + str(Path(db["NAME"]).resolve())
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = quote(db.get("HOST") or "localhost", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(db['NAME'], safe='')}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_world(committed_db: None) -> Iterator[Any]:
    from django.db import connections

    from tests.api.conftest import build_world

    world = build_world()
    connections.close_all()
    yield world


@pytest.fixture
def server(live_world: Any, tmp_path: Path) -> Iterator[str]:
    from django.db import connection

    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SHULIAN_DEBUG"):
        env.pop(name, None)
    env.update({
        "DATABASE_URL": database_url(connection.settings_dict),
        "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
        "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
        "SHULIAN_SECRET_KEY": settings.SECRET_KEY,
        "SHULIAN_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    })
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
             "--nostatic"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited: {log.read_text()[-4000:]}")
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                        break
                except (urllib.error.URLError, OSError):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no answer: {log.read_text()[-4000:]}") from None
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _upload_key(base: str, token: str, code: str, key: PrivateKey) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/participants/{code}/keys/upload/",
        data=json.dumps({"pem": key.public_key.pem}).encode(), method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 201
        return str(json.loads(response.read())["key_id"])


def _run(base: str, token: str, key_file: Path, code: str, **extra: str
         ) -> subprocess.CompletedProcess[str]:
    args = {"resource": "RS-OPEN", "ground": "accuracy", "description": "注册地址有误",
            **extra}
    command = [sys.executable, str(SCRIPT), "--url", base, "--token", token,
               "--key", str(key_file), "--participant", code]
    for name, value in args.items():
        command += [f"--{name}", value]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          cwd=REPO)


def test_the_example_client_files_a_signed_objection(server: str, live_world: Any,
                                                     tmp_path: Path) -> None:
    from contracts.models import Objection
    from ledger.models import Entry

    token, code = live_world.tokens["merchant"], live_world.code("merchant")
    key = PrivateKey.generate()
    key_file = tmp_path / "client.key"
    key_file.write_bytes(key.to_pem())
    key_id = _upload_key(server, token, code, key)
    assert key_id == key.public_key.key_id

    done = _run(server, token, key_file, code)
    assert done.returncode == 0, done.stdout + done.stderr
    words = done.stdout.split()
    seq, leaf = int(words[words.index("seq") + 1]), words[words.index("hash") + 1]
    entry = Entry.objects.get(seq=seq)
    assert entry.leaf_hash == leaf and entry.key_id == key_id
    assert entry.kind == "contracts.objection.filed" and entry.actor == code
    objection = Objection.objects.get()
    assert objection.filer_participant.code == code
    assert objection.resource.code == "RS-OPEN" and objection.description == "注册地址有误"

    refused = _run(server, token, key_file, code, resource="RS-NOPE")
    assert refused.returncode == 1
    assert "HTTP 400" in refused.stderr and "resource" in refused.stderr
    unknown = PrivateKey.generate()
    other = tmp_path / "other.key"
    other.write_bytes(unknown.to_pem())
    refused = _run(server, token, other, code)
    assert refused.returncode == 1 and "statement.key" in refused.stderr
    assert Objection.objects.count() == 1

"""``scripts/run`` as a user runs it, on a fresh data directory: the demo loads, the demo's
three witnesses run as real ``python -m audit.witness serve`` processes with their state in
the data directory, a checkpoint sealed while the portal serves is settled by them (what the
portal reads as "3 of 3 witnesses"), and stopping scripts/run stops the witnesses too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import REPO_ROOT, _free_port

pytestmark = pytest.mark.slow
STARTUP_SECONDS = 240


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"scripts/run exited {process.returncode}:\n"
                                 f"{log.read_text(errors='replace')[-3000:]}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the portal did not answer:\n{log.read_text(errors='replace')[-3000:]}")


def _pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except OSError:
            continue
        alive.append(pid)
    return alive


def _witness_pids(data_dir: Path) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"audit.witness serve .*{data_dir}"],
                           capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def test_scripts_run_serves_with_its_witnesses_and_stops_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SHULIAN_WITNESSES",
                        "DJANGO_SETTINGS_MODULE"}}
    env.update({"SHULIAN_DATA_DIR": str(data_dir), "SHULIAN_CHECKPOINT_EVERY": "1"})
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(REPO_ROOT / "scripts" / "run"), "--port", str(port)],
                                   cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/healthz", process, log)
        witnesses = _witness_pids(data_dir)
        assert len(witnesses) == 3, log.read_text(errors="replace")[-3000:]
        for name in ("witness-market", "witness-land", "witness-transport"):
            assert (data_dir / "witnesses" / name / "state" / "witness.sqlite3").exists()
        size = json.loads(_get(f"{base}/healthz"))["ledger_size"]
        subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "python"),
                        str(Path(__file__).with_name("apply_form.py")), base],
                       check=True, cwd=REPO_ROOT, env=env, timeout=60)
        grown = json.loads(_get(f"{base}/healthz"))["ledger_size"]
        assert grown > size
        note = _get(f"{base}/api/v1/ledger/checkpoints/{grown}/note/").decode()
        for name in ("witness-market", "witness-land", "witness-transport"):
            assert f"\u2014 {name} " in note, note
        page = _get(f"{base}/ledger/checkpoints/").decode()
        assert "3 个见证方中 3 个已联署" in page
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    deadline = time.monotonic() + 20
    while _pids_alive(witnesses) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _pids_alive(witnesses)

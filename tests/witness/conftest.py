"""Real witness processes on loopback (``python -m audit.witness serve``), each with its own
key and state directory, and the ledger's settings pointed at them."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from crypto.sm2 import PrivateKey

REPO = Path(__file__).resolve().parents[2]
DEPARTMENTS = ("gov-stats", "gov-health", "gov-transport")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WitnessProcess:
    """One witness: its key pair, state directory and the ledger keys it trusts
    (``ledger_pubs``, one ``--ledger-key`` each; change it, then restart)."""

    name: str
    owner: str
    directory: Path
    ledger_pubs: list[Path]
    origin: str
    port: int = field(default_factory=free_port)
    key: PrivateKey = field(default_factory=PrivateKey.generate)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key_path.write_bytes(self.key.to_pem())
        self.pub_path.write_text(self.key.public_key.pem)

    @property
    def key_path(self) -> Path:
        return self.directory / "witness.pem"

    @property
    def pub_path(self) -> Path:
        return self.directory / "witness.pub"

    @property
    def state(self) -> Path:
        return self.directory / "state"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, f"{self.name} is already running"
        trusted = [arg for pub in self.ledger_pubs for arg in ("--ledger-key", str(pub))]
        log = (self.directory / "serve.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "audit.witness", "serve", "--key", str(self.key_path),
             "--state", str(self.state), "--listen", f"127.0.0.1:{self.port}",
             "--ledger", self.origin, *trusted, "--name", self.name],
            cwd=REPO, stdout=log, stderr=log, env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        log.close()

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"{self.name} exited: {(self.directory / 'serve.log').read_text()}")
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ):
                return
            time.sleep(0.05)
        raise TimeoutError(f"witness {self.name} did not listen on {self.port}")

    def kill(self) -> None:
        """Stop abruptly (as a crash would); the state on disk must survive."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def status(self) -> dict[str, Any]:
        """What the running witness answers on ``GET /status``."""
        with urllib.request.urlopen(self.url + "/status", timeout=10) as response:  # noqa: S310
            return dict(json.loads(response.read()))

    def evidence_cli(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "audit.witness", "evidence", "--state", str(self.state),
             "--json"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


@dataclass
class Cluster:
    witnesses: list[WitnessProcess]
    ledger_pub: Path
    base: Path

    def __getitem__(self, index: int) -> WitnessProcess:
        return self.witnesses[index]

    def setting(self) -> list[dict[str, str]]:
        return [{"name": w.name, "url": w.url, "key_id": w.key.public_key.key_id}
                for w in self.witnesses]

    def restart(self, *indexes: int) -> None:
        for index in indexes:
            self.witnesses[index].start()
        for index in indexes:
            self.witnesses[index].wait_ready()

    def join(self, dept: str) -> WitnessProcess:
        """A further department's witness: started, its key registered by the ledger now
        (a ``ledger.key.registered`` entry), added to the list; configure it with
        ``override_settings(SHULIAN_WITNESSES=cluster.setting())``."""
        from ledger import services

        proc = WitnessProcess(f"witness-{dept}", dept, self.base / dept, [self.ledger_pub],
                              services.origin())
        self.witnesses.append(proc)
        proc.start()
        proc.wait_ready()
        services.register_witness(name=proc.name, pem=proc.key.public_key.pem,
                                  owner_code=dept)
        return proc


@pytest.fixture
def cluster(committed_db, tmp_path) -> Iterator[Cluster]:
    """Three running witnesses of three departments, registered; k = 2; no automatic seal
    every N entries (tests seal explicitly; each seal schedules the collection)."""
    from ledger import services, witnesses

    ledger_key = services.ensure_ledger_key()
    ledger_pub = tmp_path / "ledger.pub"
    ledger_pub.write_text(ledger_key.pem)
    procs = [
        WitnessProcess(f"witness-{dept}", dept, tmp_path / dept, [ledger_pub],
                       services.origin())
        for dept in DEPARTMENTS
    ]
    found = Cluster(procs, ledger_pub, tmp_path)
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.wait_ready()
            services.register_witness(name=proc.name, pem=proc.key.public_key.pem,
                                      owner_code=proc.owner)
        witnesses.reset_backoff()
        with override_settings(SHULIAN_WITNESSES=found.setting(), SHULIAN_WITNESS_K=2,
                               SHULIAN_CHECKPOINT_EVERY=0):
            yield found
    finally:
        for proc in found.witnesses:
            proc.kill()
        witnesses.reset_backoff()

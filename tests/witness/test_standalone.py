"""The witness is a small separate program: no Django, and a CLI that says what is wrong."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from audit.witness.server import Witness
from audit.witness.state import State
from crypto.sm2 import PrivateKey
from ledger.protocol import witness as protocol
from tests.witness.test_rules import ORIGIN, Log

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def test_the_witness_and_what_it_imports_load_no_django():
    code = (
        "import sys\n"
        "import audit.witness.__main__, audit.witness.server, audit.witness.verify\n"
        "import ledger.protocol.note, ledger.protocol.merkle, ledger.protocol.witness\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(len(loaded), loaded[:5])\n"
        "ours = ('audit', 'crypto', 'ledger', 'config', 'operators', 'catalog', 'contracts')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ours))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env={**env, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    no_django, project = result.stdout.splitlines()
    assert no_django == "0 []", result.stdout
    outside = [name for name in ast.literal_eval(project)
               if name not in ("audit", "ledger") and not name.startswith(
                   ("audit.witness", "crypto", "ledger.protocol"))]
    assert outside == []  # of the ledger, only its Django-free protocol package


def test_status_and_evidence_commands(tmp_path):
    log = Log()
    state = State(tmp_path, writer=True)
    witness = Witness(state, name="dept-a", key=PrivateKey.generate(), origin=ORIGIN,
                      ledger_keys=[log.key.public_key])
    log.grow(5)
    assert witness.add_checkpoint(log.request(0)).status == 200
    result = run("-m", "audit.witness", "evidence", "--state", str(tmp_path), "--json")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
    evil = log.note(5, bytes(32))
    assert witness.add_checkpoint(protocol.encode_request(5, [], evil)).status == 409
    state.close()

    result = run("-m", "audit.witness", "evidence", "--state", str(tmp_path), "--json")
    assert result.returncode == 1
    (record,) = json.loads(result.stdout)
    assert record["kind"] == "fork"
    assert record["presented"] == {"size": 5, "root": "00" * 32, "note": evil}
    assert record["cosigned"]["root"] == log.root(5).hex()
    text = run("-m", "audit.witness", "evidence", "--state", str(tmp_path))
    assert text.returncode == 1
    assert "fork" in text.stdout and evil in text.stdout

    status = run("-m", "audit.witness", "status", "--state", str(tmp_path), "--json")
    data = json.loads(status.stdout)
    assert (data["origin"], data["name"], data["size"], data["evidence"]) == (
        ORIGIN, "dept-a", 5, 1)
    human = run("-m", "audit.witness", "status", "--state", str(tmp_path)).stdout
    assert "latest cosigned: size 5" in human and "split-view evidence: 1" in human


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    key = PrivateKey.generate()
    (tmp_path / "w.pem").write_bytes(key.to_pem())
    (tmp_path / "l.pub").write_text(PrivateKey.generate().public_key.pem)
    common = ["--key", str(tmp_path / "w.pem"), "--state", str(tmp_path / "st"),
              "--ledger", ORIGIN, "--ledger-key", str(tmp_path / "l.pub"), "--name", "w"]
    cases = {
        "not HOST:PORT": ["--listen", "nowhere"],
        "cannot read ledger key": ["--listen", "127.0.0.1:0", "--ledger-key",
                                   str(tmp_path / "missing.pub")],
        "one word": ["--listen", "127.0.0.1:0", "--name", "two words"],
    }
    for expected, extra in cases.items():
        result = run("-m", "audit.witness", "serve", *common, *extra)
        assert result.returncode == 2, (expected, result.stderr)
        assert expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = run("-m", "audit.witness", "status", "--state", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "holds no witness state" in missing.stderr

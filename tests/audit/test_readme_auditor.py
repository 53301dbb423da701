"""Every command of the README's "For auditors" section runs, as written, against a real
bundle, and again against one exported after an erasure (whose newest entry is the
redaction): the docs cannot rot, and an erasure breaks none of the auditor's checks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from audit import services as audit
from ledger import selectors
from ledger import services as ledger

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- auditor-check -->"


def auditor_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(re.escape(MARK) + r"\s*```sh\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 3, "the README lost its auditor-check blocks"
    return blocks


ERASED = 4  # the seq whose payload the "erased" bundle has erased
BASIS = "PIPL art. 47(1)(iii)"


def make_bundle(tmp_path: Path, erase: bool) -> Path:
    """A bundle from 0: entry 0 registers the ledger key, entry 1 a participant's key, then
    six statements by that participant (and, with ``erase``, entry 8 erasing the payload of
    entry 4); what the by-hand checks should find is kept beside."""
    from django.db import transaction

    with transaction.atomic():
        key = ledger.issue_custodial_key(owner="91110108MA01XY2K91")
        for number in range(6):
            ledger.record(actor=key.owner, kind="tests.readme.step",
                          subject=f"tests/readme/{number}", payload={"n": number})
        if erase:
            ledger.redact_payload(seq=ERASED, basis=BASIS)
        audit.export_bundle(tmp_path / "bundle.zip")
        newest = selectors.entry(8 if erase else 7).data.encode()
        erased = selectors.entry(ERASED).data.encode()
        anchor = json.loads(selectors.entry(0).data)["statement"]["key"]
        transaction.set_rollback(True)
    expected = {"leaf": hashlib.new("sm3", b"\x00" + newest).hexdigest(),
                "commitment": json.loads(newest)["statement"]["payload"], "anchor": anchor,
                "erased_leaf": hashlib.new("sm3", b"\x00" + erased).hexdigest()}
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    return tmp_path


@pytest.fixture(params=["plain", "after an erasure"])
def bundle_dir(request: pytest.FixtureRequest, tmp_path: Path, django_db_blocker,
               django_db_setup) -> Path:
    with django_db_blocker.unblock():
        return make_bundle(tmp_path, erase=request.param != "plain")


@pytest.fixture
def erased_bundle_dir(tmp_path: Path, django_db_blocker, django_db_setup) -> Path:
    with django_db_blocker.unblock():
        return make_bundle(tmp_path, erase=True)


def expected(bundle_dir: Path) -> dict[str, str]:
    return json.loads((bundle_dir / "expected.json").read_text())


def run_block(block: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_offline_commands_of_the_readme_accept_the_bundle(bundle_dir: Path) -> None:
    done = run_block(auditor_blocks()[0], bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout
    assert json.loads((bundle_dir / "report.json").read_text())["ok"] is True


def test_openssl_commands_of_the_readme_verify_an_entry_its_payload_and_a_checkpoint(
    bundle_dir: Path,
) -> None:
    done = run_block(auditor_blocks()[1], bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Signature Verified Successfully") == 2
    found = expected(bundle_dir)
    assert f"SM3(stdin)= {found['leaf']}" in done.stdout
    assert f"SM3(stdin)= {found['commitment']}\nstatement.payload = {found['commitment']}\n" \
        in done.stdout
    assert done.stdout.endswith(f"SM3(stdin)= {found['anchor']}\n")


def test_the_by_hand_check_fails_for_a_tampered_statement(bundle_dir: Path) -> None:
    block = auditor_blocks()[1].replace(
        "| tr -d '\\n' > statement.json", "| tr -d '\\n' | sed 's/\"v\":2/\"v\":3/'"
        " > statement.json", 1)
    assert block != auditor_blocks()[1]
    done = run_block(block, bundle_dir)
    assert done.returncode != 0
    assert "Signature Verification Failure" in done.stdout + done.stderr


def test_the_by_hand_commitment_differs_for_a_tampered_payload(bundle_dir: Path) -> None:
    block = auditor_blocks()[1].replace(
        "tail -n 1 bundle/payloads.jsonl > payload.line",
        "tail -n 1 bundle/payloads.jsonl | sed 's/^{\"payload\":{/&\"added\":1,/' > payload.line",
        1)
    assert block != auditor_blocks()[1]
    done = run_block(block, bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    commitment = expected(bundle_dir)["commitment"]
    assert f"statement.payload = {commitment}" in done.stdout
    assert f"SM3(stdin)= {commitment}" not in done.stdout


def test_the_by_hand_check_of_an_erased_entry(erased_bundle_dir: Path) -> None:
    for block in auditor_blocks():
        done = run_block(block, erased_bundle_dir)
        assert done.returncode == 0, done.stdout + done.stderr
    assert f'"seq":{ERASED}}}\nseq {ERASED}: no payload, no salt\n' in done.stdout
    assert json.loads((erased_bundle_dir / "redaction.json").read_text()) == {
        "basis": BASIS, "request": None, "seq": ERASED}
    assert f"SM3(stdin)= {expected(erased_bundle_dir)['erased_leaf']}\n" in done.stdout
    assert done.stdout.endswith("Signature Verified Successfully\n")


def test_the_by_hand_check_of_an_erased_entry_sees_a_payload_left_behind(
        erased_bundle_dir: Path) -> None:
    """Control: had the exporter left the erased payload in, the check would not say it is
    gone."""
    run_block(auditor_blocks()[1], erased_bundle_dir)
    payloads = erased_bundle_dir / "bundle" / "payloads.jsonl"
    with payloads.open("a") as out:
        out.write(f'{{"payload":{{"n":3}},"salt":"AAAAAAAAAAAAAAAAAAAAAA==","seq":{ERASED}}}\n')
    block = auditor_blocks()[2]
    done = run_block(block, erased_bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no payload, no salt" not in done.stdout

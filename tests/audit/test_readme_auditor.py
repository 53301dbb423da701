"""Every command of the README's "For auditors" section runs, as written, against a real
bundle, and again against one exported after an erasure (whose newest entry is the
redaction): the docs cannot rot, and an erasure breaks none of the auditor's checks. "As
written" means in a directory laid out like the clone (its ``.venv`` and ``manage.py``), with
nothing added to PATH and no venv activated, as a new user types them after ``scripts/run``."""

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


SERVER_MARK = "<!-- server-check -->"
REPO_ROOT = README.parent


def blocks_marked(mark: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(re.escape(mark) + r"\s*```sh\n(.*?)```", text, flags=re.S)


def auditor_blocks() -> list[str]:
    blocks = blocks_marked(MARK)
    assert len(blocks) == 3, "the README lost its auditor-check blocks"
    return blocks


def like_the_clone(folder: Path) -> None:
    """``folder`` gets what the clone has where the README's commands look: ``.venv`` (the
    interpreter running these tests) and ``manage.py``."""
    venv = Path(sys.prefix)
    if not (folder / ".venv").exists():
        (folder / ".venv").symlink_to(venv, target_is_directory=True)
    if not (folder / "manage.py").exists():
        (folder / "manage.py").symlink_to(REPO_ROOT / "manage.py")


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


def run_block(block: str, cwd: Path,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the block as a user would: PATH without the venv, no VIRTUAL_ENV."""
    like_the_clone(cwd)
    venv_bin = str(Path(sys.executable).parent)
    path = ":".join(p for p in os.environ["PATH"].split(":") if p != venv_bin)
    base = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd,
                          env={**base, **(env or {}), "PATH": path}, capture_output=True,
                          text=True, timeout=300)


def test_offline_commands_of_the_readme_accept_the_bundle(bundle_dir: Path) -> None:
    done = run_block(auditor_blocks()[0], bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK:" in done.stdout
    assert json.loads((bundle_dir / "report.json").read_text())["ok"] is True


def test_openssl_commands_of_the_readme_verify_an_entry_its_payload_and_a_checkpoint(
    bundle_dir: Path,
) -> None:
    assert run_block(auditor_blocks()[0], bundle_dir).returncode == 0  # step 2 comes first
    done = run_block(auditor_blocks()[1], bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Signature Verified Successfully") == 2
    found = expected(bundle_dir)
    assert f"SM3(stdin)= {found['leaf']}" in done.stdout
    assert f"SM3(stdin)= {found['commitment']}\nstatement.payload = {found['commitment']}\n" \
        in done.stdout
    assert f"SM3(stdin)= {found['anchor']}\n" in done.stdout
    # check-proof with the ledger key found by hand checks the checkpoint's signature too.
    assert done.stdout.rstrip().endswith("with root " + json.loads(
        (bundle_dir / "proof.json").read_text())["root"])
    assert "NOT checked" not in done.stdout.split(found["anchor"])[-1]


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
    assert run_block(auditor_blocks()[0], bundle_dir).returncode == 0
    done = run_block(block, bundle_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    commitment = expected(bundle_dir)["commitment"]
    assert f"statement.payload = {commitment}" in done.stdout
    assert f"SM3(stdin)= {commitment}" not in done.stdout


def test_the_offline_commands_run_without_an_activated_venv(bundle_dir: Path) -> None:
    """The README's own words: nothing on PATH from the venv, and yet the commands work
    (``python -m audit.offline`` alone would fail with "No module named 'audit'")."""
    done = run_block("python3 -c 'import audit' 2>/dev/null || echo no-audit-on-plain-python",
                     bundle_dir)
    assert "no-audit-on-plain-python" in done.stdout or done.returncode == 0
    assert run_block(auditor_blocks()[0], bundle_dir).returncode == 0


def test_the_portal_download_is_named_as_the_readme_says() -> None:
    text = README.read_text(encoding="utf-8")
    assert "*Audit → Download bundle* saves `bundle.zip`" in text
    source = (REPO_ROOT / "portal" / "audit.py").read_text(encoding="utf-8")
    assert 'name = "bundle.zip"' in source


def test_every_check_proof_option_is_documented() -> None:
    from audit.offline import _parser

    text = README.read_text(encoding="utf-8")
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, command in commands.items():
        for action in command._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"{option}" in text, f"{name} {option} is not in the README"


def test_the_server_commands_run_as_written_with_the_servers_data_directory(
        tmp_path: Path, committed_db: None) -> None:
    """``verify_ledger`` and ``export_bundle`` as the README writes them, in the clone, over
    the server's database and data directory (here: the test's), with the demo loaded."""
    from django.conf import settings
    from django.db import connection, connections

    from demo import loader as demo
    from tests.browser.conftest import database_url

    for _line in demo.load():
        pass
    url = database_url(connection.settings_dict)
    connections.close_all()
    (block,) = blocks_marked(SERVER_MARK)
    env = {"DATABASE_URL": url, "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = run_block(block, tmp_path, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "bundle.zip").exists()
    checked = run_block(auditor_blocks()[0], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


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

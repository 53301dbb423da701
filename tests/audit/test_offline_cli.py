"""``python -m audit.offline``: exit codes, messages, the trust anchor, proofs, and no Django
anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audit.offline import main
from audit.view import Stored
from crypto.canonical import canonical
from tests.audit.builders import Ledger, realistic, write

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit.offline", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return realistic()


@pytest.fixture(scope="module")
def files(ledger: Ledger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bundles")
    tampered = ledger.parts()
    tampered["payloads"] = [(s, Stored(p.salt, {"x": 1}) if s == 5 else p)
                            for s, p in tampered["payloads"]]
    anchor = folder / "anchor.pem"  # the trust anchor: the ledger key entry 0 registers
    anchor.write_text(ledger.anchor.private.public_key.pem)
    current = folder / "current.pem"  # its successor since entry 21
    current.write_text(ledger.keys[ledger.ledger_key].private.public_key.pem)
    return {
        "full": write(folder / "full.zip", ledger.parts()),
        "partial": write(folder / "partial.zip", ledger.parts(13)),
        "tampered": write(folder / "tampered.zip", tampered),
        "anchor": anchor,
        "current": current,
        "folder": folder,
    }


def test_valid_bundle_exits_0(files: dict[str, Path], ledger: Ledger) -> None:
    result = run("verify", str(files["full"]), "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "seq 24: payload erased under PIPL art. 47, entry 29 (the entry itself verified)",
        f"OK: 30 entries (seq 0..29) and 5 checkpoints verified; root {ledger.root(30).hex()}",
    ]
    assert result.stderr == ""  # no progress bar when not on a terminal


def test_invalid_bundle_exits_1_listing_every_failure(files: dict[str, Path]) -> None:
    result = run("verify", str(files["tampered"]))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("seq 5: statement.payload: is not SM3(salt || canonical payload)")
    assert lines[0].endswith(" [payload-commitment]")
    assert lines[-1].startswith("INVALID: 1 failure(s) in 30 entries")


def test_json_output(files: dict[str, Path], ledger: Ledger) -> None:
    result = run("verify", str(files["tampered"]), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    failure = report.pop("failures")
    assert report == {"ok": False, "entries": 30, "checkpoints": 5, "from": 0, "to": 29,
                      "root": ledger.root(30).hex(), "uncovered": None, "redacted": {"24": 29},
                      "erased_under": {"24": "PIPL art. 47"}}
    assert [(f["seq"], f["code"]) for f in failure] == [(5, "payload-commitment")]
    assert set(failure[0]) == {"seq", "code", "reason"}
    assert failure[0]["reason"].startswith("statement.payload: is not SM3(salt || canonical")


def test_pinned_anchor_and_witnesses(files: dict[str, Path], ledger: Ledger,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    witness = next(k for k in ledger.keys.values() if k.use == "witness")
    witnesses = files["folder"] / "witnesses.jsonl"
    witnesses.write_text(canonical({"name": witness.name,
                                    "pem": witness.private.public_key.pem}).decode() + "\n")
    code = main(["verify", str(files["partial"]), "--workers", "1",
                 "--ledger-key", str(files["anchor"]), "--witnesses", str(witnesses), "--k", "1"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-4:] == ["checkpoint 19: not settled (cosigned by no witness)",
                        "checkpoint 21: not settled (cosigned by no witness)",
                        "checkpoint 26: settled (cosigned by witness.finance)",
                        "checkpoint 30: settled (cosigned by witness.finance)"]


def test_the_anchor_is_pinned_by_pem_or_key_id_and_the_successor_is_not_it(
    files: dict[str, Path], ledger: Ledger, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["verify", str(files["full"]), "--workers", "1",
                 "--ledger-key", ledger.anchor.kid]) == 0
    capsys.readouterr()
    assert main(["verify", str(files["full"]), "--workers", "1",
                 "--ledger-key", str(files["current"])]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (f"seq 0: entry 0 registers ledger key {ledger.anchor.kid[:16]}, not the "
                     f"pinned trust anchor {ledger.ledger_key[:16]} [trust-anchor]")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 definitely not a zip", "error: not a ZIP file, so not a shulian-bundle/2"),
        (b"", "error: not a ZIP file, so not a shulian-bundle/2"),
    ],
)
def test_garbage_exits_2_without_traceback(
    files: dict[str, Path], content: bytes, message: str
) -> None:
    path = files["folder"] / "garbage.zip"
    path.write_bytes(content)
    result = run("verify", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr and result.stdout == ""


def broken(files: dict[str, Path], name: str, change: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(files["full"]) as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    for member, data in change.items():
        if data is None:
            del content[member]
        else:
            content[member] = data
    path = files["folder"] / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in content.items():
            zf.writestr(member, data)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prefix.json": None}, "member prefix.json is missing"),
        ({"keys.jsonl": b'{"key": oops}\n'}, "keys.jsonl line 1: invalid JSON"),
        ({"manifest.json": canonical({"format": "shulian-bundle/1", "ledger": "shulian.test",
                                      "from": 0, "to": 29, "exported_at": "t",
                                      "exported_for": None}) + b"\n"},
         "manifest.json: format is 'shulian-bundle/1', not 'shulian-bundle/2'"),
        ({"payloads.jsonl": b"x" * (16 * 2**20 + 1) + b"\n"},
         "payloads.jsonl line 1: longer than the 16 MiB line limit"),
    ],
)
def test_broken_bundles_exit_2_with_a_clear_message(
    files: dict[str, Path], change: dict[str, bytes | None], message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = broken(files, "broken.zip", change)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_broken_bundle_in_a_subprocess_has_no_traceback(files: dict[str, Path]) -> None:
    path = broken(files, "huge.zip", {"entries.jsonl": b"x" * (16 * 2**20 + 1) + b"\n"})
    result = run("verify", str(path), "--json")
    assert result.returncode == 2
    assert result.stderr == "error: entries.jsonl line 1: longer than the 16 MiB line limit\n"


def test_missing_file_and_bad_key_exit_2(files: dict[str, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(files["folder"] / "nope.zip")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["verify", str(files["full"]), "--ledger-key", str(files["full"])]) == 2
    assert "not a PEM SM2 public key" in capsys.readouterr().err
    assert main(["verify", str(files["full"]), "--ledger-key", "ab" * 31]) == 2


def test_the_offline_verifier_imports_no_django(files: dict[str, Path]) -> None:
    code = (
        "import sys\n"
        "from audit.offline import main\n"
        f"rc = main(['verify', {str(files['partial'])!r}, '--workers', '2'])\n"
        "print(rc, sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr


def test_prove_and_check_proof_round_trip(files: dict[str, Path]) -> None:
    """check-proof's --ledger-key is the key that signed that checkpoint: the checkpoint of
    size 30 was sealed after the hand-over at entry 21, so by the successor, not the anchor."""
    result = run("prove", str(files["partial"]), "--seq", "15")
    assert result.returncode == 0, result.stderr
    proof = json.loads(result.stdout)
    assert proof["format"] == "shulian-inclusion/1"
    assert (proof["seq"], proof["tree_size"]) == (15, 30)
    proof_path = files["folder"] / "proof.json"
    proof_path.write_text(result.stdout)
    checked = run("check-proof", str(proof_path), "--ledger-key", str(files["current"]))
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("OK: entry 15 is included in the tree of size 30")
    by_anchor = run("check-proof", str(proof_path), "--ledger-key", str(files["anchor"]))
    assert by_anchor.returncode == 1
    assert "ledger signature does not verify with the given key" in by_anchor.stdout
    older = run("prove", str(files["partial"]), "--seq", "15", "--size", "21")
    proof_path.write_text(older.stdout)
    checked = run("check-proof", str(proof_path), "--ledger-key", str(files["anchor"]))
    assert checked.returncode == 0, checked.stdout


def test_check_proof_fails_for_a_tampered_entry(files: dict[str, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", str(files["full"]), "--seq", "7"]) == 0
    proof = json.loads(capsys.readouterr().out)
    proof_path = files["folder"] / "proof7.json"
    proof_path.write_text(json.dumps(proof))
    entry = files["folder"] / "entry7.txt"
    entry.write_text(proof["entry"].replace('"nonce":"', '"nonce":"x') + "\n")
    assert main(["check-proof", str(proof_path), "--entry", str(entry), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False
    assert result["problems"] == [
        "the entry's leaf hash SM3(0x00 || entry) is not the proof's leaf_hash",
        "the path does not prove entry 7 is in the tree of size 30 under the checkpoint's root",
    ]


def test_check_proof_against_another_checkpoint_or_key_fails(
    files: dict[str, Path], ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prove", str(files["full"]), "--seq", "20", "--size", "26"]) == 0
    proof_path = files["folder"] / "proof20.json"
    proof_path.write_text(capsys.readouterr().out)
    assert main(["check-proof", str(proof_path)]) == 0
    assert "signature was NOT checked" in capsys.readouterr().out
    note = files["folder"] / "note30.txt"
    note.write_text(ledger.checkpoints[-1])
    assert main(["check-proof", str(proof_path), "--checkpoint", str(note)]) == 1
    assert "the checkpoint has size 30, the proof says 26" in capsys.readouterr().out
    other = files["folder"] / "other.pem"
    other.write_text(ledger.keys[ledger.current["op.alpha"]].private.public_key.pem)
    assert main(["check-proof", str(proof_path), "--ledger-key", str(other)]) == 1
    assert "ledger signature does not verify" in capsys.readouterr().out


def test_prove_outside_the_bundle_and_bad_proof_files(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prove", str(files["partial"]), "--seq", "3"]) == 1
    assert "entry 3 is not in this bundle" in capsys.readouterr().err
    bad = files["folder"] / "bad-proof.json"
    bad.write_text('{"format": "something/else"}')
    assert main(["check-proof", str(bad)]) == 2
    assert "the proof's fields are wrong" in capsys.readouterr().err

"""The worked example in docs/ledger-format.md is real: every example block is re-verified
here, with the code (the bundle verifies as the doc says it does) and independently (hashlib
SM3 and the tests' own RFC 9162 tree; openssl for the by-hand commands)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from audit.bundle import read_bundle, verify_bundle
from audit.proofs import check_proof, load_proof
from audit.view import Stored
from crypto.canonical import canonical, is_canonical
from crypto.sm2 import PrivateKey, PublicKey
from tests.audit.builders import covering, leaf, mth, node, to_bytes

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"
_BLOCK = re.compile(r"<!-- example: (?P<name>[\w.-]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)
CHECKED = {"payloads.jsonl", "payload-bytes", "commitment", "commitment-by-hand",
           "statement-bytes", "entries.jsonl", "hashes", "checkpoint", "manifest.json",
           "partial-prefix.json", "partial-keys.jsonl", "report.json", "report-tampered.json",
           "proof", "cosignature-by-hand"}


@pytest.fixture(scope="module")
def blocks() -> dict[str, str]:
    return {m["name"]: m["body"] for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8"))}


def lines(text: str) -> list[bytes]:
    assert text.endswith("\n")
    return [line.encode() for line in text[:-1].split("\n")]


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(text)]


def bundle_parts(blocks: dict[str, str], start: int = 0,
                 payloads: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """write_bundle's arguments for the example bundle (or the one from ``start``)."""
    manifest = json.loads(blocks["manifest.json"])
    payloads = records(blocks["payloads.jsonl"]) if payloads is None else payloads
    partial = start > 0
    return {
        "manifest": {**manifest, "from": start},
        "prefix": json.loads(blocks["partial-prefix.json"]) if partial else
        {"size": 0, "subtrees": [], "last": None},
        "entries": lines(blocks["entries.jsonl"])[start:],
        "payloads": [(p["seq"], Stored(p["salt"], p["payload"])) for p in payloads
                     if p["seq"] >= start],
        "checkpoints": [blocks["checkpoint"]],
        "keys": records(blocks["partial-keys.jsonl"]) if partial else [],
    }


def run_sh(block: str, cwd: Path, **env: str) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd,
                          env=dict(os.environ, **env), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_every_example_block_is_checked_here(blocks: dict[str, str]) -> None:
    assert set(blocks) == CHECKED


def test_the_example_is_a_valid_bundle_settled_by_its_witness(blocks: dict[str, str]) -> None:
    bundle = read_bundle(to_bytes(bundle_parts(blocks)))
    anchor = PrivateKey.from_scalar(int("11" * 32, 16)).public_key.key_id
    report = verify_bundle(bundle, workers=1, k=1, ledger_key=anchor)
    assert report.failures == []
    assert report.settled == {4: True} and report.cosigned[4] == ["witness.finance"]
    assert verify_bundle(bundle, workers=1).to_json() == json.loads(blocks["report.json"])
    for name in ("entries.jsonl", "payloads.jsonl", "partial-keys.jsonl"):
        assert all(is_canonical(line) for line in lines(blocks[name])), name
    for name in ("manifest.json", "partial-prefix.json", "payload-bytes", "statement-bytes"):
        assert is_canonical(blocks[name].strip().encode()), name


def test_the_partial_bundle_from_3_verifies(blocks: dict[str, str]) -> None:
    report = verify_bundle(read_bundle(to_bytes(bundle_parts(blocks, 3))), workers=1, k=1)
    assert report.failures == [] and report.entries == 1 and report.settled == {4: True}


def test_the_tampered_report_is_what_the_verifier_says(blocks: dict[str, str]) -> None:
    payloads = records(blocks["payloads.jsonl"])
    assert payloads[3]["payload"]["fee"] == "0.00"
    payloads[3]["payload"]["fee"] = "9.00"
    report = verify_bundle(read_bundle(to_bytes(bundle_parts(blocks, payloads=payloads))),
                           workers=1)
    assert report.to_json() == json.loads(blocks["report-tampered.json"])


def test_the_keys_come_from_the_stated_scalars(blocks: dict[str, str]) -> None:
    registrations = [p["payload"] for p in records(blocks["payloads.jsonl"])[:3]]
    for payload, digit in zip(registrations, "123", strict=True):
        public = PrivateKey.from_scalar(int(digit * 64, 16)).public_key
        assert (payload["key"], payload["pem"]) == (public.key_id, public.pem)
        der = base64.b64decode("".join(payload["pem"].splitlines()[1:-1]))
        assert hashlib.new("sm3", der).hexdigest() == payload["key"]
    assert [p["use"] for p in registrations] == ["ledger", "statement", "witness"]
    stated = records(blocks["partial-keys.jsonl"])
    assert [(r["key"], r["registered"], r["ended"]) for r in stated] == [
        (p["key"], seq, None) for seq, p in enumerate(registrations)]


def test_the_commitment_and_the_statement(blocks: dict[str, str]) -> None:
    entries = lines(blocks["entries.jsonl"])
    listed = dict(line.split() for line in blocks["commitment"].strip().split("\n"))
    payload = blocks["payload-bytes"].strip().encode()
    commitment = hashlib.new("sm3", base64.b64decode(listed["salt"]) + payload).hexdigest()
    assert commitment == listed["commitment"]
    stated = blocks["statement-bytes"].strip().encode()
    assert json.loads(stated)["payload"] == commitment
    assert entries[3].endswith(b'"statement":' + stated + b',"v":2}')
    assert canonical(json.loads(entries[3])["statement"]) == stated
    last = records(blocks["payloads.jsonl"])[3]
    assert (last["salt"], canonical(last["payload"])) == (listed["salt"], payload)
    for line, record in zip(entries, records(blocks["payloads.jsonl"]), strict=True):
        salt = base64.b64decode(record["salt"])
        assert len(salt) == 16
        assert json.loads(line)["statement"]["payload"] == hashlib.new(
            "sm3", salt + canonical(record["payload"])).hexdigest()


def test_the_commitment_by_hand(blocks: dict[str, str], tmp_path: Path) -> None:
    listed = dict(line.split() for line in blocks["commitment"].strip().split("\n"))
    out = run_sh(blocks["commitment-by-hand"], tmp_path)
    assert out.strip() == f"SM3(stdin)= {listed['commitment']}"


def test_the_example_hashes_and_the_chain(blocks: dict[str, str]) -> None:
    entries = lines(blocks["entries.jsonl"])
    listed = {name.strip(): value for name, value in
              (line.rsplit(" ", 1) for line in blocks["hashes"].strip().split("\n"))}
    leaves = [leaf(line) for line in entries]
    assert [listed[f"leaf {i}"] for i in range(4)] == [h.hex() for h in leaves]
    assert listed["node01"] == node(leaves[0], leaves[1]).hex()
    assert listed["node23"] == node(leaves[2], leaves[3]).hex()
    assert listed["root"] == mth(leaves).hex()
    prevs = [json.loads(line)["prev"] for line in entries]
    assert prevs == ["0" * 64] + [h.hex() for h in leaves[:3]]
    checkpoint = blocks["checkpoint"].split("\n")
    assert checkpoint[:3] == ["shulian.example", "4",
                              base64.b64encode(mth(leaves)).decode()]
    prefix = json.loads(blocks["partial-prefix.json"])
    assert prefix == {"size": 3, "last": leaves[2].hex(),
                      "subtrees": [mth(leaves[a:b]).hex() for a, b in covering(3)]}


def test_the_example_proof_checks(blocks: dict[str, str]) -> None:
    proof = load_proof(blocks["proof"])
    ledger_key = PublicKey.from_pem(records(blocks["payloads.jsonl"])[0]["payload"]["pem"])
    assert check_proof(proof, entry=proof["entry"].encode(), checkpoint=proof["checkpoint"],
                       ledger_key=ledger_key) == []
    assert proof["checkpoint"] == blocks["checkpoint"]
    assert proof["entry"].encode() == lines(blocks["entries.jsonl"])[3]


def test_the_cosignature_by_hand(blocks: dict[str, str], tmp_path: Path) -> None:
    body, _, signatures = blocks["checkpoint"].partition("\n\n")
    witness_line = signatures.splitlines()[1]
    assert witness_line.startswith("\u2014 witness.finance ")
    (tmp_path / "BODY").write_text(body + "\n")
    pem = records(blocks["payloads.jsonl"])[2]["payload"]["pem"]
    (tmp_path / "witness.pub").write_text(pem)
    out = run_sh(blocks["cosignature-by-hand"], tmp_path, LINE=witness_line.split(" ")[2])
    assert out.strip() == "Signature Verified Successfully"

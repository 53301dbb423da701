"""The worked example in docs/ledger-format.md is real: its bytes verify as documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from audit.bundle import FORMAT, read_bundle, verify_bundle
from audit.proofs import check_proof, load_proof
from crypto.canonical import canonical, is_canonical
from crypto.sm2 import PrivateKey, PublicKey
from crypto.sm3 import sm3_hex
from ledger.protocol.format import leaf_hash
from ledger.protocol.merkle import SM3
from tests.audit.builders import to_bytes

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"
_BLOCK = re.compile(r"<!-- example: (?P<name>[\w.-]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.S)


@pytest.fixture(scope="module")
def blocks() -> dict[str, str]:
    return {m["name"]: m["body"] for m in _BLOCK.finditer(DOC.read_text(encoding="utf-8"))}


def lines(text: str) -> list[bytes]:
    assert text.endswith("\n")
    return [line.encode() for line in text[:-1].split("\n")]


def test_the_example_is_a_valid_bundle(blocks: dict[str, str]) -> None:
    entries = lines(blocks["entries.jsonl"])
    keys = [json.loads(line) for line in lines(blocks["keys.jsonl"])]
    payloads = [json.loads(line) for line in lines(blocks["payloads.jsonl"])]
    parts = {
        "manifest": {"format": FORMAT, "ledger": "shulian.example", "from": 0, "to": 2,
                     "exported_at": "2026-11-22T08:05:00.000000Z", "exported_for": None},
        "prefix": {"size": 0, "subtrees": [], "last": None},
        "entries": entries,
        "payloads": [(p["seq"], p["payload"]) for p in payloads],
        "checkpoints": [blocks["checkpoint"]],
        "keys": keys,
    }
    report = verify_bundle(read_bundle(to_bytes(parts)), workers=1, k=1)
    assert report.failures == []
    assert report.settled == {3: True}
    assert all(is_canonical(line) for line in entries)


def test_the_example_keys_come_from_the_stated_scalars(blocks: dict[str, str]) -> None:
    keys = [json.loads(line) for line in lines(blocks["keys.jsonl"])]
    for record, digit in zip(keys, "123", strict=True):
        private = PrivateKey.from_scalar(int(digit * 64, 16))
        assert record["key"] == private.public_key.key_id


def test_the_example_hashes_and_bytes(blocks: dict[str, str]) -> None:
    entries = lines(blocks["entries.jsonl"])
    listed = dict(line.rsplit(" ", 1) for line in blocks["hashes"].strip().split("\n"))
    listed = {name.strip(): value for name, value in listed.items()}
    leaves = [leaf_hash(line) for line in entries]
    assert [listed[f"leaf {i}"] for i in range(3)] == [leaf.hex() for leaf in leaves]
    node01 = SM3.node(leaves[0], leaves[1])
    assert listed["node01"] == node01.hex()
    assert listed["root"] == SM3.node(node01, leaves[2]).hex()
    statement = json.loads(entries[1])["statement"]
    stated = blocks["statement-bytes"].strip().encode()
    assert stated == canonical(statement)
    assert entries[1].endswith(b'"statement":' + stated + b',"v":1}')
    payload = blocks["payload-bytes"].strip().encode()
    assert is_canonical(payload) and sm3_hex(payload) == statement["payload"]


def test_the_example_proof_checks(blocks: dict[str, str]) -> None:
    keys = [json.loads(line) for line in lines(blocks["keys.jsonl"])]
    proof = load_proof(blocks["proof"])
    ledger_key = PublicKey.from_pem(keys[0]["pem"])
    assert check_proof(proof, entry=proof["entry"].encode(), checkpoint=proof["checkpoint"],
                       ledger_key=ledger_key) == []
    assert proof["checkpoint"] == blocks["checkpoint"]

"""The bundle ZIP (shulian-bundle/2) is written exactly per DESIGN.md, and anything else is
refused clearly."""

from __future__ import annotations

import base64
import io
import zipfile
from typing import Any

import pytest

from audit import bundle as bundle_module
from audit.bundle import MEMBERS, BundleError, read_bundle
from crypto.canonical import canonical, is_canonical, parse
from ledger.protocol.keystate import KeyState
from tests.audit.builders import Ledger, realistic, to_bytes

KEY_FIELDS = ["ended", "key", "name", "participant", "pem", "registered", "use", "valid_from",
              "valid_until"]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return realistic()


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(content: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    return out.getvalue()


def records(data: bytes) -> list[Any]:
    return [parse(line) for line in data.splitlines()]


def test_members_and_records_are_exactly_as_designed(ledger: Ledger) -> None:
    content = members(to_bytes(ledger.parts(13)))
    assert list(content) == list(MEMBERS)
    for name, data in content.items():
        assert data.endswith(b"\n") and b"\n\n" not in data, name
        for line in data[:-1].split(b"\n"):
            assert is_canonical(line), (name, line[:60])
    manifest = parse(content["manifest.json"])
    assert manifest == {"format": "shulian-bundle/2", "ledger": "shulian.test", "from": 13,
                        "to": 29, "exported_at": manifest["exported_at"], "exported_for": None}
    prefix = parse(content["prefix.json"])
    assert set(prefix) == {"size", "subtrees", "last"} and prefix["size"] == 13
    assert len(prefix["subtrees"]) == 3  # 13 = 8 + 4 + 1
    assert content["entries.jsonl"] == b"".join(line + b"\n" for line in ledger.entries[13:])
    payload = parse(content["payloads.jsonl"].split(b"\n")[0])
    assert set(payload) == {"seq", "salt", "payload"} and payload["seq"] == 13
    assert len(base64.b64decode(payload["salt"], validate=True)) == 16
    keys = records(content["keys.jsonl"])
    assert [sorted(record) for record in keys] == [KEY_FIELDS] * 4  # seqs 0-3 registered
    assert [(r["registered"], r["ended"]) for r in keys] == [(0, None), (1, None), (2, None),
                                                             (3, None)]
    notes = [parse(line)["note"] for line in content["checkpoints.jsonl"].splitlines()]
    assert [int(n.split("\n")[1]) for n in notes] == [19, 21, 26, 30]


def test_a_bundle_from_0_has_no_key_records_and_every_registry_payload(ledger: Ledger) -> None:
    content = members(to_bytes(ledger.parts()))
    assert content["keys.jsonl"] == b""
    present = {record["seq"] for record in records(content["payloads.jsonl"])}
    registry = {seq for seq, s in enumerate(ledger.statements) if s["kind"].startswith("ledger.")}
    assert registry == {0, 1, 2, 3, 13, 19, 20, 21, 22, 29} and registry <= present
    assert present == set(range(30)) - {7, 11, 25} - {24}  # withheld, and erased by 29


@pytest.mark.parametrize("start", [14, 21, 22, 29])
def test_key_records_are_the_state_the_chain_gives_at_the_start(ledger: Ledger,
                                                                start: int) -> None:
    """keys.jsonl as the builder bookkept it equals KeyState following the registry entries
    (the ledger's exporter writes the latter): ended only where the end precedes the start."""
    state = KeyState(ledger.origin)
    for seq, statement in enumerate(ledger.statements[:start]):
        state.apply(seq, statement["kind"], ledger.payloads[seq])
    content = members(to_bytes(ledger.parts(start)))
    assert records(content["keys.jsonl"]) == state.at(start)
    ended = {(r["participant"], r["registered"]): r["ended"]
             for r in records(content["keys.jsonl"])}
    assert ended[("op.alpha", 2)] == 13  # replaced at 13
    assert ended[("merchant.beta", 3)] == (20 if start > 20 else None)  # revoked at 20
    assert ended[("shulian.test", 0)] == (21 if start > 21 else None)  # the ledger key handed over


def test_read_bundle_round_trip(ledger: Ledger) -> None:
    parts = ledger.parts(22)
    bundle = read_bundle(to_bytes(parts))
    assert bundle.origin == "shulian.test"
    assert list(bundle.entries) == ledger.entries[22:]
    assert list(bundle.entries) == ledger.entries[22:]  # iterable again
    assert len(bundle.entries) == 8
    assert bundle.checkpoints == ledger.checkpoints[-2:]
    assert bundle.keys == parts["keys"] and len(bundle.keys) == 7  # registered at 0-21
    assert {seq: (s.salt, s.payload) for seq, s in bundle.payloads.items()} == {
        seq: (ledger.salts[seq], ledger.payloads[seq]) for seq in (22, 23, 26, 27, 28, 29)}


def test_write_bundle_to_a_path(ledger: Ledger, tmp_path: Any) -> None:
    path = tmp_path / "b.zip"
    bundle_module.write_bundle(path, **ledger.parts())
    assert list(read_bundle(path).entries) == ledger.entries
    assert list(read_bundle(str(path)).entries) == ledger.entries


def test_write_bundle_refuses_wrong_records_and_leaves_nothing(
    ledger: Ledger, tmp_path: Any
) -> None:
    parts = ledger.parts(13)
    parts["keys"][0]["revoked_at"] = None  # a v1 field
    with pytest.raises(ValueError, match=r"key record #1: wrong fields \(missing \[\], "
                                         r"unexpected \['revoked_at'\]\)"):
        bundle_module.write_bundle(tmp_path / "a.zip", **parts)
    parts = ledger.parts()
    parts["entries"][5] = b"two\nlines"
    with pytest.raises(ValueError, match="entries.jsonl: a line must be non-empty"):
        bundle_module.write_bundle(tmp_path / "b.zip", **parts)
    parts = ledger.parts()
    parts["manifest"]["format"] = "shulian-bundle/1"
    with pytest.raises(ValueError, match="manifest: format must be 'shulian-bundle/2'"):
        bundle_module.write_bundle(tmp_path / "c.zip", **parts)
    assert list(tmp_path.iterdir()) == []


def test_not_a_zip() -> None:
    with pytest.raises(BundleError, match="^not a ZIP file, so not a shulian-bundle/2$"):
        read_bundle(b"this is not a zip file at all")


def test_missing_member(ledger: Ledger) -> None:
    content = members(to_bytes(ledger.parts()))
    del content["keys.jsonl"]
    with pytest.raises(BundleError, match="member keys.jsonl is missing"):
        read_bundle(rezip(content))


def test_unexpected_member(ledger: Ledger) -> None:
    content = members(to_bytes(ledger.parts()))
    content["extra.txt"] = b"hello\n"
    with pytest.raises(BundleError, match="unexpected member extra.txt"):
        read_bundle(rezip(content))


@pytest.mark.parametrize(
    ("member", "line", "message"),
    [
        ("manifest.json", b"{nope", "manifest.json line 1: invalid JSON"),
        ("keys.jsonl", b'{"key":1,"key":2}', "keys.jsonl line 2: invalid JSON (duplicate"),
        ("payloads.jsonl", b"[1, 2", "payloads.jsonl line 2: invalid JSON"),
        ("checkpoints.jsonl", b'{"note": NaN}', "checkpoints.jsonl line 2: invalid JSON"),
    ],
)
def test_invalid_json_names_member_and_line(
    ledger: Ledger, member: str, line: bytes, message: str
) -> None:
    content = members(to_bytes(ledger.parts(13)))
    lines = content[member].split(b"\n")
    lines[0 if member == "manifest.json" else 1] = line
    content[member] = b"\n".join(lines)
    with pytest.raises(BundleError) as caught:
        read_bundle(rezip(content))
    assert str(caught.value).startswith(message)


V1_KEY = {"key": "ab" * 32, "name": "x", "participant": "x", "pem": "p", "revoked_at": None,
          "use": "statement", "valid_from": "2026-11-22T08:00:00.000000Z", "valid_until": None}


@pytest.mark.parametrize(
    ("member", "record", "message"),
    [
        ("keys.jsonl", V1_KEY, "keys.jsonl line 1: wrong fields (missing ['ended', "
         "'registered'], unexpected ['revoked_at'])"),
        ("payloads.jsonl", {"seq": 1, "payload": 1},
         "payloads.jsonl line 1: wrong fields (missing ['salt'], unexpected [])"),
        ("payloads.jsonl", {"seq": 1, "salt": "AAAAAAAAAAAAAAAAAAAAAA==", "payload": 1,
                            "more": 2},
         "payloads.jsonl line 1: wrong fields (missing [], unexpected ['more'])"),
        ("checkpoints.jsonl", {"note": 5}, "checkpoints.jsonl line 1: note must be a string"),
        ("payloads.jsonl", {"seq": -1, "salt": "AAAAAAAAAAAAAAAAAAAAAA==", "payload": 1},
         "payloads.jsonl line 1: seq must be a non-negative integer"),
        ("manifest.json", {"format": "shulian-bundle/1", "ledger": "x", "from": 0, "to": 1,
                           "exported_at": "t", "exported_for": None},
         "manifest.json: format is 'shulian-bundle/1', not 'shulian-bundle/2'"),
        ("prefix.json", {"size": 0, "subtrees": [], "last": "00" * 32},
         "prefix.json: last must be"),
        ("prefix.json", {"size": 3, "subtrees": [], "last": None},
         "prefix.json: size 3 is not manifest.from 0"),
    ],
)
def test_wrong_records(ledger: Ledger, member: str, record: dict[str, Any], message: str) -> None:
    content = members(to_bytes(ledger.parts()))
    content[member] = canonical(record) + b"\n"
    with pytest.raises(BundleError) as caught:
        read_bundle(rezip(content))
    assert str(caught.value).startswith(message)


def test_duplicate_payload_seq(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["payloads"].append(parts["payloads"][0])
    with pytest.raises(BundleError, match="a second payload for seq 0"):
        read_bundle(to_bytes(parts))


def test_blank_line_and_missing_final_newline(ledger: Ledger) -> None:
    content = members(to_bytes(ledger.parts(13)))
    content["entries.jsonl"] = content["entries.jsonl"].replace(b"\n", b"\n\n", 1)
    with pytest.raises(BundleError, match="entries.jsonl line 2: blank lines are not allowed"):
        read_bundle(rezip(content))
    content = members(to_bytes(ledger.parts(13)))
    content["keys.jsonl"] = content["keys.jsonl"][:-1]
    with pytest.raises(BundleError, match="keys.jsonl line 4: the last line does not end"):
        read_bundle(rezip(content))


def test_huge_line(ledger: Ledger) -> None:
    content = members(to_bytes(ledger.parts()))
    content["entries.jsonl"] += b"x" * (16 * 1024 * 1024 + 10) + b"\n"
    with pytest.raises(BundleError, match="entries.jsonl line 31: longer than the 16 MiB line"):
        read_bundle(rezip(content))


def test_zip_bomb_is_refused(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    data = to_bytes(ledger.parts())
    monkeypatch.setattr(bundle_module, "MAX_TOTAL", 10_000)
    declared = r"the members declare \d+ bytes uncompressed, beyond the 10000 bytes limit"
    with pytest.raises(BundleError, match=declared):
        read_bundle(data)


def test_reading_stops_at_the_budget_whatever_the_headers_say(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = to_bytes(ledger.parts())
    monkeypatch.setattr(bundle_module, "_check_members", lambda zf: None)  # lying headers
    monkeypatch.setattr(bundle_module, "MAX_TOTAL", 10_000)
    with pytest.raises(BundleError, match="entries.jsonl: the bundle is larger than the"):
        read_bundle(data)


def test_corrupt_member_data(ledger: Ledger) -> None:
    data = bytearray(to_bytes(ledger.parts()))
    start = data.find(b"entries.jsonl") + 40
    data[start:start + 30] = bytes(30)
    with pytest.raises(BundleError):
        read_bundle(bytes(data))

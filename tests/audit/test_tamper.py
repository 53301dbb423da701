"""Each kind of tampering is caught at the right seq, with a reason a person understands."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from crypto.canonical import canonical
from ledger.protocol import note as notes
from ledger.protocol.format import format_time, parse_time
from tests.audit.builders import Ledger, realistic, reasons, verify_parts


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return realistic()


def edit_entry(parts: dict[str, Any], seq: int, change: Any) -> None:
    """Apply ``change`` to the parsed entry ``seq`` and write it back canonically."""
    index = seq - parts["prefix"]["size"]
    entry = json.loads(parts["entries"][index])
    change(entry)
    parts["entries"][index] = canonical(entry)


def test_payload_changed(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["payloads"] = [(seq, {**p, "amount": "9999.00"} if seq == 5 else p)
                         for seq, p in parts["payloads"]]
    report = verify_parts(parts)
    assert [f.seq for f in report.failures] == [5]
    assert reasons(report, 5)[0].startswith("the payload does not match statement.payload")


def test_statement_field_changed(ledger: Ledger) -> None:
    parts = ledger.parts()
    edit_entry(parts, 7, lambda e: e["statement"].update(subject="contracts/thing/forged"))
    report = verify_parts(parts)
    assert report.failures[0].seq == 7
    assert reasons(report, 7) == [
        f"the SM2 signature does not verify over the statement with key "
        f"{ledger.statements[7]['key'][:16]}"
    ]
    assert reasons(report, 8) == ["prev does not match the leaf hash of the previous entry "
                                  "(seq 7)"]
    assert any("does not match the root recomputed" in r for r in reasons(report, checkpoint=12))


def test_signature_byte_flipped(ledger: Ledger) -> None:
    def flip(entry: dict[str, Any]) -> None:
        sig = bytearray(base64.b64decode(entry["sig"]))
        sig[20] ^= 0x01
        entry["sig"] = base64.b64encode(bytes(sig)).decode()

    parts = ledger.parts()
    edit_entry(parts, 4, flip)
    report = verify_parts(parts)
    assert report.failures[0].seq == 4
    assert reasons(report, 4)[0].startswith("the SM2 signature does not verify")


def test_prev_changed(ledger: Ledger) -> None:
    parts = ledger.parts()
    edit_entry(parts, 9, lambda e: e.update(prev="ab" * 32))
    report = verify_parts(parts)
    assert report.failures[0].seq == 9
    assert reasons(report, 9) == ["prev does not match the leaf hash of the previous entry "
                                  "(seq 8)"]


def test_entry_deleted(ledger: Ledger) -> None:
    parts = ledger.parts()
    del parts["entries"][8]
    report = verify_parts(parts)
    assert report.failures[0].seq == 9
    assert reasons(report, 9) == [
        "seq 9 follows seq 7: entry 8 is missing",
        "prev does not match the leaf hash of the previous entry (seq 7)",
    ]
    assert reasons(report, 10) == []  # the chain resumes: one failure, not a flood


def test_two_entries_swapped(ledger: Ledger) -> None:
    parts = ledger.parts()
    entries = parts["entries"]
    entries[14], entries[15] = entries[15], entries[14]
    report = verify_parts(parts)
    assert "seq 15 follows seq 13: entry 14 is missing" in reasons(report, 15)
    assert "seq 14 follows seq 15: out of order" in reasons(report, 14)
    assert report.failures[0].seq == 15


def test_bundle_truncated(ledger: Ledger) -> None:
    parts = ledger.parts()
    del parts["entries"][-2:]
    report = verify_parts(parts)
    assert reasons(report, checkpoint=26) == [
        "checkpoint of size 26 is beyond the last entry (seq 23): entries 24..25 are missing"
    ]
    assert reasons(report, 23) == ["no checkpoint covers the last entry (none has size 24)"]
    assert "the manifest says the bundle ends at seq 25, but its last entry is seq 23" in (
        reasons(report)
    )


def test_truncated_with_its_checkpoint_gone_is_still_caught(ledger: Ledger) -> None:
    parts = ledger.parts(0, 22)  # a consistent shorter bundle is valid ...
    assert verify_parts(parts).ok
    parts = ledger.parts()
    del parts["entries"][-1]
    parts["checkpoints"] = parts["checkpoints"][:-1]  # ... but not one that lost its tail
    report = verify_parts(parts)
    assert reasons(report, 24) == ["no checkpoint covers the last entry (none has size 25)"]


def test_forged_checkpoint_root(ledger: Ledger) -> None:
    parts = ledger.parts()
    forged = ledger.note(20, root=b"\x42" * 32)  # correctly signed by the ledger key
    parts["checkpoints"] = [forged if notes.parse(t).size == 20 else t
                            for t in parts["checkpoints"]]
    report = verify_parts(parts)
    assert reasons(report, checkpoint=20)[0] == (
        f"checkpoint of size 20: root {'42' * 32} does not match the root recomputed from the "
        f"entries, {ledger.root(20).hex()}"
    )
    assert all(f.seq is None for f in report.failures)
    assert "checkpoints of size 18 and 20 are not consistent: no consistency proof from the " \
        "entries links their roots" in reasons(report, checkpoint=20)


def test_fork_two_roots_for_one_size(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["checkpoints"].append(ledger.note(18, root=b"\x01" * 32))
    report = verify_parts(parts)
    assert "2 checkpoints of size 18 have different roots (a fork)" in reasons(
        report, checkpoint=18)


def test_checkpoint_signed_by_a_non_ledger_key(ledger: Ledger) -> None:
    parts = ledger.parts()
    merchant = ledger.current["merchant.beta"]
    parts["checkpoints"][-1] = ledger.note(26, key=merchant)
    report = verify_parts(parts)
    hint = merchant[:8]
    assert reasons(report, checkpoint=26) == [
        f"checkpoint of size 26: not signed by the ledger key (key hint {hint} matches no "
        "ledger key)"
    ]
    assert len(report.failures) == 1


def test_checkpoint_whose_first_line_is_not_the_ledger(ledger: Ledger) -> None:
    parts = ledger.parts()
    text = parts["checkpoints"][0].replace(f"\u2014 {ledger.origin} ", "\u2014 someone.else ")
    parts["checkpoints"][0] = text
    report = verify_parts(parts)
    assert reasons(report, checkpoint=12) == [
        "checkpoint of size 12: the first signature line is by 'someone.else', not by the ledger"
    ]


def test_bad_witness_cosignature(ledger: Ledger) -> None:
    parts = ledger.parts()
    head, _, tail = parts["checkpoints"][-1].rpartition("\u2014 witness.finance ")
    blob = bytearray(base64.b64decode(tail.strip()))
    blob[-5] ^= 0xFF
    parts["checkpoints"][-1] = (head + "\u2014 witness.finance "
                                + base64.b64encode(bytes(blob)).decode() + "\n")
    report = verify_parts(parts)
    assert reasons(report, checkpoint=26) == [
        "checkpoint of size 26: the cosignature of witness 'witness.finance' does not verify"
    ]


def test_entry_signed_with_a_key_after_its_revocation() -> None:
    ledger = realistic()
    revoked = next(r for r in ledger.keys if r["revoked_at"])
    seq = ledger.append("merchant.beta", "contracts.request.filed", {"late": True},
                        key=revoked["key"])
    ledger.seal()
    report = verify_parts(ledger.parts())
    time = ledger.statements[seq]["time"]
    assert [f.seq for f in report.failures] == [seq]
    assert reasons(report, seq) == [
        f"key {revoked['key'][:16]} was revoked at {revoked['revoked_at']}, not after "
        f"statement.time {time}"
    ]


def test_entry_recorded_after_its_key_was_revoked() -> None:
    ledger = realistic()
    revoked = next(r for r in ledger.keys if r["revoked_at"])
    before = format_time(parse_time(revoked["revoked_at"]) - timedelta(milliseconds=500))
    assert revoked["valid_from"] < before < revoked["revoked_at"]
    seq = ledger.append("merchant.beta", "contracts.request.filed", {"x": 1},
                        key=revoked["key"], time=before)
    ledger.seal()
    report = verify_parts(ledger.parts())
    recorded = json.loads(ledger.entries[seq])["recorded"]
    assert reasons(report, seq) == [
        f"key {revoked['key'][:16]} was revoked at {revoked['revoked_at']}, before the entry "
        f"was recorded at {recorded}"
    ]


def test_entry_signed_with_a_rotated_out_key() -> None:
    ledger = realistic()
    expired = next(r for r in ledger.keys if r["valid_until"])
    seq = ledger.append(expired["participant"], "contracts.request.filed", {"x": 2},
                        key=expired["key"])
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert [f.seq for f in report.failures] == [seq]
    assert reasons(report, seq)[0].startswith(f"key {expired['key'][:16]} expired at "
                                              f"{expired['valid_until']}")


def test_replayed_nonce() -> None:
    ledger = realistic()
    nonce = ledger.statements[3]["nonce"]
    seq = ledger.append("dept.transport", "contracts.request.filed", {"again": 1}, nonce=nonce)
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert [f.seq for f in report.failures] == [seq]
    assert reasons(report, seq) == [
        f"nonce {nonce!r} of actor 'dept.transport' was already used at seq 3 (replay)"
    ]


def test_key_of_another_participant() -> None:
    ledger = realistic()
    seq = ledger.append("dept.transport", "contracts.request.filed", {"x": 3},
                        key=ledger.current["op.alpha"])
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert reasons(report, seq) == [
        f"key {ledger.current['op.alpha'][:16]} belongs to 'op.alpha', not to the actor "
        "'dept.transport'"
    ]


def test_statement_for_another_ledger_and_late_time_and_recorded_going_back() -> None:
    ledger = realistic()
    a = ledger.append("op.alpha", "contracts.request.filed", {"x": 4}, ledger="other.ledger")
    b = ledger.append("op.alpha", "contracts.request.filed", {"x": 5},
                      time="2027-01-01T00:00:00.000000Z")
    c = ledger.append("op.alpha", "contracts.request.filed", {"x": 6},
                      recorded="2026-11-22T08:00:00.000000Z")
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert reasons(report, a) == ["statement.ledger is 'other.ledger', not this ledger "
                                  "'shulian.test'"]
    assert reasons(report, b)[0].startswith("statement.time 2027-01-01T00:00:00.000000Z is more "
                                            "than 5 minutes after recorded")
    assert reasons(report, c)[0].startswith("recorded 2026-11-22T08:00:00.000000Z is earlier "
                                            "than the previous entry's")


def test_non_canonical_entry_line(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["entries"][3] = parts["entries"][3].replace(b'"v":1}', b'"v": 1}')
    report = verify_parts(parts)
    assert reasons(report, 3)[0] == ("the entry is not canonical JSON (RFC 8785): its bytes "
                                     "differ from its canonical form")


def test_entry_line_that_is_not_json(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["entries"][3] = b"{garbage"
    report = verify_parts(parts)
    assert reasons(report, 3)[0].startswith("the entry is not valid JSON")


def test_extra_entry_field(ledger: Ledger) -> None:
    parts = ledger.parts()
    edit_entry(parts, 6, lambda e: e.update(note="hi"))
    report = verify_parts(parts)
    assert reasons(report, 6)[0] == ("the entry does not have exactly the v1 fields "
                                     "(unexpected note)")


def test_partial_bundle_with_a_wrong_prefix(ledger: Ledger) -> None:
    parts = ledger.parts(13)
    parts["prefix"]["last"] = "cd" * 32
    report = verify_parts(parts)
    assert reasons(report, 13) == ["prev does not match the leaf hash of the previous entry "
                                   "(the prefix)"]
    parts = ledger.parts(13)
    parts["prefix"]["subtrees"][0] = "00" * 32
    report = verify_parts(parts)
    assert {f.checkpoint for f in report.failures} >= {18, 20, 23, 26}
    assert all("root" in f.reason or "consistent" in f.reason for f in report.failures)


def test_orphan_payload(ledger: Ledger) -> None:
    parts = ledger.parts(0, 11)
    parts["payloads"].append((20, {"n": 1}))
    report = verify_parts(parts)
    assert reasons(report, 20) == ["there is a payload for this seq but no entry"]


def test_bad_key_record_is_reported_and_left_out(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["keys"][1]["pem"] = parts["keys"][2]["pem"]
    report = verify_parts(parts)
    kid = parts["keys"][1]["key"]
    assert reasons(report)[0] == (f"key {kid[:16]}: the key id is not the SM3 of the pem's "
                                  "SubjectPublicKeyInfo")
    assert f"statement.key {kid[:16]} is not a known key of this ledger" in reasons(report, 3)


def test_every_failure_is_reported_not_only_the_first(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["payloads"] = [(seq, {"tampered": seq}) for seq, _ in parts["payloads"]]
    report = verify_parts(parts)
    assert [f.seq for f in report.failures] == sorted(set(range(26)) - ledger.withheld)

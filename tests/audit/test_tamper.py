"""Each kind of tampering with a bundle is caught at the right seq, with the right code and a
reason a person understands. (The single rules, accepted and refused by both the append path
and the verifier, are in tests/ledger/test_format_rules.py; these are what a bundle adds.)"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from audit.bundle import read_bundle
from audit.core import verify
from audit.view import Stored
from crypto.canonical import canonical, is_canonical
from tests.audit.builders import (
    Ledger,
    codes,
    found,
    ledger_time,
    realistic,
    reasons,
    replace_checkpoint,
    sm3_hex,
    to_bytes,
    verify_parts,
)

Parts = dict[str, Any]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return realistic()


def edit_entry(parts: Parts, seq: int, change: Callable[[dict[str, Any]], Any]) -> None:
    """Apply ``change`` to the parsed entry ``seq`` and write it back canonically."""
    index = seq - parts["prefix"]["size"]
    entry = json.loads(parts["entries"][index])
    change(entry)
    parts["entries"][index] = canonical(entry)


def edit_payload(parts: Parts, seq: int, change: Callable[[Stored], Stored | None]) -> None:
    """Replace (or, for None, leave out) the payload line of ``seq``."""
    lines = [(s, change(stored) if s == seq else stored) for s, stored in parts["payloads"]]
    parts["payloads"] = [(s, stored) for s, stored in lines if stored is not None]


def key_of(ledger: Ledger, owner: str, registered: int) -> str:
    return next(k.kid for k in ledger.keys.values()
                if k.owner == owner and k.registered == registered)


# --- payloads and salts ------------------------------------------------------------------------


def test_a_changed_payload_fails_its_commitment(ledger: Ledger) -> None:
    parts = ledger.parts()
    forged = {**ledger.payloads[5], "amount": "9999.00"}
    edit_payload(parts, 5, lambda stored: Stored(stored.salt, forged))
    report = verify_parts(parts)
    assert found(report) == [(5, "payload-commitment")]
    digest = sm3_hex(base64.b64decode(ledger.salts[5]) + canonical(forged))
    assert reasons(report, 5) == [
        f"statement.payload: is not SM3(salt || canonical payload): that is {digest[:16]}…, "
        f"the statement says {ledger.statements[5]['payload'][:16]}…"
    ]


@pytest.mark.parametrize(
    ("salt", "code", "words"),
    [
        (base64.b64encode(b"\x07" * 16).decode(), "payload-commitment", "is not SM3(salt"),
        (base64.b64encode(b"\x07" * 15).decode(), "payload-salt", "exactly 16 bytes"),
        ("not base64!", "payload-salt", "standard base64 with padding"),
    ],
    ids=["another salt", "a short salt", "not base64"],
)
def test_a_changed_salt_is_found_at_its_seq(ledger: Ledger, salt: str, code: str,
                                            words: str) -> None:
    parts = ledger.parts()
    edit_payload(parts, 5, lambda stored: Stored(salt, stored.payload))
    report = verify_parts(parts)
    assert found(report) == [(5, code)]
    assert words in reasons(report, 5)[0]


def test_a_payload_line_rewritten_with_other_key_order_and_white_space_verifies(
    ledger: Ledger,
) -> None:
    """The reader parses payload lines; the commitment is over the canonical payload, so a
    line with its keys (and its payload's keys) in another order still verifies."""
    with zipfile.ZipFile(io.BytesIO(to_bytes(ledger.parts()))) as zf:
        content = {name: zf.read(name) for name in zf.namelist()}
    lines = content["payloads.jsonl"].decode().splitlines()
    payload = ledger.payloads[4]
    assert lines[4] == canonical({"seq": 4, "salt": ledger.salts[4], "payload": payload}).decode()
    reordered = ", ".join(f'"{k}" :  {canonical(payload[k]).decode()}' for k in reversed(payload))
    lines[4] = ('{ "seq":4, "payload" : {  ' + reordered + ' } ,  "salt": "'
                + ledger.salts[4] + '" }')
    assert not is_canonical(lines[4].encode())
    content["payloads.jsonl"] = ("\n".join(lines) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    report = verify(read_bundle(out.getvalue()).view(), workers=1)
    assert report.failures == []


def test_every_failure_is_reported_not_only_the_first(ledger: Ledger) -> None:
    parts = ledger.parts()
    ordinary = {seq for seq, s in enumerate(ledger.statements)
                if not s["kind"].startswith("ledger.")}
    for seq in ordinary:
        edit_payload(parts, seq, lambda stored: Stored(stored.salt, {"tampered": True}))
    report = verify_parts(parts)
    expected = sorted(ordinary - ledger.withheld - set(ledger.erased))
    assert found(report) == [(seq, "payload-commitment") for seq in expected]


# --- statements and entries --------------------------------------------------------------------


def test_a_changed_statement_breaks_its_signature_the_chain_and_the_tree(ledger: Ledger) -> None:
    parts = ledger.parts()
    edit_entry(parts, 8, lambda e: e["statement"].update(subject="contracts/thing/forged"))
    report = verify_parts(parts)
    assert codes(report, 8) == ["signature"]
    assert reasons(report, 8) == [
        f"signature: does not verify over the canonical statement bytes with key "
        f"{ledger.statements[8]['key'][:16]}"
    ]
    assert reasons(report, 9) == ["prev does not match the leaf hash of the previous entry "
                                  "(seq 8)"]
    assert {f.seq for f in report.failures} == {8, 9, None}
    assert {f.checkpoint for f in report.failures if f.code == "checkpoint-root"} == {
        13, 19, 21, 26, 30}


def test_a_flipped_signature_byte(ledger: Ledger) -> None:
    def flip(entry: dict[str, Any]) -> None:
        sig = bytearray(base64.b64decode(entry["sig"]))
        sig[20] ^= 0x01
        entry["sig"] = base64.b64encode(bytes(sig)).decode()

    parts = ledger.parts()
    edit_entry(parts, 4, flip)
    report = verify_parts(parts)
    assert report.failures[0].seq == 4
    assert codes(report, 4) == ["signature"] and codes(report, 5) == ["prev"]


def test_a_changed_prev(ledger: Ledger) -> None:
    parts = ledger.parts()
    edit_entry(parts, 9, lambda e: e.update(prev="ab" * 32))
    report = verify_parts(parts)
    assert report.failures[0].seq == 9
    assert reasons(report, 9) == ["prev does not match the leaf hash of the previous entry "
                                  "(seq 8)"]


def delete_8(entries: list[bytes]) -> None:
    del entries[8]


def swap_14_15(entries: list[bytes]) -> None:
    entries[14], entries[15] = entries[15], entries[14]


def duplicate_10(entries: list[bytes]) -> None:
    entries.insert(11, entries[10])


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (delete_8, {9: [("seq", "seq 9 follows seq 7: entry 8 is missing"),
                        ("prev", "prev does not match the leaf hash of the previous entry "
                                 "(seq 7)")]}),
        (swap_14_15, {15: [("seq", "seq 15 follows seq 13: entry 14 is missing"),
                           ("prev", "prev does not match the leaf hash of the previous entry "
                                    "(seq 13)")],
                      14: [("seq", "seq 14 follows seq 15: out of order"),
                           ("prev", "prev does not match the leaf hash of the previous entry "
                                    "(seq 15)"),
                           ("recorded-order", "recorded 2026-11-22T08:00:15.000000Z is earlier "
                                              "than the previous entry's "
                                              "2026-11-22T08:00:16.000000Z (recorded must "
                                              "never decrease)")],
                      16: [("prev", "prev does not match the leaf hash of the previous entry "
                                    "(seq 14)")]}),
        (duplicate_10, {10: [("seq", "seq 10 follows seq 10: out of order"),
                             ("prev", "prev does not match the leaf hash of the previous entry "
                                      "(seq 10)")]}),
    ],
    ids=["deleted", "reordered", "duplicated"],
)
def test_an_entry_deleted_reordered_or_duplicated(
    ledger: Ledger, edit: Callable[[list[bytes]], None],
    expected: dict[int, list[tuple[str, str]]],
) -> None:
    parts = ledger.parts()
    edit(parts["entries"])
    report = verify_parts(parts)
    at_entries = {f.seq for f in report.failures if f.seq is not None and f.seq < 28}
    assert at_entries == set(expected)  # the chain resumes: no flood of later failures
    for seq, failures in expected.items():
        assert [(f.code, f.reason) for f in report.failures if f.seq == seq] == failures
    assert any(f.code == "checkpoint-root" for f in report.failures)


def test_recorded_going_back() -> None:
    ledger = realistic()
    seq = ledger.append("op.alpha", "contracts.request.filed", {"x": 6},
                        time="2026-11-22T08:00:00.000000Z",
                        recorded="2026-11-22T08:00:00.000000Z")
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert found(report) == [(seq, "recorded-order")]


def test_a_non_canonical_entry_line(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["entries"][4] = parts["entries"][4].replace(b',"v":2}', b', "v":2}')
    report = verify_parts(parts)
    assert reasons(report, 4) == ["the entry is not canonical JSON (RFC 8785): its bytes "
                                  "differ from its canonical form"]


def test_an_entry_line_that_is_not_json(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["entries"][4] = b"{garbage"
    report = verify_parts(parts)
    assert codes(report, 4) == ["entry"]
    assert reasons(report, 4)[0].startswith("the entry is not valid JSON")


def test_an_extra_entry_field(ledger: Ledger) -> None:
    parts = ledger.parts()
    edit_entry(parts, 6, lambda e: e.update(note="hi"))
    report = verify_parts(parts)
    assert reasons(report, 6)[0] == ("the entry does not have exactly the v2 fields "
                                     "(unexpected note)")


def test_a_partial_bundle_with_a_wrong_prefix(ledger: Ledger) -> None:
    parts = ledger.parts(13)
    parts["prefix"]["last"] = "cd" * 32
    report = verify_parts(parts)
    assert reasons(report, 13) == ["prev does not match the leaf hash of the previous entry "
                                   "(the prefix)"]
    parts = ledger.parts(13)
    parts["prefix"]["subtrees"][0] = "00" * 32
    report = verify_parts(parts)
    assert {f.checkpoint for f in report.failures} == {19, 21, 26, 30}
    assert {f.code for f in report.failures} <= {"checkpoint-root", "consistency"}


def test_an_orphan_payload(ledger: Ledger) -> None:
    parts = ledger.parts(0, 12)
    parts["payloads"].append((20, Stored(ledger.salts[20], ledger.payloads[20])))
    report = verify_parts(parts)
    assert found(report) == [(20, "entry")]
    assert reasons(report, 20) == ["there is a payload for this seq but no entry"]


# --- times -------------------------------------------------------------------------------------


def test_a_statement_backdated_into_an_expired_keys_validity() -> None:
    """The issue's case: the key's validity window cannot be reached by backdating, because
    time must lie within 5 minutes of recorded."""
    ledger = Ledger()
    until = ledger_time(ledger.clock + timedelta(minutes=2))
    ledger.add_key("op.gamma", valid_until=until)
    ledger.tick(15 * 60)
    inside = ledger_time(ledger.clock - timedelta(minutes=14))
    backdated = ledger.append("op.gamma", "contracts.request.filed", {"x": 1}, time=inside)
    honest = ledger.append("op.gamma", "contracts.request.filed", {"x": 2})
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert found(report) == [(backdated, "time-window"), (honest, "key-window")]
    assert "more than 5 minutes before the time the ledger records it" in \
        reasons(report, backdated)[0]


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (-timedelta(minutes=5), None),
        (-timedelta(minutes=5, microseconds=1), "time-window"),
        (timedelta(minutes=5), None),
        (timedelta(minutes=5, microseconds=1), "time-window"),
    ],
    ids=["5 min before", "just over 5 min before", "5 min after", "just over 5 min after"],
)
def test_the_time_window_is_five_minutes_both_ways_inclusive(offset: timedelta,
                                                             code: str | None) -> None:
    ledger = realistic()
    moment = ledger.clock + timedelta(seconds=1)  # what append's tick makes
    seq = ledger.append("op.alpha", "contracts.request.filed", {"x": 1},
                        time=ledger_time(moment + offset), recorded=ledger_time(moment))
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert found(report) == ([] if code is None else [(seq, code)])


def test_a_statement_dated_before_its_keys_revocation_but_appended_after() -> None:
    """Validity is by position: whatever statement.time says, an entry after the revocation
    cannot be signed by the revoked key."""
    ledger = realistic()
    old = key_of(ledger, "merchant.beta", 3)  # revoked by entry 20
    before = ledger_time(ledger.clock - timedelta(seconds=15))
    assert before < ledger.statements[20]["time"]
    seq = ledger.append("merchant.beta", "contracts.request.filed", {"x": 1}, key=old,
                        time=before)
    ledger.seal()
    report = verify_parts(ledger.parts())
    assert found(report) == [(seq, "key-ended")]
    assert reasons(report, seq) == [
        f"statement.key: key {old[:16]} was revoked at entry 20, so it cannot sign entry {seq}"
    ]


# --- the key registry in the chain, and keys.jsonl ------------------------------------------------


@pytest.fixture(scope="module")
def late() -> tuple[Ledger, int, str]:
    """The realistic ledger with one more entry, 30, signed by merchant.beta's key revoked by
    entry 20."""
    ledger = realistic()
    old = key_of(ledger, "merchant.beta", 3)
    seq = ledger.append("merchant.beta", "contracts.request.filed", {"late": 1}, key=old)
    ledger.seal()
    return ledger, seq, old


@pytest.mark.parametrize(("start", "how"), [(0, "revoked"), (14, "revoked"), (20, "revoked"),
                                            (21, "ended"), (29, "ended")])
def test_a_revoked_key_fails_key_ended_from_the_chain_or_from_keys_jsonl(
    late: tuple[Ledger, int, str], start: int, how: str,
) -> None:
    """A revocation inside the range comes from its entry (keys.jsonl says ended null, and
    cannot hide it); one before the range from keys.jsonl."""
    ledger, seq, old = late
    parts = ledger.parts(start)
    record = next((r for r in parts["keys"] if r["key"] == old), None)
    assert (record and record["ended"]) == (20 if start > 20 else None)
    report = verify_parts(parts)
    assert found(report) == [(seq, "key-ended")]
    assert f"was {how} at entry 20, so it cannot sign entry {seq}" in reasons(report, seq)[0]


def test_keys_jsonl_is_trusted_for_what_precedes_the_range(late: tuple[Ledger, int, str]) -> (
    None
):
    """Like prefix.json: an `ended` cleared in keys.jsonl makes the revoked key look live to a
    bundle that starts after the revocation; a bundle that holds the revocation still fails."""
    ledger, seq, old = late
    parts = ledger.parts(22)
    next(r for r in parts["keys"] if r["key"] == old)["ended"] = None
    assert verify_parts(parts).ok
    assert found(verify_parts(ledger.parts(20))) == [(seq, "key-ended")]


def edit_key(parts: Parts, kid: str, **fields: Any) -> None:
    next(r for r in parts["keys"] if r["key"] == kid).update(fields)


def test_an_edited_owner_in_keys_jsonl_fails_every_entry_the_key_signs(ledger: Ledger) -> None:
    kid = key_of(ledger, "dept.transport", 1)
    parts = ledger.parts(14)
    edit_key(parts, kid, participant="dept.other", name="dept.other")
    report = verify_parts(parts)
    signed = [seq for seq in range(14, 30) if ledger.statements[seq]["key"] == kid]
    assert signed == [14, 17, 23, 26]
    assert found(report) == [(seq, "key-owner") for seq in signed]


def test_an_edited_validity_in_keys_jsonl_fails_the_entries_after_it(ledger: Ledger) -> None:
    kid = key_of(ledger, "dept.transport", 1)
    parts = ledger.parts(14)
    edit_key(parts, kid, valid_until=ledger.statements[17]["time"])
    report = verify_parts(parts)
    assert found(report) == [(17, "key-window"), (23, "key-window"), (26, "key-window")]


ANOTHER_PEM: dict[str, Any] = {"pem": None}  # the pem of another key, filled in below


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (ANOTHER_PEM, "is not the SM3 of the pem's SubjectPublicKeyInfo (key)"),
        ({"registered": 14}, "must be a seq before 14 (registered)"),
        ({"ended": 1}, "must be null or a seq between registered and 14 (ended)"),
        ({"ended": 14}, "must be null or a seq between registered and 14 (ended)"),
        ({"use": "ledger"}, "a ledger key's owner and name are the origin (participant)"),
        ({"participant": "shulian.test"}, "only ledger keys belong to the origin"),
        ({"valid_until": "2026-11-22T07:00:00.000000Z"}, "must be after valid_from "
                                                         "(valid_until)"),
    ],
    ids=["pem of another key", "registered in the range", "ended where registered",
         "ended in the range", "ledger use", "owned by the origin", "valid_until first"],
)
def test_an_inconsistent_key_record_is_a_key_state_failure(
    ledger: Ledger, change: dict[str, Any], words: str,
) -> None:
    """The record is left out, so the entries its key signs fail key-unknown."""
    kid = key_of(ledger, "dept.transport", 1)
    parts = ledger.parts(14)
    if change is ANOTHER_PEM:
        change = {"pem": parts["keys"][2]["pem"]}
    edit_key(parts, kid, **change)
    report = verify_parts(parts)
    assert found(report)[0] == (None, "key-state")
    assert reasons(report)[0].startswith(f"keys.jsonl line 2: {words}")
    assert found(report)[1:] == [(seq, "key-unknown") for seq in (14, 17, 23, 26)]


def test_a_key_record_listed_twice_is_a_key_state_failure(ledger: Ledger) -> None:
    parts = ledger.parts(14)
    parts["keys"].append(dict(parts["keys"][1]))
    report = verify_parts(parts)
    kid = parts["keys"][1]["key"]
    assert found(report) == [(None, "key-state")]
    assert reasons(report) == [f"keys.jsonl line 6: key {kid[:16]} appears twice"]


def drop(stored: Stored) -> None:
    return None


def alter_registration(stored: Stored) -> Stored:
    return Stored(stored.salt, {**stored.payload, "valid_until": "2027-01-01T00:00:00.000000Z"})


@pytest.mark.parametrize(("change", "code"), [(drop, "payload-missing"),
                                              (alter_registration, "payload-commitment")],
                         ids=["left out", "altered"])
def test_a_key_registration_payload_left_out_or_altered_unregisters_the_key(
    ledger: Ledger, change: Callable[[Stored], Stored | None], code: str,
) -> None:
    """Entry 2 registers op.alpha's first key: without its payload no entry it signed
    verifies, nor the rotation at 13 that replaces it, nor what the successor signed."""
    parts = ledger.parts()
    edit_payload(parts, 2, change)
    report = verify_parts(parts)
    assert codes(report, 2) == [code]
    signed = [seq for seq, s in enumerate(ledger.statements) if s["actor"] == "op.alpha"]
    assert signed == [5, 8, 11, 15, 18, 24, 27]
    assert codes(report, 13) == ["key-replaces"]
    assert found(report) == sorted([(2, code), (13, "key-replaces")]
                                   + [(seq, "key-unknown") for seq in signed])


@pytest.mark.parametrize(("seq", "expected"), [
    (0, [(0, "trust-anchor"), (0, "payload-missing")]),
    (20, [(20, "payload-missing")]),
    (29, [(29, "payload-missing")]),
], ids=["the trust anchor's registration", "a revocation", "a redaction"])
def test_a_registry_or_redaction_payload_left_out_is_payload_missing(
    ledger: Ledger, seq: int, expected: list[tuple[int, str]],
) -> None:
    parts = ledger.parts()
    edit_payload(parts, seq, drop)
    report = verify_parts(parts)
    assert found(report)[:len(expected)] == expected
    assert "is never withheld or erased" in reasons(report, seq)[-1]
    if seq == 0:  # no ledger key: nothing the ledger signed verifies
        assert codes(report, 1) == ["key-unknown"]


def test_a_redacted_payload_exported_anyway(ledger: Ledger) -> None:
    for start in (0, 20):
        report = verify_parts(ledger.parts(start, keep_erased=True))
        assert found(report) == [(24, "redaction-ignored")]
        assert reasons(report, 24) == ["the payload of entry 24 was erased by entry 29, yet "
                                       "it is here"]


# --- checkpoints -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "signer", "problem"),
    [
        (22, "anchor", "(registered at entry 0, replaced at entry 21), which is not live for "
                       "entry 22"),
        (26, "anchor", "(registered at entry 0, replaced at entry 21), which is not live for "
                       "entry 26"),
        (21, "successor", "(registered at entry 21), which is not live for entry 21"),
        (21, "anchor", None),
        (22, "successor", None),
    ],
)
def test_a_checkpoint_is_signed_by_the_ledger_key_live_for_its_size(
    ledger: Ledger, size: int, signer: str, problem: str | None,
) -> None:
    kid = ledger.anchor.kid if signer == "anchor" else ledger.ledger_key
    parts = ledger.parts()
    text = ledger.note(size, key=kid)
    if size in (21, 26):
        replace_checkpoint(parts, text)
    else:
        parts["checkpoints"].append(text)
    report = verify_parts(parts)
    if problem is None:
        assert report.ok
        return
    assert found(report) == [(None, "checkpoint-signer")]
    assert reasons(report, checkpoint=size) == [
        f"checkpoint of size {size}: signed by ledger key {kid[:16]} {problem}"
    ]


def test_a_checkpoint_signed_by_a_revoked_ledger_key() -> None:
    ledger = Ledger()
    first = ledger.ledger_key
    second = ledger.add_key(ledger.origin, use="ledger")  # a second live ledger key
    ledger.add_key("op.alpha")
    ledger.append("op.alpha", "contracts.request.filed", {"x": 1})
    revoked = ledger.revoke(first)  # signed by the second key
    ledger.append("op.alpha", "contracts.request.filed", {"x": 2})
    ledger.seal(key=first)
    report = verify_parts(ledger.parts())
    assert found(report) == [(None, "checkpoint-signer")]
    assert reasons(report, checkpoint=6) == [
        f"checkpoint of size 6: signed by ledger key {first[:16]} (registered at entry 0, "
        f"revoked at entry {revoked}), which is not live for entry 6"
    ]
    ledger.checkpoints[-1] = ledger.note(6, key=second)
    assert verify_parts(ledger.parts()).ok


def test_a_checkpoint_signed_by_a_non_ledger_key(ledger: Ledger) -> None:
    parts = ledger.parts()
    merchant = ledger.current["merchant.beta"]
    replace_checkpoint(parts, ledger.note(30, key=merchant))
    report = verify_parts(parts)
    assert found(report) == [(None, "checkpoint-signer")]
    assert reasons(report, checkpoint=30) == [
        f"checkpoint of size 30: not signed by a ledger key of this ledger (key hint "
        f"{merchant[:8]})"
    ]


def test_a_checkpoint_whose_first_line_is_not_the_ledger(ledger: Ledger) -> None:
    parts = ledger.parts()
    text = parts["checkpoints"][0].replace(f"\u2014 {ledger.origin} ", "\u2014 someone.else ")
    parts["checkpoints"][0] = text
    report = verify_parts(parts)
    assert found(report) == [(None, "checkpoint-signer")]
    assert reasons(report, checkpoint=13) == [
        "checkpoint of size 13: the first signature line is by 'someone.else', not by the ledger"
    ]


def test_a_forged_checkpoint_root(ledger: Ledger) -> None:
    parts = ledger.parts()
    replace_checkpoint(parts, ledger.note(19, root=b"\x42" * 32, key=ledger.anchor.kid))
    report = verify_parts(parts)
    assert reasons(report, checkpoint=19)[0] == (
        f"checkpoint of size 19: root {'42' * 32} does not match the root recomputed from the "
        f"entries, {ledger.root(19).hex()}"
    )
    assert all(f.seq is None for f in report.failures)
    assert {f.code for f in report.failures} == {"checkpoint-root", "consistency"}


def test_a_fork_two_roots_for_one_size(ledger: Ledger) -> None:
    parts = ledger.parts()
    parts["checkpoints"].append(ledger.note(19, root=b"\x01" * 32, key=ledger.anchor.kid))
    report = verify_parts(parts)
    assert (None, "fork") in found(report)
    assert "2 checkpoints of size 19 have different roots (a fork)" in reasons(
        report, checkpoint=19)


def test_a_bad_witness_cosignature(ledger: Ledger) -> None:
    parts = ledger.parts()
    head, _, tail = parts["checkpoints"][-1].rpartition("\u2014 witness.finance ")
    blob = bytearray(base64.b64decode(tail.strip()))
    blob[-5] ^= 0xFF
    parts["checkpoints"][-1] = (head + "\u2014 witness.finance "
                                + base64.b64encode(bytes(blob)).decode() + "\n")
    report = verify_parts(parts)
    assert found(report) == [(None, "cosignature")]
    assert reasons(report, checkpoint=30) == [
        "checkpoint of size 30: the cosignature of witness 'witness.finance' does not verify"
    ]


def test_a_truncated_bundle(ledger: Ledger) -> None:
    parts = ledger.parts()
    del parts["entries"][-2:]
    report = verify_parts(parts)
    assert [f.code for f in report.failures if f.checkpoint == 30] == ["truncated"]
    assert reasons(report, checkpoint=30) == [
        "checkpoint of size 30 is beyond the last entry (seq 27): entries 28..29 are missing"
    ]
    assert (27, "uncovered") in found(report)
    assert reasons(report, 27) == ["no checkpoint covers the last entry (none has size 28)"]
    assert "the manifest says the bundle ends at seq 29, but its last entry is seq 27" in (
        reasons(report)
    )


def test_truncated_with_its_checkpoint_gone_is_still_caught(ledger: Ledger) -> None:
    assert verify_parts(ledger.parts(0, 25)).ok  # a consistent shorter bundle is valid ...
    parts = ledger.parts()
    del parts["entries"][-1]
    parts["checkpoints"] = parts["checkpoints"][:-1]  # ... but not one that lost its tail
    report = verify_parts(parts)
    assert codes(report, 28) == ["uncovered"]
    assert reasons(report, 28) == ["no checkpoint covers the last entry (none has size 29)"]

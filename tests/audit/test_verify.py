"""Bundles of correct ledgers verify: full, partial, in parallel, with witnesses."""

from __future__ import annotations

import io
import zipfile

import pytest

from audit.bundle import read_bundle
from audit.core import LedgerView, PayloadSource, Prefix, Witness, verify
from crypto.canonical import canonical
from crypto.sm2 import PrivateKey, PublicKey
from tests.audit.builders import Ledger, realistic, reasons, to_bytes, verify_parts


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return realistic()


def test_full_bundle_verifies(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts())
    assert report.failures == []
    assert report.to_json() == {
        "ok": True, "entries": 26, "checkpoints": 5, "failures": [], "from": 0, "to": 25,
        "root": ledger.root(26).hex(),
    }


def test_the_realistic_ledger_has_what_the_issue_asks_for(ledger: Ledger) -> None:
    uses = {record["use"] for record in ledger.keys}
    assert uses == {"ledger", "statement", "witness"}
    assert any(record["valid_until"] for record in ledger.keys)
    assert any(record["revoked_at"] for record in ledger.keys)
    assert ledger.withheld and len(ledger.checkpoints) >= 3


@pytest.mark.parametrize("start", [1, 12, 13, 16, 25])
def test_partial_bundle_verifies_from_its_prefix(ledger: Ledger, start: int) -> None:
    report = verify_parts(ledger.parts(start))
    assert report.failures == []
    assert (report.first, report.last, report.entries) == (start, 25, 26 - start)
    assert report.root == ledger.root(26).hex()


def test_partial_range_in_the_middle_verifies(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts(13, 22))
    assert report.failures == []
    assert report.checkpoints == 3  # sizes 18, 20, 23


def test_withheld_payloads_are_absent_and_fine(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts()))
    assert set(bundle.payloads) == set(range(26)) - ledger.withheld
    assert verify_parts(ledger.parts()).ok


def test_workers_give_the_same_report_as_one_process(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts(5)))
    one = verify(bundle.view(), workers=1)
    many = verify(bundle.view(), workers=2, chunk=4)
    assert one.to_json() == many.to_json()
    assert many.ok


def test_progress_is_reported_per_chunk(ledger: Ledger) -> None:
    seen: list[int] = []
    verify(read_bundle(to_bytes(ledger.parts())).view(), workers=1, chunk=10,
           progress=seen.append)
    assert seen == [10, 10, 6]


def test_payload_rewritten_with_other_key_order_and_white_space_verifies(
    ledger: Ledger,
) -> None:
    data = to_bytes(ledger.parts())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    lines = members["payloads.jsonl"].decode().splitlines()
    assert lines[4] == canonical({"seq": 4, "payload": ledger.payloads[4]}).decode()
    payload = ledger.payloads[4]
    reordered = ", ".join(f'"{k}" :  {canonical(payload[k]).decode()}' for k in reversed(payload))
    lines[4] = '{ "payload" : {  ' + reordered + ' } ,  "seq":4 }'
    members["payloads.jsonl"] = ("\n".join(lines) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    report = verify(read_bundle(out.getvalue()).view(), workers=1)
    assert report.failures == []


def test_witness_cosignatures_settle_checkpoints(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts()))
    report = verify(bundle.view(), workers=1, k=1)
    assert report.ok
    assert report.settled == {12: False, 18: False, 20: False, 23: True, 26: True}
    assert report.cosigned[26] == ["witness.finance"]
    assert verify(bundle.view(), workers=1, k=2).settled[26] is False


def test_given_witness_list_replaces_the_bundles(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts()))
    stranger = Witness("witness.other", PrivateKey.generate().public_key)
    report = verify(bundle.view(), workers=1, witnesses=[stranger], k=1)
    assert report.ok and report.settled[26] is False


def test_pinned_ledger_key_verifies(ledger: Ledger) -> None:
    pinned = PublicKey.from_pem(ledger.record(ledger.ledger_key)["pem"])
    assert verify_parts(ledger.parts(), ledger_key=pinned).ok


def test_wrong_pinned_ledger_key_fails_every_checkpoint(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts(), ledger_key=PrivateKey.generate().public_key)
    assert any("pinned ledger key" in reason for reason in reasons(report))
    for size in (12, 18, 20, 23, 26):
        assert any("not signed by the ledger key" in r for r in reasons(report, checkpoint=size))


class LazyPayloads:
    """A PayloadSource, as a database-backed view would provide."""

    def __init__(self, payloads: dict[int, object]) -> None:
        self.payloads = payloads
        self.calls: list[list[int]] = []

    def get_many(self, seqs: list[int]) -> dict[int, object]:
        self.calls.append(list(seqs))
        return {seq: self.payloads[seq] for seq in seqs if seq in self.payloads}


def test_view_from_a_generator_and_a_payload_source(ledger: Ledger) -> None:
    source = LazyPayloads(dict(ledger.payloads))
    assert isinstance(source, PayloadSource)
    view = LedgerView(
        origin=ledger.origin, prefix=Prefix(), entries=(line for line in ledger.entries),
        payloads=source, checkpoints=ledger.checkpoints, keys=ledger.keys,
    )
    report = verify(view, workers=1, chunk=8)
    assert report.ok and report.entries == 26
    assert source.calls == [list(range(0, 8)), list(range(8, 16)), list(range(16, 24)),
                            [24, 25]]

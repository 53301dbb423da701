"""Bundles of correct v2 ledgers verify: full, partial (key state from keys.jsonl), in
parallel, with witnesses live for each checkpoint, with the trust anchor pinned."""

from __future__ import annotations

from collections import Counter

import pytest

from audit.bundle import read_bundle
from audit.core import LedgerView, PayloadSource, Prefix, Witness, verify
from audit.view import Stored
from crypto.sm2 import PrivateKey
from tests.audit.builders import (
    Ledger,
    codes,
    found,
    realistic,
    reasons,
    replace_checkpoint,
    to_bytes,
    verify_parts,
)


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return realistic()


def test_full_bundle_verifies(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts())
    assert report.failures == []
    assert report.to_json() == {
        "ok": True, "entries": 30, "checkpoints": 5, "failures": [], "from": 0, "to": 29,
        "root": ledger.root(30).hex(), "uncovered": None, "redacted": {"24": 29},
        "erased_under": {"24": "PIPL art. 47"},
    }


def test_the_realistic_ledger_has_what_the_issue_asks_for(ledger: Ledger) -> None:
    kinds = Counter(s["kind"] for s in ledger.statements)
    assert kinds["ledger.key.revoked"] == 1 and kinds["ledger.payload.redacted"] == 1
    registrations = [ledger.payloads[seq] for seq, s in enumerate(ledger.statements)
                     if s["kind"] == "ledger.key.registered"]
    assert {r["use"] for r in registrations} == {"ledger", "statement", "witness"}
    rotated = {r["owner"] for r in registrations if r["replaces"]}
    assert rotated == {"op.alpha", ledger.origin}
    assert ledger.withheld and ledger.erased and len(ledger.checkpoints) == 5


@pytest.mark.parametrize("start", [1, 13, 14, 20, 21, 22, 25, 29])
def test_partial_bundle_verifies_from_its_prefix_and_key_records(ledger: Ledger,
                                                                 start: int) -> None:
    report = verify_parts(ledger.parts(start))
    assert report.failures == []
    assert (report.first, report.last, report.entries) == (start, 29, 30 - start)
    assert report.root == ledger.root(30).hex()


def test_partial_range_in_the_middle_verifies(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts(13, 25))
    assert report.failures == []
    assert report.checkpoints == 3  # sizes 19, 21, 26


def test_withheld_and_erased_payloads_are_absent_and_fine(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts()))
    assert set(bundle.payloads) == set(range(30)) - {7, 11, 25} - {24}
    report = verify_parts(ledger.parts())
    assert report.ok and report.redacted == {24: 29}


def test_workers_give_the_same_report_as_one_process(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts(5)))
    one = verify(bundle.view(), workers=1)
    many = verify(bundle.view(), workers=2, chunk=4)
    assert one.to_json() == many.to_json()
    assert many.ok


def test_workers_find_what_one_process_finds() -> None:
    """Key state crosses chunk boundaries: a key used after its revocation, seen by a worker."""
    ledger = realistic()
    late = ledger.append("merchant.beta", "contracts.request.filed", {"late": 1},
                         key=ledger.statements[6]["key"])  # revoked at 20
    ledger.seal()
    bundle = read_bundle(to_bytes(ledger.parts(3)))
    one = verify(bundle.view(), workers=1)
    many = verify(bundle.view(), workers=2, chunk=4)
    assert one.to_json() == many.to_json()
    assert codes(many, late) == ["key-ended"]


def test_progress_is_reported_per_chunk(ledger: Ledger) -> None:
    seen: list[int] = []
    verify(read_bundle(to_bytes(ledger.parts())).view(), workers=1, chunk=8,
           progress=seen.append)
    assert seen == [8, 8, 8, 6]


def test_witness_cosignatures_settle_checkpoints(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts()))
    report = verify(bundle.view(), workers=1, k=1)
    assert report.ok
    assert report.settled == {13: False, 19: False, 21: False, 26: True, 30: True}
    assert report.cosigned[30] == ["witness.finance"]
    assert verify(bundle.view(), workers=1, k=2).settled[30] is False


def test_a_cosignature_counts_only_from_the_witness_keys_registration(ledger: Ledger) -> None:
    """The witness key is registered by entry 22: not live for a checkpoint of size 21, so
    its cosignature there is ignored (neither counted nor a failure)."""
    witness = next(k.kid for k in ledger.keys.values() if k.use == "witness")
    parts = ledger.parts()
    replace_checkpoint(parts, ledger.note(21, key=ledger.anchor.kid, witnesses=(witness,)))
    report = verify_parts(parts, k=1)
    assert report.ok
    assert report.settled[21] is False and report.cosigned[21] == []


def test_a_revoked_witness_no_longer_settles() -> None:
    ledger = realistic()
    witness = next(k.kid for k in ledger.keys.values() if k.use == "witness")
    ledger.revoke(witness)
    ledger.append("op.alpha", "contracts.request.filed", {"after": 1})
    ledger.seal(witnesses=(witness,))
    report = verify_parts(ledger.parts(), k=1)
    assert report.ok
    assert report.settled[30] is True and report.settled[32] is False


def test_given_witness_list_replaces_the_chains(ledger: Ledger) -> None:
    bundle = read_bundle(to_bytes(ledger.parts()))
    stranger = Witness("witness.other", PrivateKey.generate().public_key)
    report = verify(bundle.view(), workers=1, witnesses=[stranger], k=1)
    assert report.ok and report.settled[30] is False


@pytest.mark.parametrize("start", [0, 22])
def test_the_pinned_trust_anchor_is_the_key_entry_0_registers(ledger: Ledger,
                                                              start: int) -> None:
    anchor = ledger.anchor
    assert anchor.kid != ledger.ledger_key  # rotated at 21: the anchor stays entry 0's key
    assert verify_parts(ledger.parts(start), ledger_key=anchor.private.public_key).ok
    assert verify_parts(ledger.parts(start), ledger_key=anchor.kid).ok


def test_pinning_the_current_ledger_key_instead_fails_at_entry_0(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts(), ledger_key=ledger.ledger_key)
    assert found(report) == [(0, "trust-anchor")]
    assert reasons(report, 0) == [
        f"entry 0 registers ledger key {ledger.anchor.kid[:16]}, not the pinned trust anchor "
        f"{ledger.ledger_key[:16]}"
    ]


def test_a_wrong_pinned_key_is_the_one_failure(ledger: Ledger) -> None:
    report = verify_parts(ledger.parts(13), ledger_key=PrivateKey.generate().public_key)
    assert found(report) == [(0, "trust-anchor")]


class LazyPayloads:
    """A PayloadSource, as a database-backed view would provide."""

    def __init__(self, payloads: dict[int, Stored]) -> None:
        self.payloads = payloads
        self.calls: list[list[int]] = []

    def get_many(self, seqs: list[int]) -> dict[int, Stored]:
        self.calls.append(list(seqs))
        return {seq: self.payloads[seq] for seq in seqs if seq in self.payloads}


def stored(ledger: Ledger) -> dict[int, Stored]:
    left_out = ledger.withheld | set(ledger.erased)
    return {seq: Stored(ledger.salts[seq], payload) for seq, payload in ledger.payloads.items()
            if seq not in left_out}


def test_view_from_a_generator_and_a_payload_source(ledger: Ledger) -> None:
    source = LazyPayloads(stored(ledger))
    assert isinstance(source, PayloadSource)
    view = LedgerView(
        origin=ledger.origin, prefix=Prefix(), entries=(line for line in ledger.entries),
        payloads=source, checkpoints=ledger.checkpoints,
    )
    report = verify(view, workers=1, chunk=8)
    assert report.ok and report.entries == 30 and report.redacted == {24: 29}
    assert source.calls[:4] == [list(range(0, 8)), list(range(8, 16)), list(range(16, 24)),
                                list(range(24, 30))]
    assert source.calls[4:] == [[24]]  # the erased payload must be gone


def test_entries_no_checkpoint_covers_yet_are_uncovered_not_a_failure_of_a_live_ledger() -> (
    None
):
    ledger = realistic()
    ledger.append("op.alpha", "contracts.request.filed", {"newest": 1})
    ledger.append("op.alpha", "contracts.request.filed", {"newest": 2})
    live = LedgerView(origin=ledger.origin, prefix=Prefix(), entries=ledger.entries,
                      payloads=stored(ledger), checkpoints=ledger.checkpoints, sealed=False)
    report = verify(live, workers=1)
    assert report.ok and report.uncovered == (30, 31)
    assert report.to_json()["uncovered"] == [30, 31]
    bundle = verify_parts(ledger.parts())  # a bundle must be sealed to its last entry
    assert found(bundle) == [(31, "uncovered")]

"""The witness's rules, in-process (no HTTP, no Django): what it cosigns, what it refuses
with which status, and the split-view evidence it keeps; which ledger keys it trusts across
a rotation; and, on the auditor's side, whose cosignatures settle a checkpoint (a witness
key counts only for the checkpoint sizes it is live for)."""

from __future__ import annotations

import hashlib

import pytest

from audit.witness import verify as wverify
from audit.witness.server import Witness
from audit.witness.state import State, StateError
from crypto.sm2 import PrivateKey
from ledger.protocol import note as notes
from ledger.protocol import witness as protocol
from ledger.protocol.checkpoints import Witness as TrustedWitness
from ledger.protocol.merkle import MemoryStore, SubtreeTree
from tests.audit.builders import Ledger, verify_parts

ORIGIN = "shulian.test/ledger"


class Log:
    """A ledger in memory: leaves, a tree, and checkpoints signed by its key."""

    def __init__(self, key: PrivateKey | None = None) -> None:
        self.key = key or PrivateKey.generate()
        self.store = MemoryStore()

    def grow(self, count: int, tag: bytes = b"") -> None:
        for _ in range(count):
            n = self.store.size()
            self.store.add(hashlib.new("sm3", b"\x00" + tag + str(n).encode()).digest())

    def root(self, size: int) -> bytes:
        return SubtreeTree(self.store).root(size)

    def proof(self, old: int, new: int) -> list[bytes]:
        return SubtreeTree(self.store).consistency_path(old, new) if 0 < old < new else []

    def note(self, size: int | None = None, root: bytes | None = None,
             key: PrivateKey | None = None) -> str:
        size = self.store.size() if size is None else size
        root = self.root(size) if root is None else root
        sig = notes.sign(ORIGIN, size, root, ORIGIN, key or self.key)
        return notes.Checkpoint(ORIGIN, size, root, (sig,)).text()

    def request(self, old: int, size: int | None = None, **kwargs: object) -> bytes:
        size = self.store.size() if size is None else size
        return protocol.encode_request(old, self.proof(old, size), self.note(size, **kwargs))


@pytest.fixture
def log() -> Log:
    return Log()


@pytest.fixture
def witness(tmp_path, log) -> Witness:
    state = State(tmp_path / "state", writer=True)
    yield Witness(state, name="dept-a", key=PrivateKey.generate(), origin=ORIGIN,
                  ledger_keys=[log.key.public_key], clock=lambda: 1_800_000_000)
    state.close()


def cosignature(witness: Witness, response_body: bytes, note_text: str) -> notes.Signature:
    (sig,) = protocol.parse_cosignatures(response_body)
    assert sig.name == "dept-a"
    body = notes.parse(note_text).body
    assert notes.verify_cosignature(body, sig, witness.key.public_key)
    return sig


def test_first_checkpoint_is_cosigned_then_only_extensions(witness, log):
    log.grow(5)
    first = witness.add_checkpoint(log.request(0))
    assert first.status == 200
    sig = cosignature(witness, first.body, log.note())
    assert notes.cosignature_time(sig) == 1_800_000_000
    log.grow(6)
    second = witness.add_checkpoint(log.request(5))
    assert second.status == 200
    cosignature(witness, second.body, log.note())
    assert witness.state.latest().size == 11
    assert witness.state.count_evidence() == 0


def test_same_checkpoint_is_cosigned_again(witness, log):
    log.grow(4)
    assert witness.add_checkpoint(log.request(0)).status == 200
    again = witness.add_checkpoint(log.request(4))
    assert again.status == 200
    assert witness.state.count_cosigned() == 1


def test_wrong_old_size_gets_409_with_the_witness_size(witness, log):
    log.grow(3)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(3)
    for wrong in (0, 2):
        response = witness.add_checkpoint(log.request(wrong))
        assert response.status == 409
        assert response.content_type == protocol.SIZE_CONTENT_TYPE
        assert protocol.parse_size(response.body) == 3
    assert witness.add_checkpoint(log.request(3)).status == 200


def test_refusals_name_their_cause(witness, log):
    log.grow(4)
    cases = {
        b"no blank line": 400,
        protocol.encode_request(5, [], log.note()): 400,  # old > size
    }
    for body, status in cases.items():
        response = witness.add_checkpoint(body)
        assert response.status == status, response.body
    forged = log.request(0, key=PrivateKey.generate())
    response = witness.add_checkpoint(forged)
    assert response.status == 403
    assert b"ledger's key" in response.body
    other = Log()
    other.grow(2)
    text = log.note().replace(ORIGIN, "other.example/log")
    response = witness.add_checkpoint(protocol.encode_request(0, [], text))
    assert response.status == 404
    assert witness.add_checkpoint(
        protocol.encode_request(0, [bytes(32)], log.note())
    ).status == 422  # a proof is not allowed from size 0
    assert witness.state.latest() is None
    assert witness.state.count_evidence() == 0


def test_unknown_origin_is_404(tmp_path, log):
    state = State(tmp_path / "other", writer=True)
    try:
        other = Witness(state, name="dept-b", key=PrivateKey.generate(),
                        origin="other.example/log", ledger_keys=[log.key.public_key])
        log.grow(2)
        response = other.add_checkpoint(log.request(0))
        assert response.status == 404
        assert b"unknown log" in response.body
    finally:
        state.close()


def test_fork_at_a_cosigned_size_is_refused_and_kept_as_evidence(witness, log):
    log.grow(8)
    good = log.note()
    assert witness.add_checkpoint(protocol.encode_request(0, [], good)).status == 200
    evil_root = hashlib.new("sm3", b"another history").digest()
    evil = log.note(8, evil_root)
    for _ in range(2):  # the same fork presented twice is kept once
        response = witness.add_checkpoint(protocol.encode_request(8, [], evil))
        assert response.status == 409
        assert response.content_type.startswith("text/plain")
        assert response.body.startswith(b"split view")
    (item,) = witness.state.evidence()
    assert item.kind == "fork"
    assert (item.size, item.root) == (8, evil_root)
    assert item.cosigned_note == good and item.presented_note == evil
    assert witness.state.latest().root == log.root(8)
    record = item.to_json()
    assert wverify.check_evidence(record, [log.key.public_key]) == []
    assert wverify.check_evidence(record, [PrivateKey.generate().public_key])


def test_fork_below_the_latest_size_is_evidence_too(witness, log):
    log.grow(4)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(4)
    assert witness.add_checkpoint(log.request(4)).status == 200
    evil = log.note(4, bytes(32))
    response = witness.add_checkpoint(protocol.encode_request(4, [], evil))
    assert response.status == 409 and response.body.startswith(b"split view")
    assert [e.cosigned_size for e in witness.state.evidence()] == [4]


def test_a_history_that_does_not_extend_is_refused_but_proves_nothing(witness, log):
    """The witness cannot tell a rewritten history from a made-up proof: it refuses, keeps
    no evidence, and its state does not move."""
    log.grow(6)
    assert witness.add_checkpoint(log.request(0)).status == 200
    rewritten = Log(log.key)  # the same ledger key, another history
    rewritten.grow(6, tag=b"rewritten")
    rewritten.grow(4)
    response = witness.add_checkpoint(rewritten.request(6))
    assert response.status == 422
    assert b"does not verify" in response.body and not response.body.startswith(b"split view")
    assert witness.state.evidence() == []
    assert witness.state.latest().size == 6
    log.grow(4)
    assert witness.add_checkpoint(log.request(6)).status == 200  # the true history goes on


def test_a_genuine_checkpoint_with_a_made_up_proof_is_refused_and_not_kept(witness, log):
    """What anyone may post, unauthenticated: a checkpoint the ledger really signed, with a
    proof of their own making."""
    log.grow(4)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(4)
    made_up = [hashlib.new("sm3", bytes([n])).digest() for n in range(3)]
    response = witness.add_checkpoint(protocol.encode_request(4, made_up, log.note()))
    assert response.status == 422 and not response.body.startswith(b"split view")
    assert witness.state.count_evidence() == 0
    assert witness.add_checkpoint(log.request(4)).status == 200  # the true proof still works


def test_a_record_made_from_a_failed_proof_is_no_evidence(witness, log):
    """An ``inconsistent`` record (as earlier versions kept) proves nothing."""
    log.grow(4)
    assert witness.add_checkpoint(log.request(0)).status == 200
    cosigned = log.note()
    log.grow(4)
    record = {"kind": "inconsistent", "proof": [],
              "cosigned": {"note": cosigned}, "presented": {"note": log.note()}}
    problems = wverify.check_evidence(record, [log.key.public_key])
    assert problems and "no evidence" in problems[0]


def test_a_garbled_proof_is_refused_and_not_kept(witness, log):
    log.grow(5)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(5)
    proof = log.proof(5, 10)
    proof[0] = bytes(32)
    response = witness.add_checkpoint(protocol.encode_request(5, proof, log.note()))
    assert response.status == 422
    assert witness.state.evidence() == []


def test_state_survives_a_restart_and_is_locked_while_served(tmp_path, log):
    key = PrivateKey.generate()
    state = State(tmp_path / "s", writer=True)
    witness = Witness(state, name="w", key=key, origin=ORIGIN, ledger_keys=[log.key.public_key])
    log.grow(3)
    assert witness.add_checkpoint(log.request(0)).status == 200
    with pytest.raises(StateError, match="another witness process"):
        State(tmp_path / "s", writer=True)
    reader = State(tmp_path / "s")
    assert reader.status()["size"] == 3
    reader.close()
    state.close()
    state = State(tmp_path / "s", writer=True)
    try:
        with pytest.raises(StateError, match="belongs to the ledger"):
            Witness(state, name="w", key=key, origin="other.example/log",
                    ledger_keys=[log.key.public_key])
        witness = Witness(state, name="w", key=key, origin=ORIGIN,
                          ledger_keys=[log.key.public_key])
        log.grow(2)
        assert witness.add_checkpoint(log.request(0)).status == 409
        assert witness.add_checkpoint(log.request(3)).status == 200
    finally:
        state.close()


def test_settlement_counts_known_witnesses_and_flags_forgeries(log):
    log.grow(3)
    checkpoint = notes.parse(log.note())
    keys = {name: PrivateKey.generate() for name in ("a", "b", "c")}

    class W:
        def __init__(self, name: str, key: PrivateKey) -> None:
            self.name, self.key = name, key.public_key

    known = [W(name, key) for name, key in keys.items()]
    lines = [notes.cosign(checkpoint.body, name, key, 1) for name, key in keys.items()]
    stranger = notes.cosign(checkpoint.body, "z", PrivateKey.generate(), 1)
    cosigned = notes.Checkpoint(checkpoint.origin, 3, checkpoint.root,
                                checkpoint.signatures + (lines[0], lines[1], stranger))
    assert wverify.settlement(cosigned, known, 2) == (True, [])
    assert wverify.settlement(cosigned, known, 3) == (False, [])
    forged = notes.Signature("c", lines[2].blob[:12] + lines[0].blob[12:])
    bad = notes.Checkpoint(checkpoint.origin, 3, checkpoint.root,
                           checkpoint.signatures + (lines[0], forged))
    settled, problems = wverify.settlement(bad, known, 2)
    assert not settled
    assert problems == ["the cosignature of witness 'c' does not verify"]


# --- a rotation of the ledger key ----------------------------------------------------------


def test_a_successor_ledger_key_is_trusted_only_once_the_witness_is_given_it(tmp_path, log):
    successor = PrivateKey.generate()
    log.grow(4)
    state = State(tmp_path / "s", writer=True)
    witness = Witness(state, name="dept-a", key=PrivateKey.generate(), origin=ORIGIN,
                      ledger_keys=[log.key.public_key])
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.grow(3)
    refused = witness.add_checkpoint(log.request(4, key=successor))
    assert refused.status == 403 and b"ledger's key" in refused.body
    assert witness.state.latest().size == 4
    assert witness.state.count_evidence() == 0  # a key it does not know is no split view
    state.close()

    state = State(tmp_path / "s", writer=True)  # restarted with both keys
    try:
        witness = Witness(state, name="dept-a", key=witness.key, origin=ORIGIN,
                          ledger_keys=[log.key.public_key, successor.public_key])
        assert state.status()["ledger_keys"] == [log.key.public_key.key_id,
                                                 successor.public_key.key_id]
        response = witness.add_checkpoint(log.request(4, key=successor))
        assert response.status == 200
        cosignature(witness, response.body, log.note(key=successor))
        assert witness.add_checkpoint(log.request(7)).status == 200  # the old key still
    finally:
        state.close()


# --- whose cosignatures count: witness keys live for a size ----------------------------------


def test_a_cosignature_counts_only_for_the_sizes_its_key_is_live_for():
    ledger = Ledger()  # seq 0 registers the ledger key
    ledger.add_key("dept.a")  # 1
    early = ledger.add_witness("witness-a")  # 2
    for number in range(2):  # 3, 4
        ledger.append("dept.a", "tests.thing.done", {"n": number})
    old = ledger.add_witness("witness-b")  # 5
    successor = ledger.add_key("dept.finance", use="witness", name="witness-b",
                               replaces=old)  # 6
    assert ledger.revoke(early) == 7
    ledger.append("dept.a", "tests.thing.done", {"n": 2})  # 8
    everyone = (early, old, successor)
    cosigned_by = {2: (early,), 3: (early,), 6: (early, old), 7: (early, old),
                   8: (early, successor), 9: (successor,)}
    for size, keys in cosigned_by.items():
        ledger.checkpoints.append(ledger.note(size, witnesses=keys))
    live = {
        2: [],  # witness-a's key is registered by entry 2 itself, not within the tree
        3: ["witness-a"],
        6: ["witness-a", "witness-b"],  # the old witness-b key is replaced by entry 6
        7: ["witness-a"],  # so not live for 7; witness-a's, revoked by entry 7, still is
        8: ["witness-b"],  # the successor; witness-a's key no longer
        9: ["witness-b"],
    }
    report = verify_parts(ledger.parts(), k=1)
    assert report.ok, report.failures  # lines of keys not live are ignored, not failures
    assert report.cosigned == live
    assert report.settled == {2: False, 3: True, 6: True, 7: True, 8: True, 9: True}
    assert verify_parts(ledger.parts(), k=2).settled == {
        2: False, 3: False, 6: True, 7: False, 8: False, 9: False}

    # An auditor's own list of trusted witnesses narrows that down, and no further.
    trusted = [TrustedWitness(ledger.keys[kid].name, ledger.keys[kid].private.public_key)
               for kid in everyone]
    assert verify_parts(ledger.parts(), k=1, witnesses=trusted).cosigned == live
    only_b = verify_parts(ledger.parts(), k=1, witnesses=trusted[1:])
    assert only_b.cosigned == {size: [n for n in names if n == "witness-b"]
                               for size, names in live.items()}

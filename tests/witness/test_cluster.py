"""Real witness processes on loopback, k = 2, and the ledger collecting their cosignatures:
growth settles, one witness down still settles, two down leaves checkpoints unsettled (and
alerts) until they come back; a rewritten history is refused by every witness, kept as
evidence, and flagged by the offline verifier. A witness key counts only for the checkpoints
it is live for; after a rotation of the ledger key the witnesses that trust the successor
go on cosigning; and a ledger that lost its newest entries is told apart, by the witnesses'
own status, from one that has not sealed them yet."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from audit import services as audit
from audit.bundle import read_bundle, verify_bundle
from audit.report import Report
from audit.witness import verify as wverify
from crypto.canonical import canonical
from crypto.sm2 import PublicKey
from crypto.sm3 import sm3
from ledger import keyring, selectors, services, witnesses
from ledger.models import (
    Checkpoint,
    Cosignature,
    Entry,
    LedgerKey,
    MerkleNode,
    Payload,
    WitnessEvidence,
)
from ledger.protocol import note
from ledger.protocol import witness as protocol
from ledger.protocol.format import entry_bytes_fast, leaf_hash, parse_time, statement_bytes
from ledger.protocol.merkle import MemoryStore
from tests.witness.conftest import REPO, Cluster, WitnessProcess

NAMES = ["witness-gov-health", "witness-gov-stats", "witness-gov-transport"]


@pytest.mark.django_db
def test_no_witnesses_are_configured_by_default():
    from django.conf import settings

    assert (settings.SHULIAN_WITNESSES, settings.SHULIAN_WITNESS_K) == ([], None)
    assert selectors.witness_k() == 0
    assert witnesses.collect().to_json()["cosigned"] == {}


def grow(count: int, tag: str = "x") -> None:
    if not LedgerKey.objects.filter(owner="alice").exists():
        services.issue_custodial_key(owner="alice")
    for i in range(count):
        with transaction.atomic():
            services.record(actor="alice", kind="tests.thing.done", subject=f"tests/{tag}/{i}",
                            payload={"i": i, "tag": tag})


def seal() -> Checkpoint:
    checkpoint = services.seal_checkpoint()  # its commit schedules the collection (eager)
    assert checkpoint is not None
    return checkpoint


def cosigners(size: int) -> list[str]:
    return selectors.cosigners(Checkpoint.objects.get(size=size))


# --- auditors' tools ---------------------------------------------------------------------------


def export_bundle(path: Path, extra_notes: tuple[str, ...] = ()) -> Path:
    """The ledger's own export of the whole ledger (served notes included), with
    ``extra_notes`` added to checkpoints.jsonl as an auditor would add a witness's note."""
    audit.export_bundle(path)
    if extra_notes:
        with zipfile.ZipFile(path) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        members["checkpoints.jsonl"] += b"".join(canonical({"note": text}) + b"\n"
                                                 for text in extra_notes)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, content in members.items():
                zf.writestr(name, content)
    return path


def offline_verify(bundle: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "audit.offline", "verify", str(bundle), "--json",
         "--workers", "1", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def verified(bundle: Path, k: int = 2) -> Report:
    """The verifier's report on ``bundle`` (in-process, witnesses from the bundle itself)."""
    return verify_bundle(read_bundle(bundle), k=k, workers=1)


def openssl_verify_cosignature(tmp: Path, pub_pem: str, line: str, body: bytes,
                               tamper: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Check one cosignature line with nothing but the documented bytes and openssl."""
    blob = base64.b64decode(line.split(" ")[2])
    timestamp = int.from_bytes(blob[4:12], "big")
    message = f"cosignature/v1\ntime {timestamp + tamper}\n".encode() + body
    (tmp / "witness.pub").write_text(pub_pem)
    (tmp / "msg").write_bytes(message)
    (tmp / "sig.der").write_bytes(blob[12:])
    return subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "witness.pub"),
         "-in", str(tmp / "msg"), "-sigfile", str(tmp / "sig.der"), "-rawin",
         "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"],
        capture_output=True, check=False,
    )


# --- growth and outages ------------------------------------------------------------------------


def test_normal_growth_settles_every_checkpoint(cluster: Cluster, tmp_path):
    sizes = []
    for round_ in range(3):
        grow(5, tag=f"r{round_}")
        sizes.append(seal().size)
    for size in sizes:
        assert cosigners(size) == NAMES
        assert selectors.is_settled(Checkpoint.objects.get(size=size))
    assert not selectors.unsettled_checkpoints(older_than=0).exists()

    latest = selectors.latest_checkpoint()
    served = note.parse(selectors.checkpoint_note(latest))
    assert served.signatures[0].name == services.origin()
    assert [sig.name for sig in served.signatures[1:]] == NAMES
    assert selectors.checkpoint_note(latest).startswith(latest.note)
    for proc in cluster.witnesses:
        status = json.loads(subprocess.run(
            [sys.executable, "-m", "audit.witness", "status", "--state", str(proc.state),
             "--json"], cwd=REPO, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)}).stdout)
        assert (status["size"], status["root"], status["evidence"]) == (
            latest.size, latest.root, 0)

    with override_settings(SHULIAN_CHECKPOINT_EVERY=4):  # the embedded every-N seal
        grow(8, tag="embedded")
    automatic = selectors.latest_checkpoint()
    assert automatic.size > latest.size
    assert cosigners(automatic.size) == NAMES
    sizes = [c.size for c in selectors.checkpoints()]

    code, report = offline_verify(export_bundle(tmp_path / "ok.zip"), "--k", "3")
    assert code == 0, report["failures"]
    assert report["settled"] == {str(size): True for size in sizes}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
def test_cosignatures_verify_with_the_openssl_cli(cluster: Cluster, tmp_path):
    grow(3)
    checkpoint = seal()
    body = note.parse(checkpoint.note).body
    rows = {row.witness: row for row in Cosignature.objects.filter(checkpoint=checkpoint)}
    assert sorted(rows) == NAMES
    for proc in cluster.witnesses:
        row = rows[proc.name]
        blob = base64.b64decode(row.line.split(" ")[2])
        assert blob[:4] == bytes.fromhex(proc.key.public_key.key_id)[:4]
        assert int.from_bytes(blob[4:12], "big") == row.timestamp
        good = openssl_verify_cosignature(tmp_path, proc.key.public_key.pem, row.line, body)
        assert good.returncode == 0, good.stderr
        assert b"Signature Verified Successfully" in good.stdout
        bad = openssl_verify_cosignature(tmp_path, proc.key.public_key.pem, row.line, body,
                                         tamper=True)
        assert bad.returncode != 0


def test_one_witness_down_still_settles_and_it_catches_up(cluster: Cluster):
    grow(4)
    first = seal()
    cluster[0].kill()
    grow(4, tag="while-down")
    second = seal()
    assert cosigners(second.size) == [n for n in NAMES if n != cluster[0].name]
    assert selectors.is_settled(second)

    cluster.restart(0)
    grow(2, tag="after")
    third = seal()  # the restarted witness is still in back-off for the automatic run
    outcome = witnesses.collect(force=True)
    assert cluster[0].name in outcome.cosigned.get(third.size, [])
    assert cosigners(third.size) == NAMES
    assert cluster[0].name not in cosigners(second.size)  # settled without it, skipped
    assert cosigners(first.size) == NAMES


def test_two_witnesses_down_leave_checkpoints_unsettled_until_they_return(cluster: Cluster):
    grow(4)
    settled = seal()
    cluster[0].kill()
    cluster[1].kill()
    grow(3, tag="a")
    second = seal()
    grow(3, tag="b")  # appends go on while the witnesses are away
    third = seal()
    assert cosigners(second.size) == cosigners(third.size) == [cluster[2].name]

    unsettled = selectors.unsettled_checkpoints(older_than=0)
    assert [c.size for c in unsettled] == [second.size, third.size]
    assert not selectors.unsettled_checkpoints().exists()  # not yet older than the threshold
    out = StringIO()
    call_command("collect_cosignatures", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert sorted(report["unreachable"]) == sorted([cluster[0].name, cluster[1].name])
    assert report["unsettled"] == [second.size, third.size]

    cluster.restart(0, 1)
    out = StringIO()
    call_command("collect_cosignatures", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["unreachable"] == [] and report["unsettled"] == []
    for checkpoint in (settled, second, third):
        assert selectors.is_settled(checkpoint)
    assert cosigners(third.size) == NAMES  # each returning witness caught up to the newest
    assert len(cosigners(second.size)) >= 2
    assert not selectors.unsettled_checkpoints(older_than=0).exists()


# --- witness keys live for a size ----------------------------------------------------------------


def cosign_directly(proc: WitnessProcess, checkpoint: Checkpoint, old: int) -> note.Signature:
    """Ask a running witness for its cosignature over HTTP, as any client may."""
    proof = selectors.consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size \
        else []
    request = urllib.request.Request(
        proc.url + protocol.PATH, data=protocol.encode_request(old, proof, checkpoint.note),
        method="POST", headers={"Content-Type": protocol.TEXT_CONTENT_TYPE})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        (line,) = protocol.parse_cosignatures(response.read())
    return line


def test_a_witness_registered_after_a_checkpoint_does_not_settle_it(cluster: Cluster,
                                                                    tmp_path):
    grow(4)
    cluster[0].kill()
    cluster[1].kill()
    lonely = seal()
    assert cosigners(lonely.size) == [cluster[2].name]
    late = cluster.join("gov-finance")  # registered by an entry after the checkpoint
    assert LedgerKey.objects.get(key_id=late.key.public_key.key_id).registered_seq >= \
        lonely.size
    with override_settings(SHULIAN_WITNESSES=cluster.setting()):
        witnesses.collect(force=True)
        assert cosigners(lonely.size) == [cluster[2].name]  # the late key does not count
        assert not selectors.is_settled(lonely)
        assert late.name not in selectors.checkpoint_note(lonely)
        assert [c.size for c in selectors.unsettled_checkpoints(older_than=0)] == [lonely.size]

        # The late witness, asked directly, cosigns the old checkpoint (it is consistent) ...
        line = cosign_directly(late, lonely, old=0)
        assert note.verify_cosignature(note.parse(lonely.note).body, line,
                                       late.key.public_key)
        grow(2, tag="later")
        later = seal()  # ... and the ledger's next run goes on from there
        assert cosigners(later.size) == sorted([cluster[2].name, late.name])
        assert selectors.is_settled(later)
        assert late.status()["size"] == later.size

    report = verified(export_bundle(tmp_path / "late.zip"))
    assert report.ok, report.failures
    assert report.cosigned == {lonely.size: [cluster[2].name],
                               later.size: sorted([cluster[2].name, late.name])}
    assert report.settled == {lonely.size: False, later.size: True}
    # ... but its cosignature of the old checkpoint, added to the bundle, does not settle it
    report = verified(export_bundle(tmp_path / "added.zip",
                                    extra_notes=(selectors.checkpoint_note(lonely)
                                                 + line.line() + "\n",)))
    assert report.ok, report.failures
    assert report.cosigned[lonely.size] == [cluster[2].name]
    assert report.settled[lonely.size] is False


def test_a_witness_key_revoked_before_a_checkpoint_does_not_settle_it(cluster: Cluster,
                                                                      tmp_path):
    grow(3)
    first = seal()
    assert cosigners(first.size) == NAMES
    revoked = cluster[0]
    key_id = revoked.key.public_key.key_id
    ended = services.revoke_key(key_id=key_id, reason="the witness host was compromised")
    grow(2, tag="after")
    second = seal()
    assert ended.end.seq < second.size
    others = sorted([cluster[1].name, cluster[2].name])
    assert cosigners(second.size) == others
    assert cosigners(first.size) == NAMES  # revoked later: its cosignature still counts

    # the witness itself still runs and would cosign; that does not count for this size
    line = cosign_directly(revoked, second, old=first.size)
    assert note.verify_cosignature(note.parse(second.note).body, line, revoked.key.public_key)
    report = verified(export_bundle(tmp_path / "revoked.zip",
                                    extra_notes=(selectors.checkpoint_note(second)
                                                 + line.line() + "\n",)), k=3)
    assert report.ok, report.failures
    assert report.cosigned[first.size] == NAMES
    assert report.cosigned[second.size] == others
    assert report.settled == {first.size: True, second.size: False}


# --- rotation of the ledger key --------------------------------------------------------------


def test_after_a_ledger_key_rotation_witnesses_that_trust_the_successor_cosign(
    cluster: Cluster, tmp_path,
):
    grow(3)
    before = seal()
    assert cosigners(before.size) == NAMES
    old = services.ensure_ledger_key()
    new = services.rotate_key(key_id=old.key_id)
    assert new.replaces == old.key_id and new.use == "ledger"
    registration = json.loads(Entry.objects.get(seq=new.registered_seq).data)["statement"]
    assert registration["key"] == old.key_id  # the outgoing key signs its successor
    successor = tmp_path / "ledger-2.pub"
    successor.write_text(new.pem)
    for proc in cluster.witnesses[:2]:  # two operators add the successor and restart
        proc.kill()
        proc.ledger_pubs.append(successor)
    cluster.restart(0, 1)
    for proc in cluster.witnesses[:2]:
        assert proc.status()["ledger_keys"] == [old.key_id, new.key_id]

    grow(2, tag="rotated")
    after = seal()
    signed = note.parse(after.note).signatures[0]
    assert signed.hint == bytes.fromhex(new.key_id)[:4]
    body = note.parse(after.note).body
    assert note.verify_signature(body, signed, PublicKey.from_pem(new.pem))
    assert not note.verify_signature(body, signed, PublicKey.from_pem(old.pem))
    stale = cluster[2]  # knows only the old key
    assert cosigners(after.size) == sorted([cluster[0].name, cluster[1].name])
    assert selectors.is_settled(after)
    (refusal,) = WitnessEvidence.objects.filter(witness=stale.name)
    assert (refusal.kind, refusal.status, refusal.checkpoint_size) == (
        "refused", 403, after.size)
    assert "ledger's key" in refusal.reason
    assert not selectors.split_view_evidence().exists()  # not a split view
    assert stale.status()["size"] == before.size
    assert stale.evidence_cli().returncode == 0  # nor does the witness keep any evidence

    pinned = tmp_path / "anchor.pub"
    pinned.write_text(old.pem)  # the trust anchor stays the ledger's first key
    code, report = offline_verify(export_bundle(tmp_path / "rotated.zip"),
                                  "--ledger-key", str(pinned), "--k", "2")
    assert code == 0, report["failures"]
    assert report["settled"] == {str(before.size): True, str(after.size): True}

    stale.kill()  # its operator catches up: both keys, restart; the next run cosigns
    stale.ledger_pubs.append(successor)
    cluster.restart(2)
    assert cluster[2].name in witnesses.collect(force=True).cosigned[after.size]
    assert cosigners(after.size) == NAMES


# --- lost entries against entries not yet sealed -------------------------------------------------


def rebuild_merkle_nodes(leaves: list[str]) -> None:
    """Replace every stored Merkle node by those of the tree over ``leaves`` (hex)."""
    tree = MemoryStore()
    for leaf in leaves:
        tree.add(bytes.fromhex(leaf))
    MerkleNode.objects.all().delete()
    MerkleNode.objects.bulk_create(
        MerkleNode(position=MerkleNode.pack(level, index), hash=node.hex())
        for level, nodes in enumerate(tree.levels) if level
        for index, node in enumerate(nodes)
    )


def drop_newest(count: int) -> None:
    """What an operator with database access could do: delete the newest ``count`` entries
    with their payloads and Merkle nodes, and every checkpoint (and its cosignatures) that
    covered any of them."""
    keep = selectors.size() - count
    Payload.objects.filter(entry_id__gte=keep).delete()
    Entry.objects.filter(seq__gte=keep).delete()
    rebuild_merkle_nodes(list(Entry.objects.order_by("seq").values_list("leaf_hash",
                                                                        flat=True)))
    Cosignature.objects.filter(checkpoint__size__gt=keep).delete()
    Checkpoint.objects.filter(size__gt=keep).delete()


def test_entries_not_yet_sealed_are_uncovered_not_a_failure(cluster: Cluster):
    grow(4)
    sealed = seal()
    grow(3, tag="unsealed")
    last = selectors.size() - 1
    span, report, attested = audit.verify_ledger(workers=1)
    assert report.ok, report.failures
    assert (span.last, report.uncovered) == (last, (sealed.size, last))
    assert attested is not None and attested.seq == last + 1


def test_lost_newest_entries_are_truncated_by_the_witnesses_word(cluster: Cluster,
                                                                triggers_lifted):
    grow(4)
    kept = seal()
    grow(4, tag="lost")
    lost = seal()
    assert cosigners(lost.size) == NAMES
    with triggers_lifted():
        drop_newest(2)  # the ledger now looks like one whose newest entries are unsealed
    last = selectors.size() - 1
    assert (last, selectors.latest_checkpoint()) == (lost.size - 3, kept)

    with override_settings(SHULIAN_WITNESSES=[]):  # with no witness to ask ...
        _, alone = audit.verify_range(workers=1)
    assert alone.ok and alone.uncovered == (kept.size, last)  # ... it cannot be told

    _, report = audit.verify_range(workers=1)
    assert not report.ok
    assert {(f.code, f.checkpoint, f.seq) for f in report.failures} == {
        ("truncated", lost.size, None)}
    assert sorted(f.reason.split(" cosigned")[0] for f in report.failures) == [
        f"witness {name}" for name in NAMES]
    assert all(f"entries {last + 1}..{lost.size - 1} are missing" in f.reason
               for f in report.failures)
    cluster[0].kill()  # a witness that cannot be reached says nothing
    _, report = audit.verify_range(workers=1)
    assert len(report.failures) == 2


# --- split views -------------------------------------------------------------------------------


def rewrite_history(seq: int) -> None:
    """What an operator with database access could do: re-sign entry ``seq`` over another
    payload with the actor's custodial key, re-chain every later entry, rebuild the Merkle
    nodes, and drop the checkpoints and cosignatures that would give it away."""
    rows = list(Entry.objects.order_by("seq"))
    statement = json.loads(rows[seq].data)["statement"]
    payload = {"i": -1, "tag": "rewritten"}
    forged = services.sign_statement(
        actor=statement["actor"], kind=statement["kind"], subject=statement["subject"],
        payload=payload, time=parse_time(statement["time"]),
    )
    prev = rows[seq - 1].leaf_hash if seq else "0" * 64
    leaves = [row.leaf_hash for row in rows[:seq]]
    for row in rows[seq:]:
        entry = json.loads(row.data)
        if row.seq == seq:
            entry["statement"], entry["sig"] = forged.statement, forged.signature
        data = entry_bytes_fast(seq=row.seq, prev=prev, statement_data=statement_bytes(
            entry["statement"]), sig=entry["sig"], recorded=entry["recorded"])
        leaf = leaf_hash(data).hex()
        Entry.objects.filter(seq=row.seq).update(
            data=data.decode(), leaf_hash=leaf, prev=prev,
            nonce=entry["statement"]["nonce"], commitment=entry["statement"]["payload"])
        leaves.append(leaf)
        prev = leaf
    Payload.objects.filter(entry_id=seq).update(data=canonical(payload).decode(),
                                                salt=forged.salt)
    rebuild_merkle_nodes(leaves)
    Cosignature.objects.all().delete()
    Checkpoint.objects.all().delete()


def test_a_rewritten_history_is_refused_left_unsettled_and_shown_by_the_witness_note(
        cluster: Cluster, tmp_path, triggers_lifted):
    """Every witness refuses a checkpoint of a rewritten history (its consistency proof does
    not verify) but keeps no evidence: a failed proof proves nothing, whoever sent it. The
    checkpoint stays unsettled (the regulator is alerted), and the note a witness cosigned
    earlier shows the rewriting against the entries of any bundle."""
    grow(8)
    witnessed = seal()
    assert cosigners(witnessed.size) == NAMES
    target = Entry.objects.get(subject="tests/x/3").seq
    with triggers_lifted():
        rewrite_history(target)
    assert selectors.root(witnessed.size).hex() != witnessed.root
    grow(3, tag="after")
    presented = seal()

    assert cosigners(presented.size) == []  # every witness refused
    assert selectors.unsettled_checkpoints(older_than=0).get() == presented
    assert not selectors.split_view_evidence().exists()
    refusals = selectors.witness_evidence()
    assert sorted(e.witness for e in refusals) == NAMES
    assert {(e.kind, e.status, e.checkpoint_size) for e in refusals} == {
        ("refused", 422, presented.size)}
    for proc in cluster.witnesses:
        result = proc.evidence_cli()
        assert result.returncode == 0 and json.loads(result.stdout) == []

    # The rewritten ledger alone is self-consistent: only what a witness cosigned shows it.
    code, report = offline_verify(export_bundle(tmp_path / "rewritten.zip"))
    assert code == 0, report["failures"]
    with_witness = export_bundle(tmp_path / "audited.zip", extra_notes=(witnessed.note,))
    code, report = offline_verify(with_witness)
    assert code == 1
    assert sorted((f["code"], f["checkpoint"]) for f in report["failures"]) == [
        ("checkpoint-root", witnessed.size), ("consistency", presented.size)]
    assert any("does not match the root recomputed" in f["reason"] for f in report["failures"])


def test_a_second_root_for_a_cosigned_size_is_refused_by_every_witness(cluster: Cluster,
                                                                       tmp_path):
    grow(6)
    witnessed = seal()
    signing = services.ensure_ledger_key()
    evil_root = sm3(b"the history shown to someone else")
    line = note.sign(services.origin(), witnessed.size, evil_root, services.origin(),
                     keyring.unseal(signing.custody))
    fork = Checkpoint(size=witnessed.size, root=evil_root.hex(),
                      note=note.Checkpoint(services.origin(), witnessed.size, evil_root,
                                           (line,)).text())
    for config in witnesses.configured():
        with pytest.raises(witnesses.Refused):
            witnesses.submit(config, witnesses.registered_key(config), fork, witnessed.size)
    assert {(e.witness, e.kind, e.status) for e in WitnessEvidence.objects.all()} == {
        (name, "fork", 409) for name in NAMES}

    ledger_key = PublicKey.from_pem(cluster.ledger_pub.read_text())
    for proc in cluster.witnesses:
        result = proc.evidence_cli()
        (record,) = json.loads(result.stdout)
        assert (record["kind"], record["presented"]["root"]) == ("fork", evil_root.hex())
        assert wverify.check_evidence(record, [ledger_key]) == []
    code, report = offline_verify(export_bundle(tmp_path / "fork.zip", extra_notes=(fork.note,)))
    assert code == 1
    assert ("fork", witnessed.size) in {(f["code"], f.get("checkpoint"))
                                        for f in report["failures"]}, report["failures"]
    assert cosigners(witnessed.size) == NAMES  # the true checkpoint stays settled


def test_a_forged_cosignature_fails_the_offline_verifier(cluster: Cluster, tmp_path,
                                                         triggers_lifted):
    grow(3)
    checkpoint = seal()
    real = Cosignature.objects.get(checkpoint=checkpoint, witness=cluster[0].name)
    blob = base64.b64decode(real.line.split(" ")[2])
    other = Cosignature.objects.get(checkpoint=checkpoint, witness=cluster[1].name)
    stolen = base64.b64decode(other.line.split(" ")[2])[12:]
    forged = note.Signature(real.witness, blob[:12] + stolen)
    with triggers_lifted():
        real.delete()
        Cosignature.objects.create(checkpoint=checkpoint, witness=forged.name,
                                   key_id=real.key_id, timestamp=real.timestamp,
                                   line=forged.line())
    code, report = offline_verify(export_bundle(tmp_path / "forged.zip"), "--k", "2")
    assert code == 1
    assert [(f["code"], f["checkpoint"]) for f in report["failures"]] == [
        ("cosignature", checkpoint.size)]
    assert f"witness {cluster[0].name!r} does not verify" in report["failures"][0]["reason"]

"""Three real witness processes on loopback, k = 2, and the ledger collecting their
cosignatures: growth settles, one witness down still settles, two down leaves checkpoints
unsettled (and alerts) until they come back, and a rewritten history is refused by every
witness, kept as evidence, and flagged by the offline verifier."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from audit.bundle import FORMAT, write_bundle
from audit.witness import verify as wverify
from crypto.canonical import parse
from crypto.sm2 import PublicKey
from crypto.sm3 import sm3
from ledger import keyring, note, selectors, services, witnesses
from ledger.models import (
    Checkpoint,
    Cosignature,
    Entry,
    LedgerKey,
    MerkleNode,
    Payload,
    WitnessEvidence,
)
from ledger.protocol.format import (
    entry_bytes_fast,
    format_time,
    leaf_hash,
    parse_time,
    statement_bytes,
)
from ledger.protocol.merkle import MemoryStore
from tests.witness.conftest import REPO, Cluster

NAMES = ["witness-gov-health", "witness-gov-stats", "witness-gov-transport"]


@pytest.mark.django_db
def test_no_witnesses_are_configured_by_default():
    from django.conf import settings

    from ledger import selectors

    assert (settings.SHULIAN_WITNESSES, settings.SHULIAN_WITNESS_K) == ([], None)
    assert selectors.witness_k() == 0
    assert witnesses.collect().to_json()["cosigned"] == {}


def grow(count: int, tag: str = "x") -> None:
    if not LedgerKey.objects.filter(owner="alice").exists():
        services.issue_custodial_key(owner="alice")
    for i in range(count):
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
    """A bundle of the whole ledger as the database holds it, served notes included."""
    entries = [e.data.encode() for e in Entry.objects.order_by("seq")]
    keys = [
        {"key": k.key_id, "name": k.name, "participant": k.owner, "use": k.use, "pem": k.pem,
         "valid_from": format_time(k.valid_from),
         "valid_until": format_time(k.valid_until) if k.valid_until else None,
         "revoked_at": format_time(k.revoked_at) if k.revoked_at else None}
        for k in LedgerKey.objects.order_by("id")
    ]
    write_bundle(
        path,
        manifest={"format": FORMAT, "ledger": services.origin(), "from": 0,
                  "to": len(entries) - 1, "exported_at": format_time(datetime.now(UTC)),
                  "exported_for": None},
        prefix={"size": 0, "subtrees": [], "last": None},
        entries=entries,
        payloads=[(p.entry_id, parse(p.data)) for p in Payload.objects.order_by("entry_id")],
        checkpoints=[selectors.checkpoint_note(c) for c in selectors.checkpoints()]
        + list(extra_notes),
        keys=keys,
    )
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


# --- split views -------------------------------------------------------------------------------


def rewrite_history(seq: int) -> None:
    """What an operator with database access could do: re-sign entry ``seq`` over another
    payload with the actor's custodial key, re-chain every later entry, rebuild the Merkle
    nodes, and drop the checkpoints and cosignatures that would give it away."""
    rows = list(Entry.objects.order_by("seq"))
    original = json.loads(rows[seq].data)
    statement = original["statement"]
    payload = {"i": -1, "tag": "rewritten"}
    forged = services.sign_statement(
        actor=statement["actor"], kind=statement["kind"], subject=statement["subject"],
        payload=payload, time=parse_time(statement["time"]),
    )
    tree = MemoryStore()
    prev = rows[seq - 1].leaf_hash if seq else "0" * 64
    for row in rows[:seq]:
        tree.add(bytes.fromhex(row.leaf_hash))
    for row in rows[seq:]:
        entry = json.loads(row.data)
        if row.seq == seq:
            entry["statement"], entry["sig"] = forged.statement, forged.signature
        data = entry_bytes_fast(seq=row.seq, prev=prev, statement_data=statement_bytes(
            entry["statement"]), sig=entry["sig"], recorded=entry["recorded"])
        leaf = leaf_hash(data).hex()
        Entry.objects.filter(seq=row.seq).update(
            data=data.decode(), leaf_hash=leaf, prev=prev,
            nonce=entry["statement"]["nonce"], payload_hash=entry["statement"]["payload"])
        tree.add(bytes.fromhex(leaf))
        prev = leaf
    Payload.objects.filter(entry_id=seq).update(data=json.dumps(payload, sort_keys=True,
                                                                separators=(",", ":")))
    MerkleNode.objects.all().delete()
    MerkleNode.objects.bulk_create(
        MerkleNode(position=MerkleNode.pack(level, index), hash=node.hex())
        for level, nodes in enumerate(tree.levels) if level
        for index, node in enumerate(nodes)
    )
    Cosignature.objects.all().delete()
    Checkpoint.objects.all().delete()


def test_a_rewritten_history_is_refused_kept_and_flagged(cluster: Cluster, tmp_path,
                                                         triggers_lifted):
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
    kept = selectors.split_view_evidence()
    assert sorted(e.witness for e in kept) == NAMES
    assert {(e.kind, e.status, e.checkpoint_size) for e in kept} == {
        ("inconsistent", 422, presented.size)}

    ledger_key = PublicKey.from_pem(cluster.ledger_pub.read_text())
    held = set()
    for proc in cluster.witnesses:
        result = proc.evidence_cli()
        assert result.returncode == 1
        (record,) = json.loads(result.stdout)
        assert record["kind"] == "inconsistent"
        assert record["cosigned"]["size"] == witnessed.size
        assert record["cosigned"]["root"] == witnessed.root
        assert record["presented"]["size"] == presented.size
        assert wverify.check_evidence(record, [ledger_key]) == []
        held.add(note.parse(record["cosigned"]["note"]).body)
    assert held == {note.parse(witnessed.note).body}

    # The rewritten ledger alone is self-consistent: only the witnesses' record shows it.
    alone = export_bundle(tmp_path / "rewritten.zip")
    code, report = offline_verify(alone)
    assert code == 0, report["failures"]
    with_witness = export_bundle(tmp_path / "audited.zip",
                                 extra_notes=(record["cosigned"]["note"],))
    code, report = offline_verify(with_witness)
    assert code == 1
    assert any(f.get("checkpoint") == witnessed.size and "does not match" in f["reason"]
               for f in report["failures"]), report["failures"]


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
    assert any("fork" in f["reason"] for f in report["failures"]), report["failures"]
    assert cosigners(witnessed.size) == NAMES  # the true checkpoint stays settled


def test_a_forged_cosignature_fails_the_offline_verifier(cluster: Cluster, tmp_path):
    grow(3)
    checkpoint = seal()
    real = Cosignature.objects.get(checkpoint=checkpoint, witness=cluster[0].name)
    blob = base64.b64decode(real.line.split(" ")[2])
    other = Cosignature.objects.get(checkpoint=checkpoint, witness=cluster[1].name)
    stolen = base64.b64decode(other.line.split(" ")[2])[12:]
    forged = note.Signature(real.witness, blob[:12] + stolen)
    real.delete()
    Cosignature.objects.create(checkpoint=checkpoint, witness=forged.name, key_id=real.key_id,
                               timestamp=real.timestamp, line=forged.line())
    code, report = offline_verify(export_bundle(tmp_path / "forged.zip"), "--k", "2")
    assert code == 1
    assert any("does not verify" in f["reason"] for f in report["failures"])

"""Checkpoints: signed notes an auditor can check with the openssl command, signed by the
ledger key live for their size (also across a ledger key rotation), sealed on demand, by the
embedded every-N-entries default after commit (never raising into a caller whose change has
committed) and by the management command; never backwards."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from ledger import keystore, selectors, services
from ledger.models import Checkpoint, Entry, MerkleNode, Payload
from tests.ledger.helpers import (
    Client,
    NaiveTree,
    all_entries,
    append,
    assert_audit_clean,
    leaf_hash,
    register_client,
    verify_consistency,
)

DASH = "\u2014"
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
embedded = pytest.mark.skipif(not settings.CELERY_TASK_ALWAYS_EAGER,
                              reason="the every-N seal is the embedded (eager) default")


def append_some(client: Client, count: int) -> None:
    """``count`` appends by ``client``, each in a transaction of its own."""
    for i in range(count):
        append(client.submission({"i": i}))


def record(i: int, subject: str = "tests/thing") -> None:
    """carol records one thing in a transaction of its own."""
    with transaction.atomic():
        services.record(actor="carol", kind="tests.thing.done", subject=f"{subject}/{i}",
                        payload={"i": i})


def naive_root(size: int) -> bytes:
    leaves = [leaf_hash(e.data.encode()) for e in all_entries()]
    return NaiveTree(leaves).root(size)


def split_note(text: str) -> tuple[bytes, list[str]]:
    """(body bytes, signature lines) of a note laid out as the format requires."""
    body, blank, signatures = text.partition("\n\n")
    assert blank, "no blank line between body and signatures"
    assert text.endswith("\n") and not text.endswith("\n\n")
    return (body + "\n").encode("utf-8"), signatures[:-1].split("\n")


def openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)


def openssl_verify(tmp: Path, pem: str, body: bytes, der: bytes) -> subprocess.CompletedProcess:
    (tmp / "ledger.pem").write_text(pem)
    (tmp / "body").write_bytes(body)
    (tmp / "sig.der").write_bytes(der)
    return openssl("pkeyutl", "-verify", "-pubin", "-inkey", str(tmp / "ledger.pem"),
                   "-in", str(tmp / "body"), "-sigfile", str(tmp / "sig.der"), "-rawin",
                   "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")


@pytest.mark.django_db
@needs_openssl
def test_checkpoint_is_a_signed_note_that_openssl_verifies(tmp_path):
    append_some(register_client("alice"), 6)
    checkpoint = services.seal_checkpoint()
    ledger_key = keystore.ledger_key()
    assert ledger_key is not None
    origin, size = services.origin(), selectors.size()

    assert checkpoint is not None and checkpoint.size == size
    root = naive_root(size)
    assert checkpoint.root == root.hex()
    lines = checkpoint.note.split("\n")
    assert lines[:4] == [origin, str(size), base64.b64encode(root).decode(), ""]
    assert lines[5:] == [""] and len(lines) == 6
    dash, name, blob_b64 = lines[4].split(" ")
    assert (dash, name) == (DASH, origin)
    blob = base64.b64decode(blob_b64, validate=True)

    body, signature_lines = split_note(checkpoint.note)
    assert body == f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()
    assert signature_lines == [lines[4]]

    # the hint is the first 4 bytes of the key id, i.e. of SM3 over the DER public key
    # as openssl writes it
    der_key = openssl("pkey", "-pubin", "-outform", "DER", stdin=ledger_key.pem.encode())
    assert der_key.returncode == 0, der_key.stderr
    key_id = openssl("dgst", "-sm3", "-binary", stdin=der_key.stdout).stdout
    assert key_id.hex() == ledger_key.key_id
    assert blob[:4] == key_id[:4]

    verified = openssl_verify(tmp_path, ledger_key.pem, body, blob[4:])
    assert verified.returncode == 0, verified.stderr.decode() + verified.stdout.decode()
    assert b"Signature Verified Successfully" in verified.stdout

    forged = body.replace(f"\n{size}\n".encode(), f"\n{size + 1}\n".encode())
    assert openssl_verify(tmp_path, ledger_key.pem, forged, blob[4:]).returncode != 0


def note_signature(note: str) -> tuple[bytes, bytes, bytes]:
    """(body, key hint, DER signature) of a note signed by the ledger alone."""
    body, [line] = split_note(note)
    blob = base64.b64decode(line.split(" ")[2], validate=True)
    return body, blob[:4], blob[4:]


@pytest.mark.django_db
@needs_openssl
def test_checkpoints_are_signed_by_the_ledger_key_live_for_their_size(tmp_path):
    """Across a rotation of the ledger key at entry r: the outgoing key is live for entry r
    and signs the checkpoint of size r; the checkpoint of size r+1 is its successor's."""
    append_some(register_client("alice"), 4)
    outgoing = keystore.ledger_key()
    assert outgoing is not None
    before = services.seal_checkpoint()
    successor = services.rotate_key(key_id=outgoing.key_id)
    rotation = successor.registered_seq
    append_some(register_client("bob"), 2)
    after = services.seal_checkpoint()
    assert before is not None and after is not None
    assert before.size == rotation and after.size == rotation + 4

    for checkpoint, signer, other in ((before, outgoing, successor),
                                      (after, successor, outgoing)):
        body, hint, der = note_signature(checkpoint.note)
        assert hint == bytes.fromhex(signer.key_id)[:4]
        verified = openssl_verify(tmp_path, signer.pem, body, der)
        assert verified.returncode == 0, verified.stderr.decode()
        assert openssl_verify(tmp_path, other.pem, body, der).returncode != 0
    assert_audit_clean()


@pytest.mark.django_db
def test_sealing_twice_without_growth_keeps_one_checkpoint():
    append_some(register_client("alice"), 3)
    first = services.seal_checkpoint()
    again = services.seal_checkpoint()
    assert first is not None and again is not None
    assert again.pk == first.pk and again.note == first.note
    assert Checkpoint.objects.count() == 1


@pytest.mark.django_db
def test_checkpoints_only_grow_and_stay_consistent():
    alice = register_client("alice")
    for count in (1, 2, 5, 8, 1, 13):
        append_some(alice, count)
        services.seal_checkpoint()
    checkpoints = list(Checkpoint.objects.order_by("pk"))
    sizes = [c.size for c in checkpoints]
    assert sizes == sorted(set(sizes)) and len(sizes) == 6
    assert sizes[-1] == selectors.size()
    leaves = [leaf_hash(e.data.encode()) for e in all_entries()]
    tree = NaiveTree(leaves)
    for older, newer in zip(checkpoints, checkpoints[1:], strict=False):
        proof = selectors.consistency_proof(older.size, newer.size)
        assert verify_consistency(older.size, newer.size, bytes.fromhex(older.root),
                                  bytes.fromhex(newer.root), proof)
    assert all(c.root == tree.root(c.size).hex() for c in checkpoints)


@pytest.mark.django_db
def test_no_checkpoint_goes_backwards_even_if_entries_vanish(triggers_lifted):
    append_some(register_client("alice"), 10)
    latest = services.seal_checkpoint()
    assert latest is not None
    # an attacker with database access removes the newest entries
    keep = latest.size - 4
    with triggers_lifted():
        Payload.objects.filter(entry_id__gte=keep).delete()
        Entry.objects.filter(seq__gte=keep).delete()
        MerkleNode.objects.all().delete()
    assert selectors.size() == keep
    assert services.seal_checkpoint() == latest
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [latest.size]


@pytest.mark.django_db
def test_a_size_cannot_be_checkpointed_twice():
    append_some(register_client("alice"), 2)
    checkpoint = services.seal_checkpoint()
    assert checkpoint is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Checkpoint.objects.create(size=checkpoint.size, root="0" * 64, note=checkpoint.note)
    assert Checkpoint.objects.count() == 1


# --- the embedded default: seal every N entries on commit -----------------------------------


@pytest.mark.django_db
@embedded
@override_settings(SHULIAN_CHECKPOINT_EVERY=4)
def test_embedded_default_seals_every_n_entries(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice = register_client("alice")
    assert selectors.size() == 2
    for _ in range(11):  # sizes 3..13, one transaction each
        with django_capture_on_commit_callbacks(execute=True):
            append_some(alice, 1)
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4, 8, 12]
    # one batch that crosses 16 and 20 seals once, at its end
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.append_many([alice.submission({"i": i}) for i in range(9)])
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4, 8, 12, 22]


@pytest.mark.django_db
@embedded
@override_settings(SHULIAN_CHECKPOINT_EVERY=0)
def test_embedded_seal_can_be_switched_off(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        append_some(register_client("alice"), 10)
    assert not Checkpoint.objects.exists()


@embedded
@override_settings(SHULIAN_CHECKPOINT_EVERY=4)
def test_embedded_seal_runs_on_real_commit_and_not_on_rollback(committed_db):
    services.issue_custodial_key(owner="carol")  # sizes 1 (ledger key) and 2
    for i in range(7):
        record(i)
    assert selectors.size() == 9
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4, 8]

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        for i in range(5):  # would cross 12
            services.record(actor="carol", kind="tests.thing.done", subject=f"tests/x/{i}",
                            payload={"i": i})
        raise Abort
    assert selectors.size() == 9
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4, 8]
    for i in range(3):
        record(i, "tests/y")
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4, 8, 12]
    assert not connection.in_atomic_block


class _Collect(logging.Handler):
    """The messages (with their exceptions) logged to one logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage() + " " + str(record.exc_info and record.exc_info[1]))


@embedded
def test_a_seal_that_fails_after_commit_never_reaches_the_caller(committed_db, settings):
    """The seal after commit cannot unseal the ledger key (another master key is set): the
    client-signed append that triggered it still returns its entry, which is committed."""
    # (only the settings fixture here: mixed with override_settings, it restores the
    # overridden value for the tests that follow)
    settings.SHULIAN_CHECKPOINT_EVERY = 3
    alice = register_client("alice")  # sizes 1 (ledger key) and 2
    sub = alice.submission({"n": 1})
    right = settings.SHULIAN_MASTER_KEY
    settings.SHULIAN_MASTER_KEY = secrets.token_hex(16)
    logged = _Collect()
    on_commit_log = logging.getLogger("django.db.backends.base")  # where Django logs it
    on_commit_log.addHandler(logged)
    try:
        with transaction.atomic():
            entry = services.append(sub.statement, sub.signature, sub.payload, sub.salt)
    finally:
        on_commit_log.removeHandler(logged)
    assert not connection.in_atomic_block
    assert any("master key does not open the custodial key" in text for text in logged.texts)
    assert entry.seq == 2
    assert selectors.entry(2).nonce == sub.statement["nonce"]
    assert not Checkpoint.objects.exists()
    # the next seal, with the right master key, covers the committed entry
    settings.SHULIAN_MASTER_KEY = right
    sealed = services.seal_checkpoint()
    assert sealed is not None and sealed.size == 3


# --- management commands ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_empty_ledger_seals_nothing():
    assert services.seal_checkpoint() is None
    out = StringIO()
    call_command("seal_checkpoint", stdout=out)
    assert out.getvalue().strip() == "ledger is empty: nothing to seal"
    assert not Checkpoint.objects.exists()


@pytest.mark.django_db
def test_seal_checkpoint_command_prints_the_note():
    append_some(register_client("alice"), 3)
    out = StringIO()
    call_command("seal_checkpoint", stdout=out)
    checkpoint = Checkpoint.objects.get()
    assert out.getvalue() == checkpoint.note
    assert checkpoint.size == selectors.size()
    out = StringIO()
    call_command("seal_checkpoint", stdout=out)
    assert out.getvalue() == checkpoint.note
    assert Checkpoint.objects.count() == 1


@pytest.mark.django_db
def test_ledger_status_command_reports_size_head_and_checkpoint():
    alice = register_client("alice")
    append_some(alice, 3)
    checkpoint = services.seal_checkpoint()
    append_some(alice, 2)
    out = StringIO()
    call_command("ledger_status", "--json", stdout=out)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    last = all_entries()[-1]
    assert report["origin"] == services.origin()
    assert report["size"] == last.seq + 1 == selectors.size()
    assert report["head"] == last.leaf_hash
    assert report["checkpoint_size"] == checkpoint.size == last.seq - 1
    assert report["checkpoint_root"] == checkpoint.root

    out = StringIO()
    call_command("ledger_status", stdout=out)
    text = out.getvalue()
    assert last.leaf_hash in text and str(report["size"]) in text

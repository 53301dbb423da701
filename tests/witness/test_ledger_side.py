"""The ledger's side without witness processes: registering witness keys (entries recorded
by the ledger), served notes, settlement, the collection's bookkeeping, the seal hook, and
the demo's cosignatures."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings

from audit import services as audit
from audit.bundle import read_bundle, verify_bundle
from audit.core import Witness
from audit.witness import verify as wverify
from crypto.canonical import canonical, parse
from crypto.sm2 import PrivateKey, PublicKey
from demo import witnesses as demo_witnesses
from ledger import selectors, services, tasks, witnesses
from ledger.errors import KeyRefused
from ledger.models import Checkpoint, Cosignature, Entry, KeyUse, LedgerKey
from ledger.protocol import note

pytestmark = pytest.mark.django_db

DEPARTMENTS = [("witness-gov-stats", "gov-stats"), ("witness-gov-health", "gov-health"),
               ("witness-gov-transport", "gov-transport")]


def grow(count: int, tag: str = "t") -> None:
    if not LedgerKey.objects.filter(owner="alice").exists():
        services.issue_custodial_key(owner="alice")
    for i in range(count):
        with transaction.atomic():
            services.record(actor="alice", kind="tests.thing.done", subject=f"tests/{tag}/{i}",
                            payload={"i": i, "tag": tag})


def sealed(entries: int = 3, tag: str = "t") -> Checkpoint:
    grow(entries, tag)
    checkpoint = services.seal_checkpoint()
    assert checkpoint is not None
    return checkpoint


def registration(key: LedgerKey) -> tuple[dict[str, Any], Any]:
    """(statement, payload) of the entry that registered ``key``, from the entry's bytes,
    after checking the payload against the statement's salted commitment with hashlib."""
    entry = Entry.objects.get(seq=key.registered_seq)
    statement = parse(entry.data)["statement"]
    stored = selectors.payload(entry.seq)
    assert stored is not None
    salt = base64.b64decode(stored.salt)
    assert hashlib.new("sm3", salt + canonical(stored.payload)).hexdigest() == \
        statement["payload"]
    return statement, stored.payload


def test_register_witness_records_a_witness_key_in_an_entry_by_the_ledger():
    ledger_key = services.ensure_ledger_key()
    private = PrivateKey.generate()
    key = services.register_witness(name="witness-gov-stats", pem=private.public_key.pem,
                                    owner_code="gov-stats")
    assert (key.use, key.name, key.owner) == (KeyUse.WITNESS, "witness-gov-stats", "gov-stats")
    assert key.key_id == hashlib.new("sm3", private.public_key.der).hexdigest()
    statement, payload = registration(key)
    assert (statement["kind"], statement["actor"], statement["subject"]) == (
        "ledger.key.registered", services.origin(), f"ledger/key/{key.key_id}")
    assert statement["key"] == ledger_key.key_id  # signed by the ledger's own key
    signature = base64.b64decode(parse(Entry.objects.get(seq=key.registered_seq).data)["sig"])
    assert PublicKey.from_pem(ledger_key.pem).verify(signature, canonical(statement))
    assert sorted(payload) == ["key", "name", "owner", "pem", "replaces", "use", "valid_from",
                               "valid_until"]
    assert (payload["key"], payload["use"], payload["name"], payload["owner"]) == (
        key.key_id, "witness", "witness-gov-stats", "gov-stats")
    assert PublicKey.from_pem(payload["pem"]).key_id == key.key_id
    assert payload["replaces"] is None

    second = services.register_witness(name="witness-gov-stats",
                                       pem=PrivateKey.generate().public_key.pem,
                                       owner_code="gov-stats")
    assert second.name == key.name  # the department's own name again: both keys live
    assert not hasattr(LedgerKey.objects.get(pk=key.pk), "end")


def test_a_witness_key_is_rotated_like_any_key():
    old = services.register_witness(name="witness-gov-stats",
                                    pem=PrivateKey.generate().public_key.pem,
                                    owner_code="gov-stats")
    new = services.rotate_key(key_id=old.key_id, new_pem=PrivateKey.generate().public_key.pem)
    assert (new.use, new.name, new.owner, new.replaces) == (
        KeyUse.WITNESS, old.name, old.owner, old.key_id)
    _, payload = registration(new)
    assert payload["replaces"] == old.key_id
    ended = LedgerKey.objects.select_related("end").get(pk=old.pk).end
    assert (ended.seq, ended.how) == (new.registered_seq, "replaced")
    with pytest.raises(KeyRefused) as caught:
        services.rotate_key(key_id=new.key_id)
    assert caught.value.field == "new_pem"  # the server never holds a witness's private key


@pytest.mark.parametrize(("name", "owner", "pem", "field", "reason"), [
    ("two words", "gov-a", None, "name", "one word"),
    ("a+b", "gov-a", None, "name", "one word"),
    (None, "gov-a", None, "name", "ledger's own name"),
    ("witness-taken", "gov-b", None, "name", "witness name of gov-a"),
    ("witness-new", "gov-a", "not a key", "pem", "PEM"),
    ("witness-new", "", None, "owner", "participant code"),
])
def test_register_witness_refusals_name_the_field(name, owner, pem, field, reason):
    services.register_witness(name="witness-taken", pem=PrivateKey.generate().public_key.pem,
                              owner_code="gov-a")
    size = selectors.size()
    with pytest.raises(KeyRefused) as caught:
        services.register_witness(name=name or services.origin(),
                                  pem=pem or PrivateKey.generate().public_key.pem,
                                  owner_code=owner)
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert selectors.size() == size  # nothing recorded


def test_register_witness_command(tmp_path):
    pub = tmp_path / "w.pub"
    private = PrivateKey.generate()
    pub.write_text(private.public_key.pem)
    out = StringIO()
    call_command("register_witness", "--name", "witness-x", "--pem", str(pub), "--owner",
                 "gov-x", stdout=out)
    assert out.getvalue().strip() == private.public_key.key_id
    key = LedgerKey.objects.get(key_id=private.public_key.key_id)
    assert registration(key)[0]["actor"] == services.origin()
    with pytest.raises(CommandError, match="already registered"):
        call_command("register_witness", "--name", "witness-x", "--pem", str(pub),
                     "--owner", "gov-x")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("register_witness", "--name", "witness-y", "--pem",
                     str(tmp_path / "missing"), "--owner", "gov-x")


def test_served_note_and_settlement_without_witnesses():
    checkpoint = sealed()
    assert selectors.checkpoint_note(checkpoint) == checkpoint.note
    assert selectors.cosigners(checkpoint) == []
    assert selectors.is_settled(checkpoint)  # k = 0: settlement not in use
    assert not selectors.unsettled_checkpoints(older_than=0).exists()
    with override_settings(SHULIAN_WITNESS_K=2):
        assert not selectors.is_settled(checkpoint)
        assert list(selectors.unsettled_checkpoints(older_than=0)) == [checkpoint]
        assert not selectors.unsettled_checkpoints(older_than=3600).exists()
        assert selectors.settlement(checkpoint).k == 2
    assert witnesses.collect().to_json() == {
        "cosigned": {}, "unreachable": [], "refused": [], "skipped": [], "problems": []}


def known_witnesses() -> list[Witness]:
    return [Witness(k.name, PublicKey.from_pem(k.pem))
            for k in selectors.keys().filter(use=KeyUse.WITNESS)]


def test_demo_cosignatures_settle_the_checkpoints_their_keys_are_live_for(tmp_path):
    before = sealed()  # sealed before any witness key was registered
    demo = demo_witnesses.demo_witnesses(DEPARTMENTS)
    registered = max(LedgerKey.objects.get(key_id=w.key.public_key.key_id).registered_seq
                     for w in demo)
    first = services.seal_checkpoint()  # the registrations grew the ledger
    assert first is not None and first.size == registered + 1
    second = sealed(1, tag="x")
    made = demo_witnesses.demo_cosign(selectors.checkpoints(), demo)
    assert made == 6  # three witnesses, two checkpoints their keys are live for
    assert selectors.cosigners(before) == []  # no key of theirs was live for it
    assert selectors.checkpoint_note(before) == before.note
    assert demo_witnesses.demo_witnesses(DEPARTMENTS)[0].key.public_key.key_id == \
        demo[0].key.public_key.key_id  # same keys again, not registered twice
    assert demo_witnesses.demo_cosign(selectors.checkpoints(), demo) == 0
    grow(1, tag="y")
    again = demo_witnesses.demo_settle(DEPARTMENTS)  # what load_demo calls, last
    assert [w.name for w in again] == [w.name for w in demo]
    newest = selectors.latest_checkpoint()
    assert newest.size == selectors.size()
    assert selectors.cosigners(newest) == sorted(name for name, _ in DEPARTMENTS)
    with override_settings(SHULIAN_WITNESS_K=2):
        assert not selectors.is_settled(before)
        for checkpoint in (first, second, newest):
            assert selectors.is_settled(checkpoint)
            served = note.parse(selectors.checkpoint_note(checkpoint))
            assert wverify.settlement(served, known_witnesses(), 3) == (True, [])
    audit.export_bundle(tmp_path / "demo.zip")  # the auditor's verifier says the same
    report = verify_bundle(read_bundle(tmp_path / "demo.zip"), k=2, workers=1)
    assert report.ok, report.failures
    assert report.settled == {c.size: c != before for c in selectors.checkpoints()}


def test_collection_bookkeeping_without_processes():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    private = PrivateKey.generate()
    key = services.register_witness(name="witness-a", pem=private.public_key.pem,
                                    owner_code="gov-a")
    checkpoint = sealed()
    config = [
        {"name": "witness-a", "url": f"http://127.0.0.1:{port}", "key_id": key.key_id},
        {"name": "witness-b", "url": f"http://127.0.0.1:{port}", "key_id": "ab" * 32},
    ]
    witnesses.reset_backoff()
    try:
        with override_settings(SHULIAN_WITNESSES=config, SHULIAN_WITNESS_K=1):
            first = witnesses.collect()
            assert first.unreachable == ["witness-a"]
            assert "witness-b" in first.problems[0] and "key registry" in first.problems[0]
            assert witnesses.collect().skipped == ["witness-a"]  # backing off
            assert witnesses.collect(force=True).unreachable == ["witness-a"]
            result = tasks.collect_cosignatures.delay(checkpoint.size).get()
            assert result["skipped"] == ["witness-a"]  # eager: tried once, left for later
    finally:
        witnesses.reset_backoff()
    assert not Cosignature.objects.exists()


def test_a_revoked_or_replaced_witness_key_is_not_collected_from():
    sealed()
    revoked = services.register_witness(name="witness-a", pem=PrivateKey.generate().public_key.pem,
                                        owner_code="gov-a")
    replaced = services.register_witness(name="witness-b",
                                         pem=PrivateKey.generate().public_key.pem,
                                         owner_code="gov-b")
    services.revoke_key(key_id=revoked.key_id, reason="the witness machine was lost")
    services.rotate_key(key_id=replaced.key_id, new_pem=PrivateKey.generate().public_key.pem)
    services.seal_checkpoint()
    config = [{"name": k.name, "url": "http://127.0.0.1:9", "key_id": k.key_id}
              for k in (revoked, replaced)]
    witnesses.reset_backoff()
    try:
        with override_settings(SHULIAN_WITNESSES=config, SHULIAN_WITNESS_K=1):
            outcome = witnesses.collect()
    finally:
        witnesses.reset_backoff()
    assert outcome.unreachable == []  # not even asked
    assert [problem.split(":")[0] for problem in outcome.problems] == ["witness-a", "witness-b"]


def test_sealing_schedules_the_collection_only_with_witnesses(
    django_capture_on_commit_callbacks,
):
    grow(1)
    with django_capture_on_commit_callbacks() as callbacks:
        services.seal_checkpoint()
    assert callbacks == []
    grow(1, tag="more")
    key = services.register_witness(name="w", pem=PrivateKey.generate().public_key.pem,
                                    owner_code="gov-w")
    config = [{"name": "w", "url": "http://127.0.0.1:9", "key_id": key.key_id}]
    witnesses.reset_backoff()
    try:
        with override_settings(SHULIAN_WITNESSES=config):
            with django_capture_on_commit_callbacks() as callbacks:
                services.seal_checkpoint()
            assert len(callbacks) == 1
            assert witnesses.collect().skipped == []  # nobody asked the witness yet
            callbacks[0]()  # the commit runs it: the witness is asked (nothing listens)
            assert witnesses.collect().skipped == ["w"]  # so it is left alone for a while
    finally:
        witnesses.reset_backoff()


def test_the_beat_schedule_collects_every_minute():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["collect-cosignatures"]
    assert entry == {"task": "ledger.tasks.collect_cosignatures", "schedule": 60.0}
    assert tasks.collect_cosignatures.name == entry["task"]


@pytest.mark.parametrize(("value", "message"), [
    ("not json", "not JSON"),
    ('{"name": "w"}', "JSON list"),
    ('[{"name": "w", "url": "http://x"}]', "JSON list"),
    ('[{"name": "w", "url": "http://x", "key_id": ""}]', "JSON list"),
])
def test_bad_witness_settings_are_refused(monkeypatch, value, message):
    from config import settings as config

    monkeypatch.setenv("SHULIAN_WITNESSES", value)
    with pytest.raises(ImproperlyConfigured, match=message):
        config._witnesses_from_env()
    monkeypatch.setenv("SHULIAN_WITNESSES", json.dumps(
        [{"name": "w", "url": "http://127.0.0.1:1", "key_id": "ab" * 32}]))
    assert config._witnesses_from_env()[0]["name"] == "w"

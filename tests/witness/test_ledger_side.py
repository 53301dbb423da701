"""The ledger's side without witness processes: registering witness keys, served notes,
settlement, the collection's bookkeeping, the seal hook, and the demo's cosignatures."""

from __future__ import annotations

import json
import socket
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from ledger.keys import public_key

from audit.core import Witness
from audit.witness import verify as wverify
from crypto.sm2 import PrivateKey
from ledger import note, selectors, services, tasks, witnesses
from ledger.errors import KeyRefused
from ledger.models import Cosignature, Entry, KeyUse

pytestmark = pytest.mark.django_db


def sealed(entries: int = 3):
    services.issue_custodial_key(owner="alice")
    for i in range(entries):
        services.record(actor="alice", kind="tests.thing.done", subject=f"tests/t/{i}",
                        payload={"i": i})
    return services.seal_checkpoint()


def test_register_witness_records_a_witness_key():
    private = PrivateKey.generate()
    key = services.register_witness(name="witness-gov-stats", pem=private.public_key.pem,
                                    owner_code="gov-stats")
    assert (key.use, key.name, key.owner) == (KeyUse.WITNESS, "witness-gov-stats", "gov-stats")
    entry = Entry.objects.get(seq=key.registered_seq)
    assert entry.kind == "ledger.key.registered" and entry.actor == services.origin()
    payload = selectors.payload(entry.seq)[0]
    assert (payload["use"], payload["name"]) == ("witness", "witness-gov-stats")
    rotated = services.register_witness(name="witness-gov-stats",
                                        pem=PrivateKey.generate().public_key.pem,
                                        owner_code="gov-stats")
    assert rotated.name == key.name


@pytest.mark.parametrize(("name", "owner", "pem", "field", "reason"), [
    ("two words", "gov-a", None, "name", "one word"),
    ("a+b", "gov-a", None, "name", "one word"),
    (None, "gov-a", None, "name", "ledger's own name"),
    ("witness-taken", "gov-b", None, "name", "witness name of 'gov-a'"),
    ("witness-new", "gov-a", "not a key", "pem", "PEM"),
    ("witness-new", "", None, "owner", "participant code"),
])
def test_register_witness_refusals_name_the_field(name, owner, pem, field, reason):
    services.register_witness(name="witness-taken", pem=PrivateKey.generate().public_key.pem,
                              owner_code="gov-a")
    with pytest.raises(KeyRefused) as caught:
        services.register_witness(name=name or services.origin(),
                                  pem=pem or PrivateKey.generate().public_key.pem,
                                  owner_code=owner)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_register_witness_command(tmp_path):
    pub = tmp_path / "w.pub"
    private = PrivateKey.generate()
    pub.write_text(private.public_key.pem)
    out = StringIO()
    call_command("register_witness", "--name", "witness-x", "--pem", str(pub), "--owner",
                 "gov-x", stdout=out)
    assert out.getvalue().strip() == private.public_key.key_id
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


def test_demo_cosignatures_settle_checkpoints_and_verify():
    first = sealed()
    services.record(actor="alice", kind="tests.thing.done", subject="tests/t/x", payload={})
    second = services.seal_checkpoint()
    departments = [("witness-gov-stats", "gov-stats"), ("witness-gov-health", "gov-health"),
                   ("witness-gov-transport", "gov-transport")]
    demo = witnesses.demo_witnesses(departments)
    third = services.seal_checkpoint()  # the registrations grew the ledger
    made = witnesses.demo_cosign(selectors.checkpoints(), demo)
    assert made == 9
    assert witnesses.demo_witnesses(departments)[0].key.public_key.key_id == \
        demo[0].key.public_key.key_id  # same keys again, not registered twice
    assert witnesses.demo_cosign(selectors.checkpoints(), demo) == 0
    services.record(actor="alice", kind="tests.thing.done", subject="tests/t/y", payload={})
    again = witnesses.demo_settle(departments)  # what load_demo calls, last
    assert [w.name for w in again] == [w.name for w in demo]
    newest = selectors.latest_checkpoint()
    assert newest.size == selectors.size()
    assert selectors.cosigners(newest) == sorted(name for name, _ in departments)
    known = [Witness(k.name, public_key(k))
             for k in selectors.keys().filter(use=KeyUse.WITNESS)]
    with override_settings(SHULIAN_WITNESS_K=2):
        for checkpoint in (first, second, third):
            assert selectors.is_settled(checkpoint)
            served = note.parse(selectors.checkpoint_note(checkpoint))
            assert wverify.settlement(served, known, 3) == (True, [])


def test_collection_bookkeeping_without_processes():
    checkpoint = sealed()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    private = PrivateKey.generate()
    key = services.register_witness(name="witness-a", pem=private.public_key.pem,
                                    owner_code="gov-a")
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


def test_sealing_schedules_the_collection_only_with_witnesses(
    django_capture_on_commit_callbacks,
):
    services.issue_custodial_key(owner="alice")
    with django_capture_on_commit_callbacks() as callbacks:
        services.seal_checkpoint()
    assert callbacks == []
    services.record(actor="alice", kind="tests.thing.done", subject="tests/t/1", payload={})
    config = [{"name": "w", "url": "http://127.0.0.1:9", "key_id": "ab" * 32}]
    with override_settings(SHULIAN_WITNESSES=config), \
            django_capture_on_commit_callbacks() as callbacks:
        checkpoint = services.seal_checkpoint()
    assert len(callbacks) == 1
    assert callbacks[0].args == (checkpoint.size,)


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

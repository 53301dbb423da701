"""Accept, then integrate: statements queued with the caller's transaction, integrated in
batches by the integrator, each exactly once, judged by the same rules as a synchronous
append, and never under a key state other than the one they were accepted under."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client as HttpClient
from django.test import override_settings

from audit.services import verify_range
from ledger import conf, integrator, queue, services
from ledger.errors import AppendRefused
from ledger.models import Entry, IntegratorLease, Nonce, Pending
from tests.ledger.helpers import Client, ledger_time, register_client

pytestmark = pytest.mark.django_db
KIND = "usage.call.recorded"
by_hand = override_settings(SHULIAN_INTEGRATE_IN_PROCESS=False)


@pytest.fixture
def gateway() -> Client:
    return register_client("GATEWAY")


def records(client: Client, count: int, **fields: Any) -> list[services.Submission]:
    fields.setdefault("kind", KIND)
    return [client.submission({"call": n}, subject=f"usage/{n}", **fields)
            for n in range(count)]


def submit(subs: list[services.Submission]) -> list[int]:
    with transaction.atomic():
        return services.submit(subs)


def test_queued_statements_are_integrated_in_order_once(gateway: Client) -> None:
    with by_hand:
        ids = submit(records(gateway, 5))
        assert Pending.objects.count() == 5 and not queue.integrated(ids)
        assert queue.drain() == 5
        assert queue.drain() == 0
    found = queue.integrated(ids)
    assert [found[i].seq for i in ids] == sorted(found[i].seq for i in ids)
    assert not Pending.objects.exists()
    assert Entry.objects.filter(pending_id__in=ids).count() == 5
    assert verify_range()[1].ok


def test_the_embedded_default_integrates_after_the_commit(
        gateway: Client, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ids = submit(records(gateway, 3))
    assert len(queue.integrated(ids)) == 3 and not Pending.objects.exists()


def test_a_rolled_back_transaction_queues_nothing_and_frees_the_nonce(gateway: Client) -> None:
    sub = records(gateway, 1)[0]
    with by_hand, pytest.raises(RuntimeError), transaction.atomic():
        services.submit([sub])
        raise RuntimeError("the caller's change failed")
    assert not Pending.objects.exists() and not Nonce.objects.filter(nonce=sub.statement[
        "nonce"]).exists()
    with by_hand:
        submit([sub])
    assert Pending.objects.count() == 1


def refused(subs: list[services.Submission]) -> AppendRefused:
    before = Pending.objects.count(), Nonce.objects.count()
    with by_hand, pytest.raises(AppendRefused) as info:
        submit(subs)
    assert (Pending.objects.count(), Nonce.objects.count()) == before, \
        "a refused batch queued something"
    return info.value


def test_acceptance_refuses_by_the_format_rules(gateway: Client) -> None:
    good = records(gateway, 1)[0]
    forged = services.Submission(good.statement, base64.b64encode(b"0" * 70).decode(),
                                 good.payload, good.salt)
    assert refused([forged]).code == "signature"
    other = register_client("OTHER")
    assert refused(records(other, 1, actor="GATEWAY")).code == "key-owner"
    later = ledger_time(minutes=5.5)
    assert refused(records(gateway, 1, time=later)).code == "time-window"


def test_acceptance_leaves_the_integrator_a_minute(gateway: Client) -> None:
    """A statement dated 4.5 minutes before now would be outside the window if it were
    recorded a minute later: refused when queued, though a synchronous append takes it."""
    early = records(gateway, 1, time=ledger_time(minutes=-4.5))
    assert refused(early).code == "time-window"
    with transaction.atomic():
        services.append_many(early)


def test_a_replayed_nonce_is_refused_in_the_queue_and_on_the_ledger(gateway: Client) -> None:
    first = records(gateway, 1)[0]
    with by_hand:
        submit([first])
    assert refused([first]).code == "nonce-replay"  # queued: the same nonce again
    with by_hand:
        queue.drain()
    assert refused([first]).code == "nonce-replay"
    with pytest.raises(AppendRefused) as info, transaction.atomic():
        services.append_many([first])  # the synchronous way shares the nonce index
    assert info.value.code == "nonce-replay"


def test_the_ledgers_own_kinds_are_not_queued(gateway: Client) -> None:
    sub = records(gateway, 1, kind="ledger.key.revoked")[0]
    assert refused([sub]).code == "ledger-kind"


def test_a_revocation_integrates_what_was_accepted_before_it(gateway: Client) -> None:
    """Accepted while the key was live, integrated before its revocation: valid for good."""
    with by_hand:
        ids = submit(records(gateway, 4))
        with transaction.atomic():
            services.revoke_key(key_id=gateway.key_id, reason="laptop stolen")
    found = queue.integrated(ids)
    revoked = Entry.objects.get(kind="ledger.key.revoked").seq
    assert len(found) == 4 and all(entry.seq < revoked for entry in found.values())
    assert refused(records(gateway, 1)).code == "key-ended"
    assert verify_range()[1].ok


def test_recorded_is_when_a_statement_was_accepted_however_late_the_integrator(
        gateway: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    with by_hand:
        ids = submit(records(gateway, 2))
        queued = list(Pending.objects.values_list("queued_at", flat=True))
        real = conf.now
        monkeypatch.setattr(conf, "now", lambda: real() + timedelta(minutes=30))
        queue.drain()
    entries = queue.integrated(ids)
    assert [entries[i].recorded for i in ids] == queued
    monkeypatch.setattr(conf, "now", real)
    assert verify_range()[1].ok


def test_a_statement_that_cannot_be_integrated_is_set_aside_and_reported(
        gateway: Client) -> None:
    with by_hand:
        ids = submit(records(gateway, 3))
        # someone with database access moves a queued statement an hour ahead: recorded
        # then, it would lie outside its statement's five minutes
        Pending.objects.filter(pk=ids[1]).update(queued_at=conf.now() + timedelta(hours=1))
        queue.drain()
    found = queue.integrated(ids)
    assert set(found) == {ids[0], ids[2]}
    stuck = Pending.objects.get(pk=ids[1])
    assert "statement.time" in stuck.problem
    health = integrator.health()
    assert not health.ok and health.set_aside == 1 and "could not be integrated" in health.problem


def test_health_says_why_when_the_integrator_falls_behind(gateway: Client) -> None:
    web = HttpClient()
    assert web.get("/healthz").status_code == 200
    with by_hand, override_settings(SHULIAN_INTEGRATION_BOUND_MS=0):
        submit(records(gateway, 1))
        answer = web.get("/healthz")
        assert answer.status_code == 503
        assert "manage.py integrate" in answer.json()["integration"]["problem"]
        call_command("integrate", "--once")
        assert web.get("/healthz").status_code == 200


def test_only_one_integrator_holds_the_lease() -> None:
    assert integrator.take_lease("first")
    assert not integrator.take_lease("second")
    assert integrator.take_lease("first")  # renewing
    IntegratorLease.objects.update(expires=conf.now() - timedelta(seconds=1))
    assert integrator.take_lease("second")  # the first stopped renewing
    integrator.release_lease("second")
    assert not IntegratorLease.objects.exists()

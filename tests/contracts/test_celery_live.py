"""The periodic tasks through a real Redis broker, a real Celery worker and beat.

The test starts ``redis-server`` (Debian package ``redis-server``; scripts/test installs it)
on a free loopback port, and ``celery -A config worker --beat`` with the tasks every second
(SHULIAN_BEAT_SECONDS), on the same database, data dir and master key as this process, and
a retention of 0 days for objections' contact details (SHULIAN_RETENTION). It then waits,
at most a minute each, for a grant to expire and an overdue objection to be escalated, and
for the contact details of a closed objection to be erased. Without redis-server the tests
are skipped, except when CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from contracts import objections, sharing
from contracts.common import now
from contracts.models import Grant, Objection
from ledger import services as ledger
from ledger.models import Entry, Payload
from tests.contracts import world as w

pytestmark = pytest.mark.slow
WAIT_SECONDS = 60
IS_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    pytest.skip(f"no DATABASE_URL form for {db['ENGINE']}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        if IS_CI:
            pytest.fail("redis-server is missing, and CI=true requires this test to run")
        pytest.skip("redis-server is not installed (apt-get install redis-server); "
                    "this test is mandatory when CI=true")
    import redis

    port = free_port()
    log = open(tmp_path / "redis.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        assert wait_for(up, 15), (tmp_path / "redis.log").read_text()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        log.close()


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": redis_url,
        "DATABASE_URL": database_url(),
        "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
        "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
        "SHULIAN_SECRET_KEY": settings.SECRET_KEY,
        "SHULIAN_LEDGER_ORIGIN": settings.SHULIAN_LEDGER_ORIGIN,
        "SHULIAN_BEAT_SECONDS": "1",
        "SHULIAN_RETENTION": json.dumps({"contracts.objection.contact": 0}),
    }
    log_path = tmp_path / "celery.log"
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat",
         "--schedule", str(tmp_path / "beat-schedule"), "--pool", "solo",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
    )

    def output() -> str:
        log.flush()
        return log_path.read_text(errors="replace")[-4000:]

    try:
        yield output
    finally:
        stop(process)
        log.close()


@pytest.mark.django_db
def test_the_beat_schedule_runs_both_tasks_and_they_start_idle() -> None:
    """(Also makes pytest-django create the test database when this module runs alone.)"""
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"contracts.tasks.escalate_overdue", "contracts.tasks.expire_grants",
            "contracts.tasks.erase_expired_personal_information"} <= tasks_scheduled
    from contracts import tasks

    seq = w.last_seq()
    assert tasks.escalate_overdue() == {"requests": 0, "objections": 0, "erasures": 0}
    assert tasks.expire_grants() == {"agreements": 0, "grants": 0}
    assert tasks.erase_expired_personal_information() == {"erased": 0}
    assert w.entries_after(seq) == [] or {e.kind for e in w.entries_after(seq)} == {
        "ledger.key.registered"}


def test_worker_and_beat_expire_a_grant_and_escalate_an_objection(
    committed_db: Any, worker: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = w.build()
    department, user = w.department(world)
    request = sharing.request_sharing(
        by=user, resource=world.unconditional, purpose="核验", scenario="审批",
        legal_basis="《条例》", period_from=w.today(), period_until=w.today())
    grant = Grant.objects.get(sharing_request=request)
    # The grant's last moment comes in a few seconds (as if its period were that short).
    Grant.objects.filter(pk=grant.pk).update(valid_until=now() + timedelta(seconds=3))
    assert w.perm(user, world.unconditional)

    from contracts import common

    monkeypatch.setattr(common, "now", lambda: now() - timedelta(days=30))
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description="地址有误")
    monkeypatch.undo()
    assert filed.accept_due < now()

    def expired() -> bool:
        return (Grant.objects.get(pk=grant.pk).state == Grant.State.EXPIRED
                and Entry.objects.filter(kind="contracts.grant.expired",
                                         subject=f"contracts/grant/{grant.pk}").exists())

    def escalated() -> bool:
        return (Objection.objects.get(pk=filed.pk).escalated_at is not None
                and Entry.objects.filter(kind="contracts.objection.escalated",
                                         subject=f"contracts/objection/{filed.pk}").exists())

    assert wait_for(lambda: expired() and escalated(), WAIT_SECONDS), worker()
    assert not w.perm(user, world.unconditional)
    for kind, subject in (("contracts.grant.expired", f"contracts/grant/{grant.pk}"),
                          ("contracts.objection.escalated",
                           f"contracts/objection/{filed.pk}")):
        entry = Entry.objects.get(kind=kind, subject=subject)
        assert (entry.actor, w.signer_of(entry)) == (ledger.origin(), ledger.origin())
    # Idempotent: further beats append nothing more for them.
    time.sleep(2.5)
    assert Entry.objects.filter(subject__in=[f"contracts/grant/{grant.pk}",
                                             f"contracts/objection/{filed.pk}"],
                                kind__in=["contracts.grant.expired",
                                          "contracts.objection.escalated"]).count() == 2


def test_worker_and_beat_erase_contact_details_past_their_retention(
    committed_db: Any, worker: Callable[[], str]
) -> None:
    world = w.build()
    filed = objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                      ground="accuracy", description="地址有误",
                                      contact={"phone": "13800138000"})
    contact = objections.contact_entry(filed)
    filing = objections.filing_entry(filed)
    assert contact is not None and filing is not None
    time.sleep(2.5)  # beats pass: the objection is open, its filer's contact still needed
    assert Payload.objects.get(entry=contact).data != ""
    objections.reject_objection(by=world.provider_user, objection=filed, reason="重复提交")
    subject = f"ledger/entry/{contact.seq}"

    def erased() -> bool:
        return (Entry.objects.filter(kind="ledger.payload.redacted", subject=subject).exists()
                and Payload.objects.get(entry=contact).data == "")

    assert wait_for(erased, WAIT_SECONDS), worker()
    redaction = Entry.objects.get(kind="ledger.payload.redacted", subject=subject)
    assert (redaction.actor, w.signer_of(redaction)) == (ledger.origin(), ledger.origin())
    assert json.loads(redaction.payload_row.data)["basis"].startswith("GB/T 35273-2020 §6.1")
    assert Payload.objects.get(entry=contact).salt == ""
    # the objection's facts stay: its filing is kept for five years by default
    assert Payload.objects.get(entry=filing).data != ""
    time.sleep(2.5)
    assert Entry.objects.filter(kind="ledger.payload.redacted", subject=subject).count() == 1

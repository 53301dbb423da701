"""kill -9 at random points: writers that append (synchronously, or into the queue) and the
integrator are killed again and again while they work, and restarted; afterwards the ledger
is whole.

Each writer makes a change (a row of its own: an auth group named after it) and records it
in the same transaction: half the writers append their entry synchronously with their
custodial key, half queue a client-signed statement for the integrator. Some transactions
roll back on purpose. The integrator runs as its own process, as in production. Checked
afterwards: seq gapless and the prev chain intact, every queued statement integrated
exactly once, every change with its entry and no entry without its change, nothing left in
the queue, and the verifier finds the ledger clean.

The test runs on the database the suite runs on; scripts/test runs both engines.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connections, transaction

from audit.services import verify_range
from ledger import integrator, queue, services
from ledger.models import Entry, Pending
from tests.ledger.helpers import Client, all_entries, assert_chain, register_client

pytestmark = pytest.mark.slow

RECORDED = "tests.crash.recorded"  # appended synchronously, custodial key
QUEUED = "tests.crash.queued"  # queued, signed by the client's own key
KILLS = 30


class Deliberate(Exception):
    """A transaction rolled back on purpose."""


def _write_forever(actor: str, client: Client | None, seed: int) -> None:
    """Child process: change, record, commit (or roll back), until killed."""
    rng = random.Random(seed)
    n = 0
    while True:
        name = f"crash-{os.getpid()}-{n}"
        n += 1
        try:
            with transaction.atomic():
                Group.objects.create(name=name)
                subject = f"tests/crash/{name}"
                if client is None:
                    services.record(actor=actor, kind=RECORDED, subject=subject,
                                    payload={"change": name})
                else:
                    services.submit([client.submission({"change": name}, kind=QUEUED,
                                                       subject=subject)])
                if rng.random() < 0.1:
                    raise Deliberate
        except Deliberate:
            pass


def _integrate_forever() -> None:
    integrator.run(idle=0.05)


class Crew:
    """The writer processes and the integrator, forked from the test's process."""

    def __init__(self, writers: list[tuple[str, Client | None]]) -> None:
        self._ctx = multiprocessing.get_context("fork")
        self._writers = writers
        self.processes: dict[str, Any] = {}
        self._spawned = 0

    def start(self, name: str) -> None:
        connections.close_all()  # a child must not share the parent's connection
        self._spawned += 1
        if name == "integrator":
            target, args = _integrate_forever, ()
        else:
            actor, client = self._writers[int(name)]
            target, args = _write_forever, (actor, client, self._spawned)
        process = self._ctx.Process(target=target, args=args, daemon=True)
        process.start()
        self.processes[name] = process

    def kill(self, name: str) -> None:
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=30)
        assert process.exitcode == -signal.SIGKILL, f"{name} ended on its own"

    def kill_all(self) -> None:
        for name in list(self.processes):
            if self.processes[name].is_alive():
                self.kill(name)


def _changes() -> list[str]:
    return list(Group.objects.filter(name__startswith="crash-").values_list("name", flat=True))


def run_with_kills(writers: int, rng: random.Random) -> Counter[str]:
    crew_members: list[tuple[str, Client | None]] = []
    for i in range(writers):
        if i % 2 == 0:
            services.issue_custodial_key(owner=f"crash-{i}")
            crew_members.append((f"crash-{i}", None))
        else:
            crew_members.append((f"crash-client-{i}", register_client(f"crash-client-{i}")))
    crew = Crew(crew_members)
    names = [str(i) for i in range(writers)] + ["integrator"]
    for name in names:
        crew.start(name)
    killed: Counter[str] = Counter()
    deadline = time.monotonic() + 240
    while sum(killed.values()) < KILLS and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.05, 0.4))
        # the integrator is one victim in four: it is killed mid-batch often enough
        victim = "integrator" if rng.random() < 0.25 else rng.choice(names[:-1])
        crew.kill(victim)
        killed["integrator" if victim == "integrator" else "writer"] += 1
        crew.start(victim)
    time.sleep(0.5)
    crew.kill_all()
    return killed


def check_whole() -> None:
    # the queue: whatever committed and was not integrated yet is integrated now, once
    with transaction.atomic():
        assert not Pending.objects.exclude(problem="").exists(), "a statement was set aside"
    queue.drain()
    assert not Pending.objects.exists()

    entries = all_entries()
    assert_chain(entries)  # seq 0..N-1 without a gap, prev and leaf hashes intact
    recorded = [e for e in entries if e.kind in (RECORDED, QUEUED)]
    subjects = Counter(e.subject for e in recorded)
    changes = _changes()
    assert len(set(changes)) == len(changes)
    # every change with its entry, no entry without its change, each exactly once
    assert subjects == Counter(f"tests/crash/{name}" for name in changes)
    queued = [e for e in recorded if e.kind == QUEUED]
    assert queued and all(e.pending_id is not None for e in queued)
    assert len({e.pending_id for e in queued}) == len(queued)
    assert all(e.pending_id is None for e in recorded if e.kind == RECORDED)
    assert Counter(e.kind for e in recorded)[RECORDED] > 0

    _, report = verify_range()
    assert report.ok, report.failures[:5]


@pytest.mark.parametrize("writers", [8, 16])
def test_kill_nine_of_writers_and_the_integrator(committed_db: None, settings: Any,
                                                 writers: int) -> None:
    settings.SHULIAN_INTEGRATE_IN_PROCESS = False  # the integrator is its own process
    rng = random.Random(writers)
    killed = run_with_kills(writers, rng)
    assert sum(killed.values()) >= KILLS, killed
    assert killed["integrator"] >= 3 and killed["writer"] >= 3, killed
    assert Entry.objects.filter(kind__in=(RECORDED, QUEUED)).count() > writers
    check_whole()

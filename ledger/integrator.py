"""The integrator process: integrates the queue as statements arrive, one per ledger.

``manage.py integrate`` runs :func:`run`. It first takes the ledger's lease (a row that says
who integrates and until when) and renews it while it works; a second integrator waits for
the lease to expire, so that two never run at once, and a crashed one is replaced within
:data:`LEASE` (at once by an integrator on the same host, which sees that the holder's
process is gone; integration itself is one transaction under the append lock, so a crash at
any point leaves nothing half-done). On PostgreSQL it sleeps until a commit that queued
statements wakes it (LISTEN/NOTIFY); on SQLite it polls.

:func:`health` is what ``/healthz`` reports: how many statements wait, how long the oldest
has waited, and any set aside, with the reason when the bound is exceeded.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q

from ledger import conf, queue
from ledger.checkpoints import seal_checkpoint
from ledger.models import IntegratorLease, Pending

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=10)
POLL = 0.05  # seconds between looks at the queue when nothing wakes the integrator


def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _gone(holder: str) -> bool:
    """Is ``holder`` a process of this host that no longer runs?"""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def take_lease(me: str) -> bool:
    """Take or renew the ledger's lease for ``me``; False while another holds it."""
    now = conf.now()
    with transaction.atomic():
        lease, _ = IntegratorLease.objects.select_for_update().get_or_create(
            ledger=conf.origin(), defaults={"holder": me, "expires": now + LEASE})
        if lease.holder != me and lease.expires > now and not _gone(lease.holder):
            return False
        lease.holder, lease.expires = me, now + LEASE
        lease.save(update_fields=["holder", "expires"])
    return True


def release_lease(me: str) -> None:
    IntegratorLease.objects.filter(ledger=conf.origin(), holder=me).delete()


class _Wakeup:
    """Waits for the next NOTIFY on PostgreSQL (at most ``timeout``), else just sleeps."""

    def __init__(self) -> None:
        self.raw: Any = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            self.raw = connection.connection
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {queue.CHANNEL}")

    def wait(self, timeout: float) -> None:
        if self.raw is None:
            time.sleep(timeout)
            return
        if not self.raw.notifies:
            select.select([self.raw], [], [], timeout)
        self.raw.poll()
        self.raw.notifies.clear()


class _Sealer:
    """Checkpoints on the integrator's clock: after what it integrated, at most every
    SHULIAN_CHECKPOINT_SECONDS while the queue is busy, at once when it is empty."""

    def __init__(self) -> None:
        self.unsealed = 0
        self.last = time.monotonic()

    def after(self, integrated: int) -> None:
        self.unsealed += integrated
        due = time.monotonic() - self.last >= settings.SHULIAN_CHECKPOINT_SECONDS
        if self.unsealed and (due or not integrated):
            try:
                seal_checkpoint()
            except Exception:  # noqa: BLE001 - a failed seal is retried, never fatal here
                log.exception("sealing a checkpoint failed; will try again")
                return
            self.unsealed, self.last = 0, time.monotonic()


def run(*, stop: Callable[[], bool] = lambda: False, idle: float = 1.0) -> int:
    """Integrate until ``stop()`` says so; how many statements it integrated."""
    me = holder()
    total = 0
    renewed = 0.0
    wakeup: _Wakeup | None = None
    sealer = _Sealer()
    try:
        while not stop():
            if time.monotonic() - renewed > LEASE.total_seconds() / 3:
                if not take_lease(me):
                    time.sleep(POLL)
                    continue
                renewed = time.monotonic()
                wakeup = wakeup or _Wakeup()
            count = queue.integrate(seal=False)
            total += count
            sealer.after(count)
            if not count and wakeup is not None:
                wakeup.wait(idle if connection.vendor == "postgresql" else POLL)
    finally:
        release_lease(me)
    return total


@dataclass(frozen=True)
class Health:
    waiting: int
    oldest_ms: float | None
    set_aside: int
    problem: str

    @property
    def ok(self) -> bool:
        return not self.problem

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "waiting": self.waiting, "oldest_ms": self.oldest_ms,
                "set_aside": self.set_aside, "problem": self.problem}


def health() -> Health:
    """The queue as the health check sees it."""
    waiting = Pending.objects.filter(problem="")
    found = waiting.aggregate(oldest=Min("queued_at"), count=Count("id"))
    set_aside = Pending.objects.filter(~Q(problem="")).count()
    oldest = found["oldest"]
    age = (conf.now() - oldest).total_seconds() * 1000 if oldest else None
    bound = settings.SHULIAN_INTEGRATION_BOUND_MS
    problem = ""
    if age is not None and age > bound:
        lease = IntegratorLease.objects.filter(ledger=conf.origin()).first()
        who = (f"the integrator {lease.holder} holds the lease" if lease and
               lease.expires > conf.now() else "no integrator holds the lease: is "
               "`manage.py integrate` running?")
        problem = (f"the oldest queued statement has waited {age:.0f} ms, beyond the "
                   f"{bound} ms bound; {who}")
    elif set_aside:
        problem = f"{set_aside} queued statement(s) could not be integrated (see ledger_pending)"
    return Health(int(found["count"] or 0), age, set_aside, problem)


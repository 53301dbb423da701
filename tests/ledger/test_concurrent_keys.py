"""Key rotation, revocation and the ledger key's hand-over while 8 processes append, on the
database the suite runs on (scripts/test runs both), once with the clock stepped back by 10
minutes in the middle of the run: every entry that was appended verifies.

A key is judged by its position in the chain, so no revocation can race an append: an
append that takes the lock after the revocation's entry is refused (key-ended), one that
took it before is valid for good. Refusals are expected here, bad entries are not.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connections, transaction

from audit.bundle import read_bundle, verify_bundle
from audit.services import export_bundle, verify_range
from ledger import conf, keyring, keystore, services
from ledger.errors import AppendRefused
from ledger.models import Entry, KeyEnd, LedgerKey
from tests.ledger.helpers import Client, register_client

pytestmark = pytest.mark.slow

WRITERS = 6
PER_WRITER = 30
KIND = "tests.load.appended"


def _step_clock_back(stepped: Any | None) -> None:
    """Once ``stepped`` is set (by the rotator, after its first round), the ledger's clock
    in this process reads 10 minutes earlier."""
    if stepped is None:
        return
    real = conf.now

    def now() -> datetime:
        moment = real()
        return moment - timedelta(minutes=10) if stepped.is_set() else moment

    conf.now = now  # type: ignore[assignment]


def _writer(actor: str, stepped: Any | None, start: Any, results: Any) -> None:
    """Custodial appends by ``actor``, whose key the rotator rotates meanwhile."""
    _step_clock_back(stepped)
    done = refused = 0
    try:
        start.wait(timeout=60)
        for i in range(PER_WRITER):
            try:
                with transaction.atomic():
                    services.record(actor=actor, kind=KIND, subject=f"tests/load/{actor}/{i}",
                                    payload={"actor": actor, "i": i})
                done += 1
            except AppendRefused:
                refused += 1
            time.sleep(0.005)
        results.put((actor, done, refused, ""))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((actor, done, refused, f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


def _client_writer(client: Client, subs: list[services.Submission], stepped: Any | None,
                   start: Any, results: Any) -> None:
    """Client-signed appends with a key that the rotator revokes in the middle."""
    _step_clock_back(stepped)
    done = refused = 0
    try:
        start.wait(timeout=60)
        for sub in subs:
            try:
                with transaction.atomic():
                    services.append(sub.statement, sub.signature, sub.payload, sub.salt)
                done += 1
            except AppendRefused as exc:
                assert exc.code == "key-ended", exc
                refused += 1
            time.sleep(0.002)
        results.put((client.actor, done, refused, ""))
    except BaseException as exc:  # noqa: BLE001
        results.put((client.actor, done, refused, f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


def _rotator(actors: list[str], client_key: str, stepped: Any | None, start: Any,
             results: Any) -> None:
    """Rotates every writer's key, revokes the client's key, hands the ledger key over
    twice, and seals checkpoints in between; steps the clock back after the first round."""
    _step_clock_back(stepped)
    try:
        start.wait(timeout=60)
        for round_ in range(2):
            for actor in actors:
                current = keystore.usable_signing_key(actor)
                with transaction.atomic():
                    services.rotate_key(key_id=current.key_id)
                if round_ == 0 and actor == actors[len(actors) // 2]:
                    with transaction.atomic():
                        services.revoke_key(key_id=client_key, reason="laptop stolen")
                time.sleep(0.01)
            ledger_key = keystore.ledger_key()
            assert ledger_key is not None
            with transaction.atomic():
                services.rotate_key(key_id=ledger_key.key_id)
            services.seal_checkpoint()
            if stepped is not None:
                stepped.set()
        results.put(("rotator", 0, 0, ""))
    except BaseException as exc:  # noqa: BLE001
        results.put(("rotator", 0, 0, f"{type(exc).__name__}: {exc}"))
    finally:
        connections.close_all()


def _run(step_clock: bool) -> dict[str, tuple[int, int]]:
    with transaction.atomic():
        services.ensure_ledger_key()
        actors = [f"load-{n}" for n in range(WRITERS)]
        for actor in actors:
            services.issue_custodial_key(owner=actor)
    client = register_client("load-client")
    subs = [client.submission({"i": i}, kind=KIND, subject=f"tests/load/client/{i}")
            for i in range(PER_WRITER * 2)]

    connections.close_all()  # children must not share the parent's connection
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(WRITERS + 2), ctx.Queue()
    stepped = ctx.Event() if step_clock else None
    processes = [ctx.Process(target=_writer, args=(a, stepped, start, results)) for a in actors]
    processes.append(ctx.Process(target=_client_writer,
                                 args=(client, subs, stepped, start, results)))
    processes.append(ctx.Process(target=_rotator,
                                 args=(actors, client.key_id, stepped, start, results)))
    for process in processes:
        process.start()
    outcome = {}
    for _ in processes:
        name, done, refused, error = results.get(timeout=300)
        assert not error, f"{name}: {error}"
        outcome[name] = (done, refused)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcome


def _check(outcome: dict[str, tuple[int, int]]) -> None:
    # every appended entry verifies, the key cache included, and a bundle of it too
    span, report = verify_range()
    assert report.ok, [failure.line() for failure in report.failures[:10]]
    bundle = read_bundle(_exported())
    assert verify_bundle(bundle, workers=1).ok

    load = Counter(e.actor for e in Entry.objects.filter(kind=KIND))
    for name, (done, _) in outcome.items():
        if name != "rotator":
            assert load[name] == done, (name, load[name], done)
    # a custodial writer whose key is rotated under it signs again with the successor
    assert all(outcome[f"load-{n}"] == (PER_WRITER, 0) for n in range(WRITERS)), outcome

    # the client's statements: all accepted ones precede its revocation, none follow it
    client = LedgerKey.objects.get(owner="load-client")
    end = KeyEnd.objects.get(key=client)
    assert end.how == "revoked"
    signed = list(Entry.objects.filter(key_id=client.key_id, kind=KIND)
                  .values_list("seq", flat=True))
    assert all(seq < end.seq for seq in signed)
    assert outcome["load-client"][1] > 0, "the revocation came after every client append"

    # two hand-overs of the ledger key: three ledger keys, the first two replaced
    ledger_keys = LedgerKey.objects.filter(use="ledger").order_by("registered_seq")
    assert [hasattr(k, "end") for k in ledger_keys] == [True, True, False]
    recorded = list(Entry.objects.order_by("seq").values_list("recorded", flat=True))
    assert recorded == sorted(recorded)


def _exported() -> bytes:
    import io

    buffer = io.BytesIO()
    export_bundle(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("step_clock", [False, True], ids=["steady clock", "clock stepped back"])
def test_rotation_revocation_and_hand_over_under_eight_writers(committed_db: None,
                                                               step_clock: bool) -> None:
    _check(_run(step_clock))


def test_a_custodial_key_held_here_is_used_after_rotation(committed_db: None) -> None:
    """What the writers rely on: after a rotation the next record is signed by the successor,
    whose private key the server holds."""
    with transaction.atomic():
        services.ensure_ledger_key()
        old = services.issue_custodial_key(owner="rotating")
        new = services.rotate_key(key_id=old.key_id)
        entry = services.record(actor="rotating", kind=KIND, subject="tests/load/r",
                                payload={"n": 1})
    assert entry.key_id == new.key_id
    assert keyring.unseal(new.custody).public_key.key_id == new.key_id

"""Several processes appending at once: the append lock keeps seq gapless and the chain,
the Merkle tree and the nonces intact.

PostgreSQL: 8 processes x 200 entries (advisory lock). SQLite: 4 processes x 100 entries
(BEGIN IMMEDIATE: writers queue on the database lock instead of failing with "database is
locked"). Each test runs only on the database the suite runs on; scripts/test runs both.

The processes are forked after the parent closed its connections; each child opens its
own connection to the test database (settings already name it) and commits for real.
"""

from __future__ import annotations

import base64
import multiprocessing
import random
import sqlite3
from collections import Counter

import pytest
from django.db import connection, connections, transaction

from crypto.canonical import canonical, is_canonical, parse
from crypto.sm2 import PublicKey
from ledger import keyring, selectors, services
from ledger.models import Checkpoint, CustodialKey, LedgerKey
from tests.ledger.helpers import (
    Client,
    NaiveTree,
    all_entries,
    append,
    assert_chain,
    mth,
    register_client,
)

pytestmark = pytest.mark.slow

KIND = "tests.load.appended"


def _append_all(actor: str, submissions: list[services.Submission],
                start: multiprocessing.synchronize.Barrier, errors: multiprocessing.Queue) -> None:
    """Child process: wait for the others, then append each statement in a transaction
    of its own."""
    try:
        start.wait(timeout=60)
        for sub in submissions:
            append(sub)
    except BaseException as exc:
        errors.put(f"{actor}: {type(exc).__name__}: {exc}")
        raise
    finally:
        connections.close_all()


def presigned(actor: str, count: int) -> list[services.Submission]:
    """``count`` statements by ``actor``, signed beforehand with its custodial key (issued
    here), so that the processes spend their time appending."""
    key = services.issue_custodial_key(owner=actor)
    client = Client(actor, keyring.unseal(CustodialKey.objects.get(key=key)), key)
    return [client.submission({"actor": actor, "i": i}, kind=KIND,
                              subject=f"tests/load/{actor}/{i}") for i in range(count)]


def run_concurrently(processes: int, per_process: int) -> None:
    actors = [f"load-{n}" for n in range(processes)]
    work = {actor: presigned(actor, per_process) for actor in actors}
    base = selectors.size()
    assert base == processes + 1  # the ledger key and one key per actor

    connections.close_all()  # children must not share the parent's connection
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(processes)
    errors = ctx.Queue()
    workers = [ctx.Process(target=_append_all, args=(actor, subs, start, errors))
               for actor, subs in work.items()]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    stuck = [w.pid for w in workers if w.is_alive()]
    for worker in workers:
        if worker.is_alive():
            worker.kill()
            worker.join()
    reported = []
    while not errors.empty():
        reported.append(errors.get())
    assert not stuck, f"processes {stuck} did not finish"
    assert not reported, "\n".join(reported)
    assert [w.exitcode for w in workers] == [0] * processes

    check_ledger(actors, per_process, base)


def check_ledger(actors: list[str], per_process: int, base: int) -> None:
    entries = all_entries()
    total = base + len(actors) * per_process
    assert len(entries) == total == selectors.size()

    # seq 0..N-1 with no gap, prev chain and leaf hashes intact
    assert_chain(entries)
    recorded = [e.recorded for e in entries]
    assert recorded == sorted(recorded)

    # every actor's entries are all there, each nonce once
    load = [e for e in entries if e.kind == KIND]
    assert Counter(e.actor for e in load) == dict.fromkeys(actors, per_process)
    pairs = [(e.actor, e.nonce) for e in entries]
    assert len(set(pairs)) == len(pairs)
    subjects = {e.subject for e in load}
    assert len(subjects) == len(load)

    # they really ran at once: the actors' entries interleave
    switches = sum(1 for a, b in zip(load, load[1:], strict=False) if a.actor != b.actor)
    assert switches > len(actors)

    # each stored entry is canonical and its statement signature verifies
    keys = {k.key_id: PublicKey.from_pem(k.pem) for k in LedgerKey.objects.all()}
    for e in entries:
        data = e.data.encode()
        assert is_canonical(data)
        body = parse(data)
        assert body["seq"] == e.seq
        assert keys[body["statement"]["key"]].verify(base64.b64decode(body["sig"]),
                                                     canonical(body["statement"]))

    # Merkle roots from the database equal a from-scratch recomputation
    leaves = [bytes.fromhex(e.leaf_hash) for e in entries]
    assert selectors.root(total) == mth(leaves)
    tree = NaiveTree(leaves)
    rng = random.Random(total)
    sizes = {1, 2, base, base + 1, total - 1} | {rng.randint(1, total) for _ in range(25)}
    power = 1
    while power <= total:
        sizes.add(power)
        power *= 2
    for size in sorted(sizes):
        assert selectors.root(size) == tree.root(size), f"root of size {size}"

    # checkpoints sealed meanwhile (embedded default) are all of this tree
    for checkpoint in Checkpoint.objects.all():
        assert checkpoint.root == tree.root(checkpoint.size).hex()


@pytest.mark.django_db
def test_an_open_append_holds_the_lock_until_its_transaction_ends():
    """While an append's transaction is open, another connection cannot start appending.

    (This ordinary database test also makes pytest-django create the test database when
    this module runs alone: it does so only for sessions that hold such a test.)"""
    client = register_client("alice")
    with transaction.atomic():
        sub = client.submission({"n": 1})
        services.append(sub.statement, sub.signature, sub.payload, sub.salt)
        params = connection.settings_dict
        if connection.vendor == "postgresql":
            import psycopg2

            pid = connection.connection.get_backend_pid()
            other = psycopg2.connect(**connection.get_connection_params())
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                   " AND granted AND pid = %s", [pid])
                    assert cursor.fetchone()[0] >= 1
            finally:
                other.close()
        else:
            other = sqlite3.connect(params["NAME"], timeout=0, isolation_level=None)
            try:
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL run only")
def test_eight_processes_append_1600_entries_on_postgresql(committed_db):
    run_concurrently(processes=8, per_process=200)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite run only")
def test_four_processes_append_400_entries_on_sqlite(committed_db):
    run_concurrently(processes=4, per_process=100)

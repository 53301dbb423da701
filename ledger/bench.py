"""Ledger benchmark: appends/s and proof latency beside `openssl speed sm2`, in one run.

It runs in a scratch database of the configured engine (a temporary SQLite file, or a
temporary PostgreSQL database), so the real ledger never sees benchmark entries.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from crypto.bench import openssl_sm2
from crypto.sm2 import PrivateKey
from ledger import conf, keyring, queue, selectors, services
from ledger.models import LedgerKey
from ledger.protocol.format import (
    VERSION,
    b64encode,
    commit,
    format_time,
    new_salt,
    statement_bytes,
)


@contextlib.contextmanager
def scratch_database() -> Iterator[None]:
    """Point the default connection at a new, migrated, throwaway database."""
    settings_dict = connection.settings_dict
    test = dict(settings_dict.get("TEST") or {})
    old_test = settings_dict.get("TEST")
    if connection.vendor == "sqlite":
        test["NAME"] = f"{settings_dict['NAME']}.bench-{uuid.uuid4().hex[:8]}"
    else:
        test["NAME"] = f"shulian_bench_{uuid.uuid4().hex[:8]}"
    settings_dict["TEST"] = test
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        settings_dict["TEST"] = old_test


@dataclass(frozen=True)
class Signer:
    owner: str
    key_id: str
    pem: str  # private key PKCS#8, plain: bench keys only, thrown away with the database


def make_signers(count: int) -> list[Signer]:
    signers = []
    for number in range(count):
        owner = f"BENCH{number:02d}"
        key = services.issue_custodial_key(owner=owner)
        private = keyring.unseal(key.custody)
        signers.append(Signer(owner, key.key_id, private.to_pem().decode()))
    return signers


def _presign(args: tuple[Signer, str, int, int]) -> list[tuple[dict[str, Any], str, Any, str]]:
    signer, origin, first, count = args
    private = PrivateKey.from_pem(signer.pem)
    result = []
    for number in range(first, first + count):
        payload = {"n": number, "note": "benchmark entry"}
        salt = new_salt()
        statement = {
            "v": VERSION, "ledger": origin, "kind": "bench.entry.appended",
            "actor": signer.owner, "key": signer.key_id, "subject": f"bench/{number}",
            "payload": commit(salt, payload), "nonce": uuid.uuid4().hex,
            "time": format_time(conf.now()),
        }
        signature = b64encode(private.sign(statement_bytes(statement)))
        result.append((statement, signature, payload, b64encode(salt)))
    return result


def presign(signers: list[Signer], first: int, count: int, workers: int = 1) -> list[
    services.Submission
]:
    """``count`` signed statements spread over the signers (in parallel processes)."""
    chunk = 2000
    jobs = [
        (signers[(start // chunk) % len(signers)], services.origin(), start,
         min(chunk, first + count - start))
        for start in range(first, first + count, chunk)
    ]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_presign, jobs))
    else:
        parts = [_presign(job) for job in jobs]
    return [services.Submission(*item) for part in parts for item in part]


def append_batch(subs: list[services.Submission]) -> None:
    """One transaction, as a caller of the ledger has: the append and its commit."""
    with transaction.atomic():
        services.append_many(subs)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _latencies(run: Callable[[], object], samples: int) -> tuple[float, float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def measure_proofs(size: int, samples: int = 200) -> dict[str, float]:
    rng = random.Random(7)
    inclusion = _latencies(lambda: selectors.inclusion_proof(rng.randrange(size), size), samples)
    consistency = _latencies(
        lambda: selectors.consistency_proof(rng.randint(1, size), size), samples
    )
    return {
        "inclusion_proof_ms_median": round(inclusion[0], 3),
        "inclusion_proof_ms_p99": round(inclusion[1], 3),
        "consistency_proof_ms_median": round(consistency[0], 3),
        "consistency_proof_ms_p99": round(consistency[1], 3),
    }


def run(entries: int, batch: int = 500, openssl_seconds: float = 3.0,
        report: Callable[[str], None] = print) -> dict[str, Any]:
    """Single and batched appends, proof latency, and openssl's SM2 figures."""
    services.ensure_ledger_key()
    signers = make_signers(4)
    single_count = max(1, entries // 4)
    report(f"pre-signing {entries} statements (not timed)…")
    subs = presign(signers, 0, entries, workers=2)

    # Batched first, so that single appends are measured on a ledger that already holds
    # entries (its steady state), not on freshly created, empty tables.
    rest = subs[single_count:]
    start = time.perf_counter()
    for offset in range(0, len(rest), batch):
        append_batch(rest[offset : offset + batch])
    batched = _rate(len(rest), time.perf_counter() - start)
    report(f"batched appends: {batched:,.0f}/s ({len(rest)} in batches of {batch})")

    start = time.perf_counter()
    for sub in subs[:single_count]:
        append_batch([sub])
    single = _rate(single_count, time.perf_counter() - start)
    report(f"single appends: {single:,.0f}/s ({single_count} appends, one transaction each)")

    # The two halves of accept-then-integrate, one process each: how fast statements are
    # accepted (signatures verified, queued) and how fast the integrator takes them.
    queued = presign(signers, entries, entries, workers=2)
    in_process, settings.SHULIAN_INTEGRATE_IN_PROCESS = settings.SHULIAN_INTEGRATE_IN_PROCESS, False
    try:
        start = time.perf_counter()
        for offset in range(0, len(queued), queue.BATCH):
            with transaction.atomic():
                services.submit(queued[offset : offset + queue.BATCH])
        accepted = _rate(len(queued), time.perf_counter() - start)
    finally:
        settings.SHULIAN_INTEGRATE_IN_PROCESS = in_process
    start = time.perf_counter()
    integrated_count = queue.drain(seal=False)
    integrated = _rate(integrated_count, time.perf_counter() - start)
    report(f"queue: accepted {accepted:,.0f}/s, integrated {integrated:,.0f}/s "
           f"({len(queued)} in batches of {queue.BATCH}, one process each)")

    custodial_ms, _ = _latencies(
        lambda: services.sign_statement(actor=signers[0].owner, kind="bench.entry.appended",
                                        subject="bench/custodial", payload={"n": -1}),
        100,
    )

    size = selectors.size()
    proofs = measure_proofs(size)
    report(f"proofs at size {size}: {proofs}")
    sign, verify = openssl_sm2(openssl_seconds)
    return {
        "database": connection.vendor,
        "entries": size,
        "single_appends_per_s": round(single, 1),
        "batch_appends_per_s": round(batched, 1),
        "queue_accepted_per_s": round(accepted, 1),
        "queue_integrated_per_s": round(integrated, 1),
        "batch_size": batch,
        "custodial_sign_ms_median": round(custodial_ms, 3),
        **proofs,
        "openssl_sm2_sign_per_s": sign,
        "openssl_sm2_verify_per_s": verify,
        "batch_vs_openssl_verify": round(batched / verify, 3) if verify else None,
        "single_vs_openssl_verify": round(single / verify, 3) if verify else None,
        "keys": LedgerKey.objects.count(),
    }


def fill(entries: int, batch: int = 2000, workers: int = 2,
         report: Callable[[str], None] = print) -> dict[str, Any]:
    """Fill the scratch ledger to ``entries`` (signed in parallel, appended in batches),
    then measure proof latency at that size."""
    services.ensure_ledger_key()
    signers = make_signers(4)
    done = selectors.size()
    start = time.perf_counter()
    step = 50_000
    while done < entries:
        count = min(step, entries - done)
        subs = presign(signers, done, count, workers=workers)
        for offset in range(0, len(subs), batch):
            append_batch(subs[offset : offset + batch])
        done = selectors.size()
        elapsed = time.perf_counter() - start
        report(f"{done:,} entries, {_rate(done, elapsed):,.0f}/s overall")
    fill_rate = _rate(done, time.perf_counter() - start)
    proofs = measure_proofs(done, samples=500)
    report(f"proofs at size {done:,}: {proofs}")
    return {"database": connection.vendor, "entries": done,
            "fill_per_s_including_signing": round(fill_rate, 1), **proofs}


# --- concurrent writers: throughput and how long each waits ------------------------------


def _writer(owner: str, seconds: float, start: Any, results: Any) -> None:
    """A child process: ``record`` in a transaction of its own, for ``seconds``."""
    waits: list[float] = []
    try:
        start.wait(timeout=60)
        stop = time.perf_counter() + seconds
        number = 0
        while time.perf_counter() < stop:
            began = time.perf_counter()
            with transaction.atomic():
                services.record(actor=owner, kind="bench.entry.recorded",
                                subject=f"bench/{owner}/{number}", payload={"n": number})
            waits.append(time.perf_counter() - began)
            number += 1
        results.put(waits)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(exc)
    finally:
        connection.close()


def writers(count: int, seconds: float = 10.0, report: Callable[[str], None] = print) -> (
    dict[str, Any]
):
    """``count`` processes recording at once: appends/s and each append's latency (its wait
    for the lock included): median, p99 and the worst."""
    import multiprocessing

    services.ensure_ledger_key()
    owners = [signer.owner for signer in make_signers(count)]
    connection.close()
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(count + 1), ctx.Queue()
    processes = [ctx.Process(target=_writer, args=(owner, seconds, start, results))
                 for owner in owners]
    for process in processes:
        process.start()
    start.wait(timeout=60)
    found = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    failed = [item for item in found if isinstance(item, BaseException)]
    if failed:
        raise RuntimeError(f"a writer failed: {failed[0]!r}")
    waits = sorted(wait for item in found for wait in item)
    report(f"{len(waits)} appends by {count} writers in {seconds:.0f} s")
    return {
        "database": connection.vendor, "writers": count,
        "record_appends_per_s": round(len(waits) / seconds, 1),
        "latency_ms_median": round(statistics.median(waits) * 1000, 1),
        "latency_ms_p99": round(waits[min(len(waits) - 1, int(len(waits) * 0.99))] * 1000, 1),
        "latency_ms_max": round(waits[-1] * 1000, 1),
    }

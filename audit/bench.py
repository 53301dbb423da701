"""Verification throughput beside ``openssl speed sm2``, measured in the same run.

``python -m audit.bench --entries N --workers W [--json]`` builds a synthetic in-memory
ledger of N entries (a handful of signing keys, checkpoints every 1,000 entries and at the
end), then times the full verification core with W worker processes. It reports
``verified_per_s`` next to OpenSSL's single-core SM2 verify/s and the ratio
verified_per_s / (openssl per-core x W). As wall-clock figures suffer when other processes
share the machine, it also reports entries per CPU-second (this process and its workers) and
that figure's ratio to openssl per core. With ``--json`` the last line is one JSON object.
Pure: no database, no Django.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.core import verify
from audit.proofs import RangeTree
from audit.view import LedgerView, Prefix, Stored
from crypto.bench import openssl_sm2
from crypto.sm2 import PrivateKey
from ledger.protocol import note as notes
from ledger.protocol.format import (
    VERSION,
    ZERO_HASH,
    b64encode,
    commit,
    entry_bytes,
    format_time,
    leaf_hash,
    make_entry,
    new_salt,
    statement_bytes,
)
from ledger.protocol.records import KEY_REGISTERED, key_subject

ORIGIN = "shulian.bench"
ACTORS = 4
CHECKPOINT_EVERY = 1000
_SIGNERS: dict[str, PrivateKey] = {}


def _init_signer(pems: dict[str, bytes]) -> None:
    _SIGNERS.update({kid: PrivateKey.from_pem(pem) for kid, pem in pems.items()})


def _sign_chunk(items: list[tuple[str, bytes]]) -> list[bytes]:
    return [_SIGNERS[kid].sign(data) for kid, data in items]


def _registration(code: str, use: str, key: PrivateKey, valid_from: str) -> dict[str, Any]:
    return {"key": key.public_key.key_id, "owner": code, "name": code, "use": use,
            "pem": key.public_key.pem, "valid_from": valid_from, "valid_until": None,
            "replaces": None}


def _statement(seq: int, actor: str, kid: str, kind: str, subject: str, payload: Any,
               time: str) -> tuple[dict[str, Any], str]:
    """(statement, base64 salt) committing to ``payload``."""
    salt = new_salt()
    return {
        "v": VERSION, "ledger": ORIGIN, "kind": kind, "actor": actor, "key": kid,
        "subject": subject, "payload": commit(salt, payload), "nonce": f"{actor}-{seq}",
        "time": time,
    }, b64encode(salt)


def _sign_all(statements: list[dict[str, Any]], keys: dict[str, PrivateKey],
              workers: int) -> list[bytes]:
    items = [(s["key"], statement_bytes(s)) for s in statements]
    chunks = [items[i:i + 2000] for i in range(0, len(items), 2000)]
    pems = {kid: key.to_pem() for kid, key in keys.items()}
    if workers <= 1:
        _init_signer(pems)
        return [sig for chunk in chunks for sig in _sign_chunk(chunk)]
    with ProcessPoolExecutor(workers, initializer=_init_signer, initargs=(pems,)) as pool:
        return [sig for result in pool.map(_sign_chunk, chunks) for sig in result]


def _plan(n: int, actors: int, start: datetime) -> tuple[
    list[tuple[dict[str, Any], Stored]], dict[str, PrivateKey]
]:
    """Statements and payloads: entry 0 registers the ledger key (self-signed), the next
    ones register the actors' keys, the rest are the actors' transactions."""
    since = format_time(start - timedelta(minutes=10))
    ledger_key = PrivateKey.generate()
    keys = {ledger_key.public_key.key_id: ledger_key}
    registrations = [_registration(ORIGIN, "ledger", ledger_key, since)]
    signers = []
    for number in range(actors):
        code, key = f"merchant.{number:02d}", PrivateKey.generate()
        keys[key.public_key.key_id] = key
        registrations.append(_registration(code, "statement", key, since))
        signers.append((code, key.public_key.key_id))
    plan = []
    for seq in range(n):
        time = format_time(start + timedelta(milliseconds=seq))
        if seq < len(registrations):
            payload: Any = registrations[seq]
            statement, salt = _statement(seq, ORIGIN, ledger_key.public_key.key_id,
                                         KEY_REGISTERED, key_subject(payload["key"]), payload,
                                         time)
        else:
            code, kid = signers[seq % len(signers)]
            payload = {"n": seq, "amount": f"{seq % 1000}.00", "currency": "CNY"}
            statement, salt = _statement(seq, code, kid, "contracts.transaction.recorded",
                                         f"contracts/transaction/{seq}", payload, time)
        plan.append((statement, Stored(salt, payload)))
    return plan, keys


def synthetic_view(n: int, *, workers: int = 1, actors: int = ACTORS,
                   every: int = CHECKPOINT_EVERY) -> LedgerView:
    """An in-memory ledger of ``n`` valid entries as a LedgerView, checkpoints included."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    plan, keys = _plan(n, actors, start)
    ledger_key = next(iter(keys.values()))
    signatures = _sign_all([statement for statement, _ in plan], keys, workers)
    entries, checkpoints, payloads = [], [], {}
    tree = RangeTree(0, [], keep=())
    prev = ZERO_HASH
    for seq, ((statement, stored), sig) in enumerate(zip(plan, signatures, strict=True)):
        line = entry_bytes(make_entry(seq=seq, prev=prev, statement=statement,
                                      sig=b64encode(sig), recorded=statement["time"]))
        entries.append(line)
        payloads[seq] = stored
        leaf = leaf_hash(line)
        prev = leaf.hex()
        tree.add(leaf)
        if tree.size() % every == 0 or tree.size() == n:
            sig_line = notes.sign(ORIGIN, tree.size(), tree.root(), ORIGIN, ledger_key)
            checkpoints.append(
                notes.Checkpoint(ORIGIN, tree.size(), tree.root(), (sig_line,)).text()
            )
    return LedgerView(ORIGIN, Prefix(), entries, payloads, checkpoints, (), count=n)


def run(entries: int, workers: int, *, openssl_seconds: int = 3) -> dict[str, Any]:
    """Build, measure OpenSSL, then time verification; the figures as a dict."""
    view = synthetic_view(entries, workers=workers)
    openssl = openssl_sm2(openssl_seconds)[1]
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    report = verify(view, workers=workers)
    elapsed = time.perf_counter() - began
    cpu = _cpu_seconds() - cpu_before
    verified = entries / elapsed
    per_cpu = entries / cpu if cpu > 0 else None
    return {
        "entries": entries,
        "workers": workers,
        "seconds": round(elapsed, 3),
        "ok": report.ok,
        "failures": len(report.failures),
        "verified_per_s": round(verified, 1),
        "openssl_sm2_verify_per_s": openssl,
        "ratio": round(verified / (openssl * workers), 3) if openssl else None,
        "cpu_seconds": round(cpu, 3),
        "verified_per_cpu_s": round(per_cpu, 1) if per_cpu else None,
        "cpu_ratio": round(per_cpu / openssl, 3) if openssl and per_cpu else None,
    }


def _cpu_seconds() -> float:
    """User+system CPU of this process and its finished children (the worker pool)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.bench", description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--openssl-seconds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    if args.entries < 1 or args.workers < 1:
        parser.error("--entries and --workers must be at least 1")
    figures = run(args.entries, args.workers, openssl_seconds=args.openssl_seconds)
    openssl = figures["openssl_sm2_verify_per_s"]
    print(f"verified {figures['entries']} entries with {figures['workers']} worker(s) in "
          f"{figures['seconds']} s: {figures['verified_per_s']} entries/s "
          f"({'valid' if figures['ok'] else 'INVALID'})")
    print(f"openssl speed sm2: {openssl} verify/s per core; ratio to openssl x workers: "
          f"{figures['ratio']} (target >= 0.7)")
    print(f"CPU time {figures['cpu_seconds']} s: {figures['verified_per_cpu_s']} entries per "
          f"CPU-second, {figures['cpu_ratio']} of openssl per core (insensitive to other load)")
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

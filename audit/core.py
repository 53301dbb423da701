"""The one verification core: checks a range of the ledger and reports every failure.

Both paths use it: the offline verifier over a bundle (:mod:`audit.bundle`) and the online
``verify_ledger`` over database rows (:mod:`audit.views_of_ledger`). Its input is a
:class:`~audit.view.LedgerView`; :func:`verify` returns a :class:`~audit.report.Report`
listing every failure with its seq and code; nothing is raised for bad data.

Whether each statement is acceptable at its position is decided by
:func:`ledger.protocol.rules.refusals`, the function the append path calls, with the key
state rebuilt from the chain (the bundle's ``keys.jsonl`` for what precedes its range, then
the range's own ``ledger.key.*`` entries). Per-entry checks run in chunks across processes
(:mod:`audit.entries`); the cross-entry checks run here, in order (:mod:`audit.chain`), then
the checkpoints (:mod:`audit.checkpoints`).

No Django: ``python -m audit.offline`` needs only the installed package.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from audit.chain import Chain, start_tree
from audit.checkpoints import (
    check_claims,
    check_roots,
    check_signers,
    check_witnesses,
    parse_notes,
)
from audit.entries import Followed, Progress, checked_entries
from audit.proofs import consistency_keys
from audit.report import Failure, Report
from audit.view import LedgerView, PayloadSource, Prefix, Stored, StoredEntry
from crypto.sm2 import PublicKey
from ledger.protocol.checkpoints import Witness, WitnessKey
from ledger.protocol.format import FormatError
from ledger.protocol.keystate import KeyPosition, KeyState
from ledger.protocol.rules import Code

CHUNK = 2000

__all__ = ["CHUNK", "Failure", "LedgerView", "Prefix", "Report", "Stored", "StoredEntry",
           "Witness", "verify"]


def _key_state(view: LedgerView, report: Report) -> KeyState:
    """The key state at the range's start, from keys.jsonl; bad records are reported."""
    state = KeyState(view.origin)
    for number, record in enumerate(view.keys, 1):
        try:
            one = KeyState.from_records(view.origin, [record], view.prefix.size)
        except FormatError as exc:  # exc.field names the one record given as "line 1"
            field = exc.field.removeprefix("keys.jsonl line 1").lstrip(".") or "record"
            report.fail(None, f"keys.jsonl line {number}: {exc.reason} ({field})",
                        Code.KEY_STATE)
            continue
        for position in one:
            if position.record.key in state:
                report.fail(None, f"keys.jsonl line {number}: key {position.record.key[:16]} "
                            "appears twice", Code.KEY_STATE)
            else:
                state.add(position)
    return state


def _anchor(pinned: str, keys: KeyState, report: Report) -> None:
    """The first ledger key (registered by entry 0) must be the one the auditor pinned."""
    first = [p for p in keys if p.registered == 0 and p.record.use == "ledger"]
    if not first:
        report.fail(None, f"the pinned ledger key {pinned[:16]} is not the key entry 0 "
                    "registers: no such entry or key record", Code.ANCHOR)
    elif first[0].record.key != pinned:
        report.fail(0, f"entry 0 registers ledger key {first[0].record.key[:16]}, not the "
                    f"pinned trust anchor {pinned[:16]}", Code.ANCHOR)


def _redactions(followed: Followed, payloads: Mapping[int, Stored] | PayloadSource,
                report: Report) -> None:
    """An erased payload must be gone: from a bundle, and from a database."""
    report.redacted = dict(followed.redactions)
    report.erased_under = dict(followed.bases)
    targets = sorted(followed.redactions)
    present = set(payloads.get_many(targets)) if isinstance(payloads, PayloadSource) else \
        {seq for seq in targets if seq in payloads}
    for target in sorted(present):
        report.fail(target, f"the payload of entry {target} was erased by entry "
                    f"{followed.redactions[target]}, yet it is here", Code.REDACTION_IGNORED)


def _stray_payloads(payloads: object, chain: Chain, report: Report) -> None:
    if isinstance(payloads, Mapping):
        end = max(chain.max_seq, chain.position - 1)
        for seq in sorted(s for s in payloads if not chain.start <= s <= end):
            report.fail(seq, "there is a payload for this seq but no entry", Code.ENTRY)


def _facts(position: KeyPosition, *, replaces: bool, last: int) -> dict[str, object]:
    record = position.record
    facts: dict[str, object] = {
        "owner": record.owner, "name": record.name, "use": record.use, "pem": record.pem,
        "valid_from": record.valid_from, "valid_until": record.valid_until,
        "registered": position.registered,
        "ended": position.ended if position.ended is not None and position.ended <= last
        else None,
    }
    if replaces:  # keys.jsonl does not say what a key replaced
        facts["replaces"] = record.replaces
    return facts


def _differences(cached: KeyPosition, position: KeyPosition, first: int, last: int) -> (
    list[str]
):
    replaces = position.registered >= first
    said = _facts(position, replaces=replaces, last=last)
    have = _facts(cached, replaces=replaces, last=last)
    return [f"{name} is {have[name]!r} in the cache, {said[name]!r} in the chain"
            for name in said if have[name] != said[name]]


def _key_cache(cache: Sequence[KeyPosition], keys: KeyState, first: int, last: int,
               report: Report) -> None:
    """The key cache rows against the key state the entries give (up to ``last``)."""
    seen = set()
    for cached in cache:
        kid = cached.record.key
        if cached.registered > last:
            continue
        seen.add(kid)
        position = keys.get(kid)
        if position is None:
            report.fail(cached.registered, f"the key cache holds key {kid[:16]}, which "
                        "no entry registers", Code.KEY_CACHE)
            continue
        for difference in _differences(cached, position, first, last):
            report.fail(position.registered, f"key {kid[:16]}: {difference}", Code.KEY_CACHE)
    for position in keys:
        if position.record.key not in seen and position.registered <= last:
            report.fail(position.registered, f"key {position.record.key[:16]}, registered by "
                        "this entry, is missing from the key cache", Code.KEY_CACHE)


def verify(
    view: LedgerView,
    *,
    ledger_key: PublicKey | str | None = None,
    witnesses: Sequence[WitnessKey] | None = None,
    k: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> Report:
    """Check everything in ``view``; every failure is in the report, none is raised.

    ``ledger_key`` (a public key or its key id) pins the trust anchor: the ledger key that
    entry 0 registers. Checkpoints must be signed by the ledger key live for their size,
    as the chain says. ``witnesses`` default to the witness keys live for each checkpoint;
    with ``k``, each checkpoint size is reported settled when at least k distinct witnesses
    cosigned it. ``workers`` processes check signatures (default: the CPU count; 1 runs
    everything in this process); ``progress`` is called with the number of entries in each
    finished chunk.
    """
    report = Report(checkpoints=len(view.checkpoints))
    keys = _key_state(view, report)
    parsed = parse_notes(view.checkpoints, view.origin, report)
    sizes = {item.size for item in parsed} | {claim.size for claim in view.claims}
    sizes = {size for size in sizes if size > view.prefix.size}
    tree = start_tree(view.prefix, consistency_keys(sorted(sizes)), report)
    followed = Followed(keys, view.prefix.size)
    chain = Chain(view.prefix, report, tree, sizes, view.nodes)
    for checked in checked_entries(view.entries, followed, view.payloads,
                                   workers=workers or os.cpu_count() or 1, chunk=chunk,
                                   progress=progress):
        chain.add(checked)
    chain.finish()
    _stray_payloads(view.payloads, chain, report)
    if ledger_key is not None:
        _anchor(ledger_key.key_id if isinstance(ledger_key, PublicKey) else ledger_key,
                followed.keys, report)
    check_signers(parsed, followed.keys, report)
    check_witnesses(parsed, followed.keys, witnesses, k, report)
    check_roots(parsed, chain, report, sealed=view.sealed)
    check_claims(view.claims, chain, report)
    _redactions(followed, view.payloads, report)
    if view.key_cache is not None and report.first is not None and report.last is not None:
        _key_cache(view.key_cache, followed.keys, report.first, report.last, report)
    return report

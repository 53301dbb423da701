"""Checkpoint checks: each note parses and is for this ledger, its first line is signed by the
ledger key live for its size (ledger.protocol.checkpoints), its root is the one the entries
give, no two roots for one size, successive ones consistent; witnesses' cosignatures counted;
and what the newest checkpoint (or a witness) says about how far the ledger reaches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from audit.chain import Chain
from audit.proofs import RangeTree, consistency_path
from audit.report import Report
from audit.view import Claim
from ledger.protocol import note as notes
from ledger.protocol.checkpoints import WitnessKey, cosigners, live_witnesses, signer_problem
from ledger.protocol.keystate import KeyState
from ledger.protocol.merkle import SM3, verify_consistency
from ledger.protocol.rules import Code


class Note(NamedTuple):
    size: int
    root: bytes
    checkpoint: notes.Checkpoint


def parse_notes(texts: Sequence[str], origin: str, report: Report) -> list[Note]:
    parsed = []
    for number, text in enumerate(texts, 1):
        try:
            checkpoint = notes.parse(text)
        except notes.NoteError as exc:
            report.fail(None, f"checkpoint #{number} is not a valid note: {exc}",
                        Code.CHECKPOINT)
            continue
        if checkpoint.origin != origin:
            report.fail(None, f"checkpoint of size {checkpoint.size} is for origin "
                        f"{checkpoint.origin!r}, not {origin!r}", Code.CHECKPOINT,
                        checkpoint.size)
            continue
        parsed.append(Note(checkpoint.size, checkpoint.root, checkpoint))
    return parsed


def check_signers(parsed: list[Note], keys: KeyState, report: Report) -> None:
    for item in parsed:
        problem = signer_problem(item.checkpoint, keys)
        if problem:
            report.fail(None, f"checkpoint of size {item.size}: {problem}",
                        Code.CHECKPOINT_SIGNER, item.size)


def check_witnesses(parsed: list[Note], keys: KeyState, trusted: Sequence[WitnessKey] | None,
                    k: int | None, report: Report) -> None:
    """Count valid cosignatures by the witness keys live for each checkpoint's size (of
    those, only the auditor's ``trusted`` witnesses, when given); a line matching one of
    them must verify."""
    for item in parsed:
        live = live_witnesses(keys, item.size)
        witnesses: Sequence[WitnessKey] = live
        if trusted is not None:
            live_ids = {(w.name, w.key.key_id) for w in live}
            witnesses = [w for w in trusted if (w.name, w.key.key_id) in live_ids]
        valid, problems = cosigners(item.checkpoint, witnesses)
        for problem in problems:
            report.fail(None, f"checkpoint of size {item.size}: {problem}", Code.COSIGNATURE,
                        item.size)
        names = set(report.cosigned.get(item.size, ())) | set(valid)
        report.cosigned[item.size] = sorted(names)
        if k is not None:
            report.settled[item.size] = len(names) >= k


def check_roots(parsed: list[Note], chain: Chain, report: Report, *, sealed: bool) -> None:
    """Each root against the recomputed one; forks; consistency; coverage of the newest
    entries (a failure for a bundle, ``sealed``; else reported as uncovered)."""
    if report.last is None:
        return
    last = report.last
    by_size: dict[int, set[bytes]] = {}
    for item in parsed:
        by_size.setdefault(item.size, set()).add(item.root)
    for size, roots in sorted(by_size.items()):
        if len(roots) > 1:
            report.fail(None, f"{len(roots)} checkpoints of size {size} have different roots "
                        "(a fork)", Code.FORK, size)
        if size <= chain.start:
            report.fail(None, f"checkpoint of size {size} covers no entry of this range, which "
                        f"starts at seq {chain.start}", Code.CHECKPOINT, size)
        elif size > last + 1:
            report.fail(None, f"checkpoint of size {size} is beyond the last entry (seq {last}): "
                        f"entries {last + 1}..{size - 1} are missing", Code.TRUNCATED, size)
        elif chain.tree is not None:
            recomputed = chain.roots[size]
            for root in sorted(roots - {recomputed}):
                report.fail(None, f"checkpoint of size {size}: root {root.hex()} does not match "
                            f"the root recomputed from the entries, {recomputed.hex()}",
                            Code.CHECKPOINT_ROOT, size)
    covered = max((size for size in by_size if size <= last + 1), default=chain.start)
    if covered < last + 1:
        if sealed:
            report.fail(last, f"no checkpoint covers the last entry (none has size {last + 1})",
                        Code.UNCOVERED)
        else:
            report.uncovered = (max(covered, chain.start), last)
    if chain.tree is not None:
        _check_consistency(by_size, chain, chain.tree, last, report)


def _check_consistency(by_size: dict[int, set[bytes]], chain: Chain, tree: RangeTree,
                       last: int, report: Report) -> None:
    """An explicit RFC 9162 consistency proof between each pair of successive checkpoints."""
    sizes = sorted(size for size in by_size if chain.start < size <= last + 1)
    for old, new in zip(sizes, sizes[1:], strict=False):
        if len(by_size[old]) != 1 or len(by_size[new]) != 1:
            continue
        (old_root,), (new_root,) = by_size[old], by_size[new]
        path = consistency_path(tree, old, new)
        if not verify_consistency(old, new, old_root, new_root, path, SM3):
            report.fail(None, f"checkpoints of size {old} and {new} are not consistent: no "
                        "consistency proof from the entries links their roots",
                        Code.CONSISTENCY, new)


def check_claims(claims: Sequence[Claim], chain: Chain, report: Report) -> None:
    """What witnesses say they cosigned: beyond the last entry means entries are missing
    (not merely unsealed); within it, the root must be the one the entries give."""
    if report.last is None:
        return
    last = report.last
    for claim in claims:
        if claim.size > last + 1:
            report.fail(None, f"{claim.source} cosigned a checkpoint of size {claim.size}, but "
                        f"the ledger ends at seq {last}: entries {last + 1}..{claim.size - 1} "
                        "are missing", Code.TRUNCATED, claim.size)
        elif claim.root is not None and claim.size in chain.roots and \
                chain.roots[claim.size].hex() != claim.root:
            report.fail(None, f"{claim.source} cosigned root {claim.root} for size "
                        f"{claim.size}; the entries give {chain.roots[claim.size].hex()}",
                        Code.FORK, claim.size)

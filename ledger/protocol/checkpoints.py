"""Who may sign a checkpoint of size s, and whose cosignatures of it count.

A checkpoint of size s must be signed first by a ledger key live for entry s (registered
within the tree, neither revoked nor replaced within it); a witness cosignature counts only
if its key, of use ``witness``, is live for entry s (docs/ledger-format.md section 8). The
key state given must have followed the chain at least up to entry s-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from crypto.sm2 import PublicKey
from ledger.protocol import note as notes
from ledger.protocol.keystate import KeyPosition, KeyState


class WitnessKey(Protocol):
    """A witness an auditor trusts: its name on cosignature lines and its public key."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> PublicKey: ...


@dataclass(frozen=True)
class Witness:
    name: str
    key: PublicKey


def _describe(position: KeyPosition) -> str:
    ended = f", {position.how or 'ended'} at entry {position.ended}" \
        if position.ended is not None else ""
    return f"registered at entry {position.registered}{ended}"


def signer_problem(checkpoint: notes.Checkpoint, keys: KeyState) -> str | None:
    """Why the checkpoint's first signature line is not a valid ledger signature, or None."""
    first = checkpoint.signatures[0]
    size = checkpoint.size
    if first.name != checkpoint.origin:
        return f"the first signature line is by {first.name!r}, not by the ledger"
    ledger_keys = [p for p in keys if p.record.use == "ledger"
                   and notes.key_hint(p.record.key) == first.hint]
    live = [p for p in ledger_keys if p.live_for(size)]
    if not live:
        if ledger_keys:
            return (f"signed by ledger key {ledger_keys[0].record.key[:16]} "
                    f"({_describe(ledger_keys[0])}), which is not live for entry {size}")
        return f"not signed by a ledger key of this ledger (key hint {first.hint.hex()})"
    if not any(notes.verify_signature(checkpoint.body, first, p.record.public_key)
               for p in live):
        return "the ledger signature does not verify"
    return None


def live_witnesses(keys: KeyState, size: int) -> list[Witness]:
    """The witness keys whose cosignatures of a checkpoint of ``size`` count."""
    return [Witness(p.record.name, p.record.public_key) for p in keys.live(size, use="witness")]


def cosigners(checkpoint: notes.Checkpoint, witnesses: Sequence[WitnessKey]) -> (
    tuple[list[str], list[str]]
):
    """(names of the witnesses whose cosignature verifies, problems), both sorted.

    A line whose name and key hint match a known witness must verify (a forged cosignature
    is a problem); lines from unknown names or keys are ignored.
    """
    valid: set[str] = set()
    problems: list[str] = []
    body = checkpoint.body
    for sig in checkpoint.signatures[1:]:
        known = [w for w in witnesses
                 if w.name == sig.name and notes.key_hint(w.key.key_id) == sig.hint]
        if not known:
            continue
        if any(notes.verify_cosignature(body, sig, w.key) for w in known):
            valid.add(sig.name)
        else:
            problems.append(f"the cosignature of witness {sig.name!r} does not verify")
    return sorted(valid), sorted(set(problems))

"""Demo witnesses: cosignatures made in-process for ``load_demo``, which starts no witness
process. Their private keys are derived from their names: demo data only."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crypto.sm2 import PrivateKey
from crypto.sm3 import sm3
from ledger import checkpoints, registry, selectors
from ledger.models import Checkpoint, Cosignature, LedgerKey
from ledger.protocol import note as notes


@dataclass(frozen=True)
class DemoWitness:
    """A demo witness whose private key is derived from its name (demo data only!)."""

    name: str
    owner: str
    key: PrivateKey

    @classmethod
    def derive(cls, name: str, owner: str) -> DemoWitness:
        scalar = int.from_bytes(sm3(b"shulian demo witness key/" + name.encode()), "big")
        return cls(name, owner, PrivateKey.from_scalar(scalar % (2**255) + 1))


def demo_witnesses(departments: Iterable[tuple[str, str]]) -> list[DemoWitness]:
    """Register (once) a demo witness key per (witness name, department code)."""
    found = []
    for name, owner in departments:
        witness = DemoWitness.derive(name, owner)
        if not LedgerKey.objects.filter(key_id=witness.key.public_key.key_id).exists():
            registry.register_witness(name=name, pem=witness.key.public_key.pem,
                                      owner_code=owner)
        found.append(witness)
    return found


def demo_cosign(checkpoints: Iterable[Checkpoint], witnesses: Sequence[DemoWitness]) -> int:
    """Cosign ``checkpoints`` in-process with the demo witnesses; returns rows created.

    Each checkpoint is first checked the way a witness would: its root is the ledger's root
    at its size (so it extends every checkpoint before it). A witness cosigns only the
    checkpoints its key is live for (registered by an entry before the checkpoint's size).
    """
    done = set(Cosignature.objects.values_list("checkpoint_id", "witness"))
    registered = dict(LedgerKey.objects.filter(
        key_id__in=[w.key.public_key.key_id for w in witnesses]).values_list(
        "key_id", "registered_seq"))
    rows = []
    for checkpoint in sorted(checkpoints, key=lambda c: c.size):
        missing = [w for w in witnesses if (checkpoint.pk, w.name) not in done
                   and registered.get(w.key.public_key.key_id, checkpoint.size) < checkpoint.size]
        if not missing:
            continue
        if selectors.root(checkpoint.size).hex() != checkpoint.root:
            raise ValueError(f"checkpoint {checkpoint.size} does not match the ledger's tree")
        body = notes.parse(checkpoint.note).body
        for witness in missing:
            sig = notes.cosign(body, witness.name, witness.key, int(time.time()))
            rows.append(Cosignature(checkpoint=checkpoint, witness=witness.name,
                                    key_id=witness.key.public_key.key_id,
                                    timestamp=notes.cosignature_time(sig), line=sig.line()))
    Cosignature.objects.bulk_create(rows)
    return len(rows)



def demo_settle(departments: Iterable[tuple[str, str]]) -> list[DemoWitness]:
    """For ``load_demo``: register the demo witnesses, seal, and cosign every checkpoint.

    Call it last (entries appended afterwards are covered by later, uncosigned checkpoints
    until it is called again); it is idempotent.
    """
    demo = demo_witnesses(departments)
    checkpoints.seal_checkpoint()
    demo_cosign(selectors.checkpoints(), demo)
    return demo

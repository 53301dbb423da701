"""Sealing checkpoints: a signed tree head of the whole ledger, by the ledger key live for it.

A checkpoint of size s is signed by the ledger key live for entry s (the rule of
ledger.protocol.checkpoints), read under the append lock so that no rotation slips between
choosing the key and fixing the size. After it commits, the witnesses are asked to cosign.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ledger import conf, jobs, keyring, keystore, store
from ledger.errors import LedgerKeyMissing
from ledger.models import Checkpoint
from ledger.protocol import note
from ledger.protocol.merkle import SM3, frontier_root


def seal_checkpoint() -> Checkpoint | None:
    """Sign a checkpoint of the current tree unless the newest one already covers it."""
    with transaction.atomic():
        store.lock_for_append()
        size = store.tail().size
        latest = Checkpoint.objects.order_by("-size").first()
        if size == 0 or (latest is not None and latest.size >= size):
            return latest
        signing = keystore.ledger_key_live_for(size)
        if signing is None:
            raise LedgerKeyMissing(f"no ledger key held here is live for entry {size}")
        root = frontier_root(store.frontier(size), SM3)
        signature = note.sign(conf.origin(), size, root, conf.origin(),
                              keyring.unseal(signing.custody))
        checkpoint = note.Checkpoint(conf.origin(), size, root, (signature,))
        sealed = Checkpoint.objects.create(size=size, root=root.hex(), note=checkpoint.text())
        if settings.SHULIAN_WITNESSES:
            jobs.after_commit(jobs.COLLECT_COSIGNATURES, sealed.size)
        return sealed

"""The ledger's write API, for the other apps: one import for every way to change it.

* appending signed statements: :func:`append`, :func:`append_many` (:mod:`ledger.append`),
  in the caller's transaction; or accepting them into the queue, integrated in batches
  after the caller's commit: :func:`submit` (:mod:`ledger.queue`);
* statements the server signs for an actor: :func:`record`, :func:`sign_statement`
  (:mod:`ledger.signing`);
* the key registry: :func:`ensure_ledger_key`, :func:`register_key`,
  :func:`issue_custodial_key`, :func:`rotate_key`, :func:`revoke_key`,
  :func:`register_witness` (:mod:`ledger.registry`);
* checkpoints: :func:`seal_checkpoint` (:mod:`ledger.checkpoints`);
* erasure of a payload: :func:`redact_payload` (:mod:`ledger.redaction`).

Every one of them must run inside the caller's ``transaction.atomic()`` when it records a
change of the caller's, so that the change and its entry commit together.
"""

from __future__ import annotations

from ledger.append import append, append_many
from ledger.checkpoints import seal_checkpoint
from ledger.conf import origin
from ledger.integration import Submission
from ledger.queue import submit
from ledger.redaction import redact_payload
from ledger.registry import (
    ensure_ledger_key,
    issue_custodial_key,
    register_key,
    register_witness,
    revoke_key,
    rotate_key,
)
from ledger.signing import record, sign_statement

__all__ = [
    "Submission", "append", "append_many", "ensure_ledger_key", "issue_custodial_key",
    "origin", "record", "redact_payload", "register_key", "register_witness", "revoke_key",
    "rotate_key", "seal_checkpoint", "sign_statement", "submit",
]

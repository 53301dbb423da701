"""Checks an auditor runs on cosigned checkpoints and on a witness's split-view evidence.

* :func:`settlement`: whether the known witnesses that validly cosigned a checkpoint note
  (:func:`ledger.protocol.checkpoints.cosigners`) make k.
* :func:`check_evidence`: is a record printed by ``python -m audit.witness evidence --json``
  genuine evidence against the ledger (a fork: both notes signed by the ledger's key)?

Pure functions; no Django.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from crypto.sm2 import PublicKey
from ledger.protocol import note as notes
from ledger.protocol.checkpoints import WitnessKey, cosigners


def settlement(checkpoint: notes.Checkpoint, witnesses: Sequence[WitnessKey], k: int) -> (
    tuple[bool, list[str]]
):
    """(settled: at least k distinct known witnesses validly cosigned, problems)."""
    valid, problems = cosigners(checkpoint, witnesses)
    return len(valid) >= k, problems


def _ledger_signed(checkpoint: notes.Checkpoint, keys: Sequence[PublicKey]) -> bool:
    return any(
        sig.name == checkpoint.origin and notes.verify_signature(checkpoint.body, sig, key)
        for sig in checkpoint.signatures
        for key in keys
        if sig.hint == notes.key_hint(key.key_id)
    )


def _note(record: Mapping[str, Any], part: str, problems: list[str]) -> notes.Checkpoint | None:
    try:
        return notes.parse(record[part]["note"])
    except (KeyError, TypeError):
        problems.append(f"{part}: the record has no note")
    except notes.NoteError as exc:
        problems.append(f"{part}: not a valid note ({exc})")
    return None


def _proof(record: Mapping[str, Any]) -> list[bytes] | None:
    try:
        return [base64.b64decode(item, validate=True) for item in record["proof"]]
    except (KeyError, TypeError, binascii.Error):
        return None


def check_evidence(record: Mapping[str, Any], ledger_keys: Sequence[PublicKey]) -> list[str]:
    """Problems that make ``record`` NOT evidence against the ledger; empty if it is.

    Only a ``fork`` is evidence: two ledger-signed checkpoints of one size with different
    roots, which proves the split view on its own. A proof that does not link two
    checkpoints proves nothing (whoever sent it may have made it up), so an
    ``inconsistent`` record, which earlier witness versions kept, is not evidence; the
    entries of a bundle that reproduce the cosigned root are (``audit.offline verify`` with
    the cosigned note added to the bundle's checkpoints).
    """
    problems: list[str] = []
    kind = record.get("kind")
    if kind != "fork":
        problems.append(f"a {kind!r} record is no evidence: only a fork (two ledger-signed "
                        "checkpoints of one size with different roots) is")
    cosigned = _note(record, "cosigned", problems)
    presented = _note(record, "presented", problems)
    if cosigned is None or presented is None:
        return problems
    if cosigned.origin != presented.origin:
        problems.append("the two notes are for different ledgers")
    for part, checkpoint in (("cosigned", cosigned), ("presented", presented)):
        if not _ledger_signed(checkpoint, ledger_keys):
            problems.append(f"{part}: the note is not signed by the ledger's key")
    if cosigned.size != presented.size or cosigned.root == presented.root:
        problems.append("a fork needs two notes of one size with different roots")
    return problems

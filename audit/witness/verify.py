"""Checks an auditor runs on cosigned checkpoints and on a witness's split-view evidence.

* :func:`settlement`: whether the known witnesses that validly cosigned a checkpoint note
  (:func:`ledger.protocol.checkpoints.cosigners`) make k.
* :func:`check_evidence`: is a record printed by ``python -m audit.witness evidence --json``
  genuine evidence against the ledger (both notes signed by the ledger's key)?

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
from ledger.protocol.merkle import SM3, verify_consistency


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

    A ``fork`` is proof on its own: two ledger-signed checkpoints of one size with different
    roots. An ``inconsistent`` record shows two ledger-signed checkpoints and a proof that
    does not link them; the ledger must then produce a consistency proof that does, or the
    entries of a bundle must reproduce the cosigned root (``audit.offline verify`` with the
    cosigned note added to the bundle's checkpoints).
    """
    problems: list[str] = []
    cosigned = _note(record, "cosigned", problems)
    presented = _note(record, "presented", problems)
    if cosigned is None or presented is None:
        return problems
    if cosigned.origin != presented.origin:
        problems.append("the two notes are for different ledgers")
    for part, checkpoint in (("cosigned", cosigned), ("presented", presented)):
        if not _ledger_signed(checkpoint, ledger_keys):
            problems.append(f"{part}: the note is not signed by the ledger's key")
    kind = record.get("kind")
    if kind == "fork":
        if cosigned.size != presented.size or cosigned.root == presented.root:
            problems.append("a fork needs two notes of one size with different roots")
    elif kind == "inconsistent":
        proof = _proof(record)
        if proof is None:
            problems.append("the record's proof is not a list of base64 hashes")
        elif cosigned.size >= presented.size:
            problems.append("the presented checkpoint must be larger than the cosigned one")
        elif verify_consistency(cosigned.size, presented.size, cosigned.root, presented.root,
                                proof, SM3):
            problems.append("the consistency proof verifies: the notes are consistent")
    else:
        problems.append(f"unknown evidence kind {kind!r}")
    return problems

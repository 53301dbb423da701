"""One entry checked from its stored bytes, with the format's own rules: what the portal's
"verify" button reports. The key state is rebuilt from the chain, never taken from the
key cache, and the checkpoint's signer is judged by position as the verifier judges it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crypto.canonical import parse
from ledger import keystore, selectors
from ledger.models import Checkpoint, Entry
from ledger.protocol import note as notes
from ledger.protocol.checkpoints import signer_problem
from ledger.protocol.format import FormatError, b64decode_strict, decode_salt, leaf_hash
from ledger.protocol.keystate import KeyState
from ledger.protocol.merkle import verify_inclusion
from ledger.protocol.rules import Candidate, Code, refusals


@dataclass
class EntryCheck:
    """What the verify button reports about one entry."""

    seq: int
    leaf: str = ""
    leaf_ok: bool = False
    signature_ok: bool = False
    key_id: str = ""
    signer: str = ""
    problems: list[str] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    checkpoint_signed: bool = False
    tree_size: int = 0
    root: str = ""
    path: list[str] = field(default_factory=list)
    included: bool = False

    @property
    def key_problem(self) -> str:
        return "; ".join(self.problems)

    @property
    def verified(self) -> bool:
        return (self.leaf_ok and self.signature_ok and not self.problems and self.included
                and (self.checkpoint is None or self.checkpoint_signed))


def _candidate(found: Entry, document: dict[str, Any]) -> Candidate:
    stored = selectors.payload(found.seq)
    try:
        signature = b64decode_strict(document.get("sig"), "sig")
    except FormatError:
        signature = b""
    if stored is None or stored.erased:
        return Candidate(document.get("statement"), signature)
    try:
        salt: bytes | None = decode_salt(stored.salt)
    except FormatError:
        salt = None
    return Candidate(document.get("statement"), signature, salt, stored.payload)


def _rules(found: Entry, keys: KeyState, result: EntryCheck) -> None:
    document = parse(found.data)
    candidate = _candidate(found, document)
    refused = refusals(candidate, seq=found.seq, recorded=document["recorded"], keys=keys)
    statement = document["statement"]
    signer = keys.get(statement["key"])
    if signer is not None:
        result.key_id, result.signer = signer.record.key, signer.record.name
    result.signature_ok = signer is not None and not any(
        r.code in (Code.SIGNATURE, Code.KEY_UNKNOWN, Code.FORMAT) for r in refused)
    result.problems = [str(r) for r in refused]


def checkpoint_signed(checkpoint: Checkpoint, keys: KeyState | None = None) -> bool:
    """Is the checkpoint signed by the ledger key live for its size, and does its note say
    what its row says?"""
    try:
        parsed = notes.parse(checkpoint.note)
    except notes.NoteError:
        return False
    state = keys if keys is not None else keystore.state_from_entries(parsed.size)
    return (signer_problem(parsed, state) is None and parsed.size == checkpoint.size
            and parsed.root.hex() == checkpoint.root)


def check_entry(seq: int) -> EntryCheck:
    """Re-check entry ``seq`` from its stored bytes: leaf hash, the format's rules (signature
    included), and an RFC 9162 inclusion proof against the latest signed checkpoint (or,
    for an entry newer than every checkpoint, the current root)."""
    found = selectors.entry(seq)
    result = EntryCheck(seq)
    leaf = leaf_hash(found.data.encode("utf-8"))
    result.leaf, result.leaf_ok = leaf.hex(), leaf.hex() == found.leaf_hash
    keys = keystore.state_from_entries()
    _rules(found, keys, result)
    latest = selectors.latest_checkpoint()
    if latest is not None and latest.size > seq:
        result.checkpoint, result.tree_size, result.root = latest, latest.size, latest.root
        result.checkpoint_signed = checkpoint_signed(latest, keys)
    else:
        result.tree_size = selectors.size()
        result.root = selectors.root(result.tree_size).hex()
    path = selectors.inclusion_proof(seq, result.tree_size)
    result.path = [node.hex() for node in path]
    result.included = verify_inclusion(seq, result.tree_size, leaf, path,
                                       bytes.fromhex(result.root))
    return result

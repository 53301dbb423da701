"""The Merkle tree over a range of entries, and inclusion proofs as portable JSON.

A bundle (or an online range) holds the leaves [P, n) and, in ``prefix.json``, the roots of
the complete subtrees that cover [0, P). :class:`RangeTree` starts from those roots as its
frontier, adds leaf hashes one by one, and keeps the complete subtrees that proofs will need,
so :class:`ledger.protocol.merkle.SubtreeTree` can produce RFC 9162 proofs from it. Every subtree a
proof needs for a leaf at or after P is either a prefix root or built from the range's
leaves, never a node strictly inside a prefix subtree.

The inclusion proof JSON (``shulian-inclusion/1``) is documented in docs/ledger-format.md.
No Django.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from crypto.canonical import parse
from crypto.errors import CanonicalizationError
from crypto.sm2 import PublicKey
from ledger.protocol import note as notes
from ledger.protocol.format import is_hex64, leaf_hash
from ledger.protocol.merkle import (
    SM3,
    SubtreeTree,
    aligned_subtrees,
    closed_subtrees,
    consistency_ranges,
    frontier_root,
    inclusion_ranges,
    verify_inclusion,
)

PROOF_FORMAT = "shulian-inclusion/1"
PROOF_FIELDS = frozenset(
    {"format", "seq", "tree_size", "leaf_hash", "path", "root", "entry", "checkpoint"}
)
Key = tuple[int, int]


class ProofError(ValueError):
    """A proof document that is not a shulian-inclusion/1 object."""


class RangeTree:
    """Leaves [P, n) over prefix subtree roots covering [0, P); a SubtreeStore.

    ``keep`` limits which (level, index) subtrees are retained (None keeps every one);
    the prefix roots are always kept.
    """

    def __init__(
        self, prefix_size: int, prefix_roots: Sequence[bytes], keep: Collection[Key] | None = None
    ) -> None:
        keys = aligned_subtrees(0, prefix_size)
        if len(keys) != len(prefix_roots):
            raise ValueError(
                f"a prefix of {prefix_size} entries has {len(keys)} complete subtrees, "
                f"but {len(prefix_roots)} roots were given"
            )
        self._size = prefix_size
        self._frontier = list(prefix_roots)
        self._nodes: dict[Key, bytes] = dict(zip(keys, prefix_roots, strict=True))
        self._keep = keep

    def add(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; returns the complete subtrees (level >= 1) it closes."""
        keep = self._keep
        if keep is None or (0, self._size) in keep:
            self._nodes[(0, self._size)] = leaf
        closed = closed_subtrees(self._size, leaf, self._frontier)
        for level, index, node in closed:
            if keep is None or (level, index) in keep:
                self._nodes[(level, index)] = node
        self._size += 1
        return closed

    def root(self) -> bytes:
        """The root of the tree of everything added so far."""
        return frontier_root(self._frontier)

    def size(self) -> int:
        return self._size

    def subtrees(self, keys: Iterable[Key]) -> dict[Key, bytes]:
        nodes = self._nodes
        return {key: nodes[key] for key in keys if key in nodes}


def consistency_keys(sizes: Sequence[int]) -> set[Key]:
    """Subtrees that consistency proofs between successive ``sizes`` (ascending) need."""
    keys: set[Key] = set()
    for old, new in zip(sizes, sizes[1:], strict=False):
        for start, end in consistency_ranges(old, new):
            keys.update(aligned_subtrees(start, end))
    return keys


def inclusion_keys(index: int, size: int) -> set[Key]:
    """Subtrees that the inclusion proof of leaf ``index`` in a tree of ``size`` needs."""
    keys: set[Key] = set()
    for start, end in inclusion_ranges(index, size):
        keys.update(aligned_subtrees(start, end))
    return keys


def consistency_path(tree: RangeTree, old: int, new: int) -> list[bytes]:
    return SubtreeTree(tree).consistency_path(old, new)


def inclusion_path(tree: RangeTree, index: int, size: int) -> list[bytes]:
    return SubtreeTree(tree).inclusion_path(index, size)


def make_proof(
    *, seq: int, entry: bytes, checkpoint: str, tree_size: int, root: bytes, path: Sequence[bytes]
) -> dict[str, Any]:
    """The shulian-inclusion/1 object for one entry line against one checkpoint note."""
    return {
        "format": PROOF_FORMAT,
        "seq": seq,
        "tree_size": tree_size,
        "leaf_hash": leaf_hash(entry).hex(),
        "path": [node.hex() for node in path],
        "root": root.hex(),
        "entry": entry.decode("utf-8"),
        "checkpoint": checkpoint,
    }


def load_proof(data: bytes | str) -> dict[str, Any]:
    """Parse and shape-check a proof document; ProofError naming the field otherwise."""
    try:
        proof = parse(data)
    except CanonicalizationError as exc:
        raise ProofError(f"the proof is not JSON: {exc.reason}") from None
    if not isinstance(proof, dict):
        raise ProofError("the proof is not a JSON object")
    if proof.keys() != PROOF_FIELDS:
        missing = sorted(PROOF_FIELDS - proof.keys())
        extra = sorted(proof.keys() - PROOF_FIELDS)
        raise ProofError(f"the proof's fields are wrong (missing {missing}, unexpected {extra})")
    if proof["format"] != PROOF_FORMAT:
        raise ProofError(f"format is {proof['format']!r}, not {PROOF_FORMAT!r}")
    for field in ("seq", "tree_size"):
        value = proof[field]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProofError(f"{field} must be a non-negative integer")
    path = proof["path"]
    if not isinstance(path, list) or not all(is_hex64(node) for node in path):
        raise ProofError("path must be a list of 64-character lowercase hex hashes")
    for field in ("leaf_hash", "root"):
        if not is_hex64(proof[field]):
            raise ProofError(f"{field} must be 64 lowercase hex characters")
    for field in ("entry", "checkpoint"):
        if not isinstance(proof[field], str):
            raise ProofError(f"{field} must be a string")
    return proof


def _entry_seq(entry: bytes) -> int | None:
    try:
        value = parse(entry)
    except CanonicalizationError:
        return None
    seq = value.get("seq") if isinstance(value, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def check_proof(
    proof: dict[str, Any], *, entry: bytes, checkpoint: str, ledger_key: PublicKey | None
) -> list[str]:
    """Every reason the proof fails for this entry line and note; empty if it holds."""
    problems = []
    leaf = leaf_hash(entry)
    seq, size = proof["seq"], proof["tree_size"]
    if leaf.hex() != proof["leaf_hash"]:
        problems.append("the entry's leaf hash SM3(0x00 || entry) is not the proof's leaf_hash")
    if _entry_seq(entry) != seq:
        problems.append(f"the entry line is not entry {seq}")
    try:
        note = notes.parse(checkpoint)
    except notes.NoteError as exc:
        return problems + [f"the checkpoint is not a valid note: {exc}"]
    if note.size != size:
        problems.append(f"the checkpoint has size {note.size}, the proof says {size}")
    if note.root.hex() != proof["root"]:
        problems.append("the checkpoint's root is not the proof's root")
    path = [bytes.fromhex(node) for node in proof["path"]]
    if not verify_inclusion(seq, note.size, leaf, path, note.root, SM3):
        problems.append(
            f"the path does not prove entry {seq} is in the tree of size {note.size} "
            "under the checkpoint's root"
        )
    if ledger_key is not None:
        first = note.signatures[0]
        if first.name != note.origin:
            problems.append(f"the note's first signature is by {first.name!r}, not the ledger")
        elif not notes.verify_signature(note.body, first, ledger_key):
            problems.append("the note's ledger signature does not verify with the given key")
    return problems

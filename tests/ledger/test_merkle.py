"""ledger.protocol.merkle against the RFC 6962 test tree, and against an independent RFC 9162 model.

The model below (MTH, PATH, PROOF and two recursive verifiers) is written from the
definitions in RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1 and shares no code with
ledger.protocol.merkle, whose own verifiers follow the iterative algorithms of 2.1.3.2 / 2.1.4.2.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ledger.protocol import merkle
from ledger.protocol.merkle import MemoryStore, SubtreeTree

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "merkle_rfc6962.json").read_text()
)
Hash = Callable[[bytes], bytes]


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The independent model ----------------------------------------------------------------


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Model:
    """RFC 9162 over a fixed list of leaf hashes, by the section 2.1 definitions."""

    def __init__(self, leaf_hashes: Sequence[bytes], hash_fn: Hash) -> None:
        self.leaves = list(leaf_hashes)
        self.hash_fn = hash_fn
        self.mth = cache(self._mth)

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.hash_fn(b"\x01" + left + right)

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return self.hash_fn(b"")
        if n == 1:
            return self.leaves[start]
        k = split(n)
        return self.node(self.mth(start, start + k), self.mth(start + k, end))

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return self.path(m, start, start + k) + [self.mth(start + k, end)]
        return self.path(m - k, start + k, end) + [self.mth(start, start + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
            size = end - start
            if m == size:
                return [] if whole else [self.mth(start, end)]
            k = split(size)
            if m <= k:
                return subproof(m, start, start + k, whole) + [self.mth(start + k, end)]
            return subproof(m - k, start + k, end, False) + [self.mth(start, start + k)]

        return subproof(m, 0, n, True)


def verify_inclusion(
    hash_fn: Hash, index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """Rebuild the root top-down along PATH's own recursion; the path is bottom-up."""
    if not 0 <= index < size:
        return False
    remaining = list(path)

    def climb(m: int, n: int) -> bytes | None:
        if n == 1:
            return leaf
        if not remaining:
            return None
        sibling = remaining.pop()
        k = split(n)
        below = climb(m, k) if m < k else climb(m - k, n - k)
        if below is None:
            return None
        pair = below + sibling if m < k else sibling + below
        return hash_fn(b"\x01" + pair)

    return climb(index, size) == root and not remaining


def verify_consistency(
    hash_fn: Hash, old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Rebuild both roots top-down along SUBPROOF's recursion; the proof is bottom-up."""
    if not 0 < old <= new:
        return False
    remaining = list(proof)

    def node(left: bytes, right: bytes) -> bytes:
        return hash_fn(b"\x01" + left + right)

    def sub(m: int, n: int, whole: bool) -> tuple[bytes, bytes] | None:
        if m == n:
            if whole:  # this subtree is the old tree itself
                return old_root, old_root
            if not remaining:
                return None
            taken = remaining.pop()
            return taken, taken
        if not remaining:
            return None
        sibling = remaining.pop()
        k = split(n)
        if m <= k:
            inner = sub(m, k, whole)
            return None if inner is None else (inner[0], node(inner[1], sibling))
        inner = sub(m - k, n - k, False)
        if inner is None:
            return None
        return node(sibling, inner[0]), node(sibling, inner[1])

    roots = sub(old, new, True)
    return roots == (old_root, new_root) and not remaining


# RFC 6962 / RFC 9162 SHA-256 vectors (transparency-dev/merkle) ---------------------------


def h(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


@pytest.fixture(scope="module")
def sha_tree() -> SubtreeTree:
    store = MemoryStore(merkle.SHA256)
    for data, leaf_hash in zip(VECTORS["leaves_hex"], VECTORS["leaf_hashes"], strict=True):
        assert merkle.SHA256.leaf(bytes.fromhex(data)).hex() == leaf_hash
        store.add(bytes.fromhex(leaf_hash))
    return SubtreeTree(store, algorithm="sha256")


SHA_MODEL = Model(h(VECTORS["leaf_hashes"]), sha256)


def test_vector_roots(sha_tree: SubtreeTree) -> None:
    assert [r["tree_size"] for r in VECTORS["roots"]] == list(range(9))
    for entry in VECTORS["roots"]:
        root = bytes.fromhex(entry["root"])
        assert sha_tree.root(entry["tree_size"]) == root
        assert SHA_MODEL.mth(0, entry["tree_size"]) == root


INCLUSION = VECTORS["inclusion_proofs"] + VECTORS["derived_all_proofs"]["inclusion"]
CONSISTENCY = VECTORS["consistency_proofs"] + VECTORS["derived_all_proofs"]["consistency"]


def test_vector_counts() -> None:
    assert len(VECTORS["inclusion_proofs"]) == 5 and len(VECTORS["consistency_proofs"]) == 5
    assert len(VECTORS["derived_all_proofs"]["inclusion"]) == 36  # every (index, size <= 8)
    assert len(VECTORS["derived_all_proofs"]["consistency"]) == 28  # every 1 <= m < n <= 8


@pytest.mark.parametrize(
    "case", INCLUSION, ids=[f"leaf{c['leaf_index']}-size{c['tree_size']}" for c in INCLUSION]
)
def test_vector_inclusion_proofs(sha_tree: SubtreeTree, case: dict[str, Any]) -> None:
    index, size, proof = case["leaf_index"], case["tree_size"], h(case["proof"])
    leaf = bytes.fromhex(VECTORS["leaf_hashes"][index])
    if "leaf_hash" in case:
        assert bytes.fromhex(case["leaf_hash"]) == leaf
    root = sha_tree.root(size)
    if "root" in case:
        assert bytes.fromhex(case["root"]) == root
    assert sha_tree.inclusion_path(index, size) == proof
    assert SHA_MODEL.path(index, 0, size) == proof
    assert verify_inclusion(sha256, index, size, leaf, proof, root)
    assert merkle.verify_inclusion(index, size, leaf, proof, root, merkle.SHA256)


@pytest.mark.parametrize(
    "case", CONSISTENCY, ids=[f"{c['old_size']}-to-{c['new_size']}" for c in CONSISTENCY]
)
def test_vector_consistency_proofs(sha_tree: SubtreeTree, case: dict[str, Any]) -> None:
    old, new, proof = case["old_size"], case["new_size"], h(case["proof"])
    old_root, new_root = sha_tree.root(old), sha_tree.root(new)
    if "old_root" in case:
        assert (old_root.hex(), new_root.hex()) == (case["old_root"], case["new_root"])
    assert sha_tree.consistency_path(old, new) == proof
    assert SHA_MODEL.proof(old, new) == proof
    assert verify_consistency(sha256, old, new, old_root, new_root, proof)
    assert merkle.verify_consistency(old, new, old_root, new_root, proof, merkle.SHA256)


# Random SM3 trees -----------------------------------------------------------------------

MAX_LEAVES = 2000
RNG = random.Random(20261122)
LEAF_DATA = [RNG.randbytes(RNG.randrange(0, 80)) for _ in range(MAX_LEAVES)]
SM3_LEAVES = [sm3(b"\x00" + data) for data in LEAF_DATA]
SM3_MODEL = Model(SM3_LEAVES, sm3)
SIZES = sorted({*range(1, 41), 63, 64, 65, 127, 128, 129, 1023, 1024, 1025,
                *RNG.sample(range(41, MAX_LEAVES), 6), MAX_LEAVES})


def model_inclusion(i: int, n: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    return verify_inclusion(sm3, i, n, leaf, path, root)


def ledger_inclusion(i: int, n: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    return merkle.verify_inclusion(i, n, leaf, path, root, merkle.SM3)


def model_consistency(m: int, n: int, a: bytes, b: bytes, proof: Sequence[bytes]) -> bool:
    return verify_consistency(sm3, m, n, a, b, proof)


def ledger_consistency(m: int, n: int, a: bytes, b: bytes, proof: Sequence[bytes]) -> bool:
    return merkle.verify_consistency(m, n, a, b, proof, merkle.SM3)


INCLUSION_CHECKS = (model_inclusion, ledger_inclusion)
CONSISTENCY_CHECKS = (model_consistency, ledger_consistency)


@pytest.fixture(scope="module")
def sm3_tree() -> SubtreeTree:
    store = MemoryStore(merkle.SM3)
    for leaf in SM3_LEAVES:
        store.add(leaf)
    return SubtreeTree(store)


def test_leaf_hash_is_sm3_of_zero_byte_and_data() -> None:
    assert merkle.SM3.leaf(LEAF_DATA[0]) == SM3_LEAVES[0]
    assert merkle.SM3.node(SM3_LEAVES[0], SM3_LEAVES[1]) == SM3_MODEL.mth(0, 2)
    assert merkle.SM3.empty() == sm3(b"")


@pytest.mark.parametrize("size", SIZES)
def test_sm3_roots_and_every_inclusion_proof(sm3_tree: SubtreeTree, size: int) -> None:
    root = SM3_MODEL.mth(0, size)
    assert sm3_tree.root(size) == root
    wrong_root = SM3_MODEL.mth(0, size + 1) if size < MAX_LEAVES else SM3_MODEL.mth(0, size - 1)
    for index in range(size):
        path = sm3_tree.inclusion_path(index, size)
        assert path == SM3_MODEL.path(index, 0, size)
        leaf = SM3_LEAVES[index]
        for check in INCLUSION_CHECKS:
            assert check(index, size, leaf, path, root)
            assert not check(index, size, sm3(b"\x00" + LEAF_DATA[index] + b"!"), path, root)
            assert not check(index, size, SM3_LEAVES[index - 1], path, root) or size == 1
            assert not check((index + 1) % size, size, leaf, path, root) or size == 1
            assert not check(size, size, leaf, path, root)
            assert not check(index, size + 1, leaf, path, wrong_root) or size == MAX_LEAVES
            assert not check(index, size, leaf, path, wrong_root)
            assert not check(index, size, leaf, path + [root], root)
            assert not check(index, size, leaf, path[:-1], root) or not path


@pytest.mark.parametrize("size", SIZES)
def test_sm3_every_consistency_proof(sm3_tree: SubtreeTree, size: int) -> None:
    new_root = SM3_MODEL.mth(0, size)
    for old in range(1, size + 1):
        proof = sm3_tree.consistency_path(old, size)
        assert proof == SM3_MODEL.proof(old, size)
        old_root = SM3_MODEL.mth(0, old)
        for check in CONSISTENCY_CHECKS:
            assert check(old, size, old_root, new_root, proof)
            assert not check(old, size, new_root, new_root, proof) or old == size
            assert not check(old, size, old_root, old_root, proof) or old == size
            if old > 1:
                assert not check(old - 1, size, SM3_MODEL.mth(0, old - 1), new_root, proof)
            if size < MAX_LEAVES:
                assert not check(old, size + 1, old_root, SM3_MODEL.mth(0, size + 1), proof)
            assert not check(old, size, old_root, new_root, proof + [new_root])
            if proof:
                assert not check(old, size, old_root, new_root, proof[1:])


def test_no_proofs_outside_the_tree(sm3_tree: SubtreeTree) -> None:
    with pytest.raises(ValueError):
        sm3_tree.root(MAX_LEAVES + 1)
    with pytest.raises(ValueError):
        sm3_tree.inclusion_path(5, 5)
    with pytest.raises(ValueError):
        sm3_tree.consistency_path(0, 5)
    with pytest.raises(ValueError):
        sm3_tree.consistency_path(6, 5)
    assert sm3_tree.root(0) == sm3(b"")


def test_frontier_and_closed_subtrees_agree_with_the_tree() -> None:
    store = MemoryStore(merkle.SM3)
    frontier: list[bytes] = []
    assert merkle.frontier_root(frontier) == sm3(b"")
    for size, leaf in enumerate(SM3_LEAVES[:600]):
        closed = merkle.closed_subtrees(size, leaf, frontier)
        store.add(leaf)
        new_size = size + 1
        assert len(frontier) == bin(new_size).count("1")
        assert merkle.frontier_root(frontier) == SM3_MODEL.mth(0, new_size)
        # every subtree this leaf completes: levels 1.. up to the trailing ones of new_size
        assert [level for level, _, _ in closed] == list(
            range(1, (new_size & -new_size).bit_length())
        )
        for level, index, digest in closed:
            width = 1 << level
            assert (index + 1) * width == new_size
            assert digest == SM3_MODEL.mth(index * width, (index + 1) * width)
            assert store.levels[level][index] == digest

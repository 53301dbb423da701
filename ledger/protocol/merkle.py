"""The RFC 9162 Merkle tree (section 2.1) with SM3, over any store of complete subtrees.

pymerkle supplies the tree algorithms; SM3 is registered as one of its hash functions and
:class:`SubtreeTree` plugs a store in under it, so roots and proofs for any size read only the
O(log n) complete-subtree hashes they need, never the leaves in bulk. The store is an object
with ``size()``, ``subtree(level, index)`` and ``subtrees(keys)``: the database-backed one
lives in :mod:`ledger.store`; an in-memory one (:class:`MemoryStore`) serves tests and the
offline verifier. Proof verification here follows RFC 9162 sections 2.1.3.2 and 2.1.4.2.

Everything here is pure Python with no Django, so ``audit`` uses it offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from pymerkle import hasher as _pm_hasher
from pymerkle.core import BaseMerkleTree

HashFunc = Callable[[bytes], bytes]


def _sm3_factory(data: bytes = b"") -> Any:
    return hashlib.new("sm3", data)


if "sm3" not in _pm_hasher.HASH_FUNCTIONS:
    _pm_hasher.HASH_FUNCTIONS["sm3"] = _sm3_factory
    _pm_hasher.ALGORITHMS.append("sm3")


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Hashing:
    """Leaf and node hashing with domain separation (0x00 leaves, 0x01 nodes)."""

    def __init__(self, func: HashFunc = sm3) -> None:
        self.func = func

    def leaf(self, data: bytes) -> bytes:
        return self.func(b"\x00" + data)

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.func(b"\x01" + left + right)

    def empty(self) -> bytes:
        return self.func(b"")


SM3 = Hashing(sm3)
SHA256 = Hashing(sha256)


def largest_power_of_two_below(n: int) -> int:
    """k = the largest power of two with k < n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def aligned_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """(level, index) of the complete subtrees that tile [start, end), left to right.

    Valid for the ranges RFC 9162 recursion produces and for [0, n): ``start`` is a
    multiple of the largest power of two not above ``end - start``.
    """
    result = []
    while start < end:
        width = 1 << ((end - start).bit_length() - 1)
        while start % width:
            width >>= 1
        level = width.bit_length() - 1
        result.append((level, start >> level))
        start += width
    return result


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The [a, b) ranges whose MTH form PATH(index, D[0:size]), bottom-up (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")

    def path(m: int, start: int, end: int) -> list[tuple[int, int]]:
        n = end - start
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return path(m, start, start + k) + [(start + k, end)]
        return path(m - k, start + k, end) + [(start, start + k)]

    return path(index, 0, size)


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The [a, b) ranges whose MTH form PROOF(old, D[0:new]) (RFC 9162 2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")

    def subproof(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
        n = end - start
        if m == n:
            return [] if complete else [(start, end)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return subproof(m, start, start + k, complete) + [(start + k, end)]
        return subproof(m - k, start + k, end, False) + [(start, start + k)]

    return subproof(old, 0, new, True)


class SubtreeStore(Protocol):
    def size(self) -> int: ...

    def subtrees(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Hashes of complete subtrees (level, index); level 0 are leaf hashes."""
        ...


class SubtreeTree(BaseMerkleTree):  # type: ignore[misc]
    """pymerkle's tree algorithms over a :class:`SubtreeStore`, with SM3 by default.

    Every root or proof first gathers the (level, index) keys of the complete subtrees
    it needs, fetches them from the store in one call, then lets pymerkle fold them.
    """

    def __init__(self, store: SubtreeStore, algorithm: str = "sm3") -> None:
        super().__init__(algorithm, disable_cache=True)
        self.store = store
        self._fetched: dict[tuple[int, int], bytes] = {}

    # pymerkle's storage interface -------------------------------------------------
    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        raise NotImplementedError("append through the ledger, not the tree")

    def _get_leaf(self, index: int) -> bytes:
        return self._subroot(index - 1, 1)

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        return [self._subroot(offset + i, 1) for i in range(width)]

    def _get_size(self) -> int:
        return self.store.size()

    def _get_subroot(self, offset: int, width: int) -> bytes:
        return self._subroot(offset, width)

    def _get_subroot_uncached(self, offset: int, width: int) -> bytes:
        return self._subroot(offset, width)

    def _subroot(self, offset: int, width: int) -> bytes:
        level = width.bit_length() - 1
        key = (level, offset >> level)
        if key not in self._fetched:
            self._fetched.update(self.store.subtrees([key]))
        return self._fetched[key]

    # RFC 9162 operations ---------------------------------------------------------
    def _prefetch(self, ranges: Sequence[tuple[int, int]]) -> None:
        keys = {key for start, end in ranges for key in aligned_subtrees(start, end)}
        self._fetched = self.store.subtrees(keys)
        if len(self._fetched) != len(keys):
            raise LookupError("the store lacks subtrees that the requested size needs")

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.store.size():
            raise ValueError(f"size {size} is beyond the tree's {self.store.size()} leaves")

    def _range_root(self, start: int, end: int) -> bytes:
        nodes = [self._fetched[key] for key in aligned_subtrees(start, end)]
        root = nodes[-1]
        for node in reversed(nodes[:-1]):
            root = self.hash_pair(node, root)
        return root

    def root(self, size: int) -> bytes:
        self._check_size(size)
        if size == 0:
            return bytes(self.hash_empty())
        self._prefetch([(0, size)])
        return bytes(self._get_root(0, size))

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        ranges = inclusion_ranges(index, size)
        self._prefetch(ranges)
        return [self._range_root(a, b) for a, b in ranges]

    def consistency_path(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        ranges = consistency_ranges(old, new)
        self._prefetch(ranges)
        return [self._range_root(a, b) for a, b in ranges]


class MemoryStore:
    """Complete subtrees over a list of leaf hashes, built as leaves are added."""

    def __init__(self, hashing: Hashing = SM3) -> None:
        self.hashing = hashing
        self.levels: list[list[bytes]] = [[]]

    def add(self, leaf_hash: bytes) -> None:
        self.levels[0].append(leaf_hash)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            pair = self.levels[level][-2:]
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(self.hashing.node(pair[0], pair[1]))
            level += 1

    def size(self) -> int:
        return len(self.levels[0])

    def subtrees(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = {}
        for level, index in keys:
            if level < len(self.levels) and index < len(self.levels[level]):
                found[(level, index)] = self.levels[level][index]
        return found


def closed_subtrees(size: int, leaf: bytes, frontier: list[bytes], hashing: Hashing = SM3) -> (
    list[tuple[int, int, bytes]]
):
    """Append leaf number ``size`` to a frontier; return the subtrees it closes.

    ``frontier`` holds the roots of the complete subtrees covering [0, size), largest
    first (one per set bit of ``size``); it is updated in place. Returned tuples are
    (level, index, hash) for levels >= 1.
    """
    closed = []
    node = leaf
    level = 0
    n = size
    while n & 1:
        node = hashing.node(frontier.pop(), node)
        level += 1
        n >>= 1
        closed.append((level, (size + 1 >> level) - 1, node))
    frontier.append(node)
    return closed


def frontier_root(frontier: Sequence[bytes], hashing: Hashing = SM3) -> bytes:
    """The root of a tree given its frontier (largest subtree first)."""
    if not frontier:
        return hashing.empty()
    root = frontier[-1]
    for node in reversed(frontier[:-1]):
        root = hashing.node(node, root)
    return root


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, path: Sequence[bytes], root: bytes,
    hashing: Hashing = SM3,
) -> bool:
    """RFC 9162 2.1.3.2: does ``path`` prove leaf ``index`` is in the tree ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashing.node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashing.node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes],
    hashing: Hashing = SM3,
) -> bool:
    """RFC 9162 2.1.4.2: does ``path`` prove tree ``old`` is a prefix of tree ``new``?"""
    if old == new:
        return not path and old_root == new_root
    if not 0 < old < new or not path:
        return False
    nodes = list(path)
    if old & (old - 1) == 0:  # old is a power of two
        nodes.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hashing.node(c, fr)
            sr = hashing.node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hashing.node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root

"""RangeTree over prefix subtrees agrees with the full tree for roots and every proof, and
over a v2 bundle's prefix.json and entry lines gives the roots its checkpoints sign."""

from __future__ import annotations

import hashlib

import pytest

from audit.proofs import RangeTree, consistency_keys, inclusion_keys, inclusion_path
from ledger.protocol import note as notes
from ledger.protocol.format import leaf_hash
from ledger.protocol.merkle import (
    SM3,
    MemoryStore,
    SubtreeTree,
    aligned_subtrees,
    verify_consistency,
    verify_inclusion,
)
from tests.audit.builders import realistic

N = 37
LEAVES = [SM3.leaf(hashlib.sha256(bytes([i])).digest()) for i in range(N)]


@pytest.fixture(scope="module")
def full() -> SubtreeTree:
    store = MemoryStore()
    for leaf in LEAVES:
        store.add(leaf)
    return SubtreeTree(store)


def range_tree(full: SubtreeTree, start: int, end: int,
               keep: set[tuple[int, int]] | None = None) -> RangeTree:
    keys = aligned_subtrees(0, start)
    found = full.store.subtrees(keys)
    tree = RangeTree(start, [found[key] for key in keys], keep)
    for leaf in LEAVES[start:end]:
        tree.add(leaf)
    return tree


@pytest.mark.parametrize("start", [0, 1, 2, 3, 7, 8, 13, 16, 31])
def test_roots_and_proofs_match_the_full_tree(full: SubtreeTree, start: int) -> None:
    for end in range(start + 1, N + 1):
        tree = range_tree(full, start, end)
        assert tree.root() == full.root(end)
        partial = SubtreeTree(tree)
        for index in range(start, end):
            path = partial.inclusion_path(index, end)
            assert path == full.inclusion_path(index, end)
            assert verify_inclusion(index, end, LEAVES[index], path, full.root(end))
        for old in range(start + 1, end + 1):
            path = partial.consistency_path(old, end)
            assert verify_consistency(old, end, full.root(old), full.root(end), path)


def test_kept_subtrees_are_enough_for_the_proofs_asked_for(full: SubtreeTree) -> None:
    sizes = [15, 16, 22, 37]
    keep = consistency_keys(sizes) | inclusion_keys(20, 37)
    tree = SubtreeTree(range_tree(full, 13, N, keep))
    assert tree.inclusion_path(20, 37) == full.inclusion_path(20, 37)
    for old, new in zip(sizes, sizes[1:], strict=False):
        assert tree.consistency_path(old, new) == full.consistency_path(old, new)
    every = [(level, index) for level in range(6) for index in range(N >> level)]
    kept = range_tree(full, 13, N, keep).subtrees(every)
    assert len(kept) < len(range_tree(full, 13, N).subtrees(every)) / 2


def test_a_prefix_with_the_wrong_number_of_roots_is_refused() -> None:
    with pytest.raises(ValueError, match="a prefix of 13 entries has 3 complete subtrees, "
                                         "but 2 roots were given"):
        RangeTree(13, [b"\0" * 32, b"\1" * 32])


@pytest.mark.parametrize("start", [0, 13, 21, 22])
def test_a_v2_bundles_prefix_and_entries_give_its_checkpoint_roots(start: int) -> None:
    """The roots are computed independently by the builder (RFC 9162 by plain recursion)."""
    ledger = realistic()
    prefix = ledger.parts(start)["prefix"]
    tree = RangeTree(start, [bytes.fromhex(root) for root in prefix["subtrees"]])
    sizes = {notes.parse(text).size for text in ledger.checkpoints} - set(range(start + 1))
    assert sizes
    for size, line in enumerate(ledger.entries[start:], start + 1):
        tree.add(leaf_hash(line))
        if size in sizes:
            assert tree.root() == ledger.root(size), size
    root = ledger.root(30)
    for index in range(start, 30):
        path = inclusion_path(tree, index, 30)
        assert verify_inclusion(index, 30, ledger.leaves()[index], path, root)

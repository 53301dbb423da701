"""Roots and proofs from ``ledger.selectors`` checked by an independent RFC 9162 verifier.

The ledger is filled to a random size (up to about 2,000 entries) in random batches; the
verifier and the naive tree are in tests/ledger/helpers.py and share no code with
``ledger.protocol.merkle``. Failure messages carry the random seed (set SHULIAN_TEST_SEED to
replay).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import pytest
from django.db import transaction

from kernel.errors import NotFound
from ledger import selectors, services
from ledger.models import Entry
from tests.ledger.helpers import (
    NaiveTree,
    empty_all_tables,
    leaf_hash,
    mth,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.django_db

SEED = int(os.environ.get("SHULIAN_TEST_SEED") or random.randrange(1 << 32))


@dataclass
class Ledger:
    size: int
    leaves: list[bytes]
    tree: NaiveTree
    rng: random.Random

    def sizes(self, count: int) -> list[int]:
        """Interesting tree sizes (edges, powers of two and their neighbours) plus random."""
        special = {1, 2, 3, 4, 5, 7, 8, 9, self.size - 1, self.size}
        power = 1
        while power <= self.size:
            special |= {power - 1, power, power + 1}
            power *= 2
        chosen = {s for s in special if 1 <= s <= self.size}
        chosen |= {self.rng.randint(1, self.size) for _ in range(count)}
        return sorted(chosen)


def fill(rng: random.Random, target: int) -> None:
    """Append about ``target`` entries in random batches, pre-signed by three custodial keys."""
    keys = [services.issue_custodial_key(owner=f"dept-{i}") for i in range(3)]
    batch: list[services.Submission] = []
    while selectors.size() + len(batch) < target:
        i = selectors.size() + len(batch)
        key = keys[i % 3]
        batch.append(services.sign_statement(
            actor=key.owner, kind="catalog.item.listed", subject=f"catalog/item/{i}",
            payload={"i": i, "note": "条目"}, key=key,
        ))
        if len(batch) >= rng.randint(1, 300):
            with transaction.atomic():
                services.append_many(batch)
            batch = []
    with transaction.atomic():
        services.append_many(batch)


@pytest.fixture(scope="module")
def filled(django_db_setup, django_db_blocker):
    """One ledger for the whole module, committed (so that each test's own transaction sees
    it) and emptied again at the end; filling it is most of this module's run time."""
    with django_db_blocker.unblock():
        empty_all_tables()
        try:
            rng = random.Random(SEED)
            fill(rng, rng.randint(1500, 2100))
            data = list(Entry.objects.order_by("seq").values_list("data", flat=True))
            leaves = [leaf_hash(d.encode("utf-8")) for d in data]
            yield leaves
        finally:
            empty_all_tables()


@pytest.fixture
def ledger(filled) -> Ledger:
    assert len(filled) == selectors.size()
    return Ledger(len(filled), filled, NaiveTree(filled), random.Random(SEED))


def test_roots_equal_a_naive_recomputation(ledger):
    sizes = ledger.sizes(20)
    for size in sizes:
        assert selectors.root(size) == ledger.tree.root(size), f"size {size}, seed {SEED}"
    # the memoised tree agrees with plain recursion, and the empty tree is SM3("")
    assert ledger.tree.root(ledger.size) == mth(ledger.leaves)
    assert selectors.root(0) == mth([])


def test_every_sampled_inclusion_proof_verifies(ledger):
    rng, checked = ledger.rng, 0
    for size in ledger.sizes(40):
        indices = {0, size - 1, size // 2} | {rng.randrange(size) for _ in range(6)}
        root = ledger.tree.root(size)
        for index in sorted(indices):
            path = selectors.inclusion_proof(index, size)
            leaf = ledger.leaves[index]
            where = f"leaf {index} in size {size}, seed {SEED}"
            assert verify_inclusion(index, size, leaf, path, root), where
            checked += 1
    assert checked >= 300


def test_inclusion_proofs_fail_for_wrong_leaf_index_or_size(ledger):
    rng = ledger.rng
    for size in ledger.sizes(30):
        if size < 2:
            continue
        index = rng.randrange(size)
        path = selectors.inclusion_proof(index, size)
        leaf, root = ledger.leaves[index], ledger.tree.root(size)
        where = f"leaf {index} in size {size}, seed {SEED}"
        assert verify_inclusion(index, size, leaf, path, root), where

        other = ledger.leaves[(index + 1) % size]
        assert not verify_inclusion(index, size, other, path, root), "wrong leaf: " + where
        assert not verify_inclusion((index + 1) % size, size, leaf, path, root), (
            "wrong index: " + where)
        for wrong in (size - 1, size + 1):
            if index < wrong <= ledger.size:
                assert not verify_inclusion(index, wrong, leaf, path, ledger.tree.root(wrong)), (
                    f"wrong size {wrong}: " + where)
        if path:
            tampered = list(path)
            spot = rng.randrange(len(tampered))
            tampered[spot] = bytes([tampered[spot][0] ^ 1]) + tampered[spot][1:]
            assert not verify_inclusion(index, size, leaf, tampered, root), "tampered: " + where
            assert not verify_inclusion(index, size, leaf, path[:-1], root), "short: " + where
        assert not verify_inclusion(index, size, leaf, [*path, root], root), "long: " + where


def test_every_sampled_consistency_proof_verifies(ledger):
    rng, checked = ledger.rng, 0
    sizes = ledger.sizes(40)
    for new in sizes:
        olds = {1, new, max(1, new - 1)} | {rng.randint(1, new) for _ in range(5)}
        olds |= {s for s in sizes if s <= new and rng.random() < 0.1}
        new_root = ledger.tree.root(new)
        for old in sorted(olds):
            proof = selectors.consistency_proof(old, new)
            where = f"{old} -> {new}, seed {SEED}"
            assert verify_consistency(old, new, ledger.tree.root(old), new_root, proof), where
            checked += 1
    assert checked >= 200


def test_consistency_proofs_fail_for_wrong_sizes_or_roots(ledger):
    rng = ledger.rng
    for new in ledger.sizes(30):
        if new < 3:
            continue
        old = rng.randint(2, new - 1)
        proof = selectors.consistency_proof(old, new)
        old_root, new_root = ledger.tree.root(old), ledger.tree.root(new)
        where = f"{old} -> {new}, seed {SEED}"
        assert verify_consistency(old, new, old_root, new_root, proof), where

        # a forked history: either root replaced by another tree's root
        assert not verify_consistency(old, new, ledger.tree.root(old - 1), new_root, proof), (
            "wrong old root: " + where)
        assert not verify_consistency(old, new, old_root, ledger.tree.root(new - 1), proof), (
            "wrong new root: " + where)
        # the right roots but claimed under other sizes
        for wrong_old in (old - 1, old + 1):
            if 0 < wrong_old < new:
                assert not verify_consistency(
                    wrong_old, new, ledger.tree.root(wrong_old), new_root, proof
                ), f"wrong old size {wrong_old}: " + where
        if new < ledger.size:
            assert not verify_consistency(
                old, new + 1, old_root, ledger.tree.root(new + 1), proof
            ), "wrong new size: " + where
        tampered = list(proof)
        spot = rng.randrange(len(tampered))
        tampered[spot] = bytes([tampered[spot][0] ^ 1]) + tampered[spot][1:]
        assert not verify_consistency(old, new, old_root, new_root, tampered), (
            "tampered: " + where)


def test_proof_requests_outside_the_tree_are_not_found(ledger):
    n = ledger.size
    for request in (
        lambda: selectors.root(n + 1),
        lambda: selectors.inclusion_proof(n, n),
        lambda: selectors.inclusion_proof(0, n + 1),
        lambda: selectors.inclusion_proof(-1, n),
        lambda: selectors.consistency_proof(0, n),
        lambda: selectors.consistency_proof(5, 4),
        lambda: selectors.consistency_proof(1, n + 1),
    ):
        with pytest.raises(NotFound):
            request()


def test_proofs_read_a_few_rows_not_the_whole_tree(ledger, django_assert_max_num_queries):
    """Roots and proofs fetch the O(log n) subtree hashes they need in a handful of queries."""
    n = ledger.size
    with django_assert_max_num_queries(4):
        selectors.root(n - 1)
    with django_assert_max_num_queries(4):
        selectors.inclusion_proof(n // 3, n)
    with django_assert_max_num_queries(4):
        selectors.consistency_proof(n // 3, n)

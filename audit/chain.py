"""Cross-entry checks, in order: seq contiguity, prev links, ``recorded`` never decreasing,
nonces unique per actor, the Merkle tree (and the stored nodes of a database against it)."""

from __future__ import annotations

from collections.abc import Mapping

from audit.entries import Checked
from audit.proofs import RangeTree
from audit.report import Report
from audit.view import NodeSource, Prefix
from ledger.protocol.format import ZERO_HASH, is_hex64
from ledger.protocol.rules import Code

NODE_WINDOW = 4096


class _StoredNodes:
    """Stored Merkle nodes against the ones the entries close, a window at a time."""

    def __init__(self, source: NodeSource, report: Report) -> None:
        self.source = source
        self.report = report
        self.window_end = -1
        self.nodes: Mapping[tuple[int, int], str] = {}

    def check(self, seq: int, closed: list[tuple[int, int, bytes]]) -> None:
        if seq >= self.window_end:
            self.nodes = self.source.closed_by(seq, seq + NODE_WINDOW)
            self.window_end = seq + NODE_WINDOW
        for level, index, node in closed:
            stored = self.nodes.get((level, index))
            if stored != node.hex():
                said = "is missing" if stored is None else f"is {stored}"
                self.report.fail(seq, f"the stored Merkle node at level {level}, index {index} "
                                 f"{said}; the entries give {node.hex()}", Code.MERKLE_NODE)


class Chain:
    """Follows the checked entries in order."""

    def __init__(self, prefix: Prefix, report: Report, tree: RangeTree | None,
                 sizes: set[int], nodes: NodeSource | None) -> None:
        self.report = report
        self.start = prefix.size
        self.position = prefix.size
        self.prev_seq = prefix.size - 1
        self.prev_leaf = prefix.last if prefix.size else ZERO_HASH
        self.prev_recorded: str | None = None
        self.nonces: dict[str, int] = {}
        self.tree = tree
        self.sizes = sizes
        self.roots: dict[int, bytes] = {}
        self.max_seq = prefix.size - 1  # the largest seq an entry line gave
        self.stored_nodes = _StoredNodes(nodes, report) if nodes is not None else None

    def add(self, checked: Checked) -> None:
        seq = checked.seq if checked.seq is not None else self.position
        for code, reason in checked.failures:
            self.report.fail(seq, reason, code)
        if checked.seq is not None:
            self._check_seq(checked.seq)
            self.max_seq = max(self.max_seq, checked.seq)
        if checked.prev is not None and checked.prev != self.prev_leaf:
            where = f"seq {self.prev_seq}" if self.position > self.start else "the prefix"
            self.report.fail(seq, f"prev does not match the leaf hash of the previous entry "
                             f"({where})", Code.PREV)
        self._check_recorded(seq, checked.recorded)
        self._check_nonce(seq, checked.actor, checked.nonce)
        self.prev_leaf = checked.leaf.hex()
        self.prev_seq = seq
        if self.tree is not None:
            closed = self.tree.add(checked.leaf)
            if self.stored_nodes is not None:
                self.stored_nodes.check(self.position, closed)
        self.position += 1
        if self.tree is not None and self.position in self.sizes:
            self.roots[self.position] = self.tree.root()

    def _check_seq(self, seq: int) -> None:
        if seq == self.position or seq == self.prev_seq + 1:
            return
        if self.position == self.start:
            reason = f"the first entry has seq {seq}, expected {self.start}"
        elif seq > self.prev_seq + 1:
            missing = (f"entry {self.prev_seq + 1} is missing" if seq == self.prev_seq + 2
                       else f"entries {self.prev_seq + 1}..{seq - 1} are missing")
            reason = f"seq {seq} follows seq {self.prev_seq}: {missing}"
        else:
            reason = f"seq {seq} follows seq {self.prev_seq}: out of order"
        self.report.fail(seq, reason, Code.SEQ)

    def _check_recorded(self, seq: int, recorded: str | None) -> None:
        if recorded is None:
            return
        if self.prev_recorded is not None and recorded < self.prev_recorded:
            self.report.fail(seq, f"recorded {recorded} is earlier than the previous entry's "
                             f"{self.prev_recorded} (recorded must never decrease)",
                             Code.RECORDED_ORDER)
        self.prev_recorded = recorded

    def _check_nonce(self, seq: int, actor: str | None, nonce: str | None) -> None:
        if actor is None or nonce is None:
            return
        earlier = self.nonces.setdefault(f"{len(actor)}:{actor}{nonce}", seq)  # unambiguous
        if earlier != seq:
            self.report.fail(seq, f"nonce {nonce!r} of actor {actor!r} was already used at "
                             f"seq {earlier} (replay)", Code.NONCE_REPLAY)

    def finish(self) -> None:
        report = self.report
        report.entries = self.position - self.start
        if report.entries == 0:
            report.fail(None, "there are no entries to verify", Code.RANGE)
            return
        report.first, report.last = self.start, self.position - 1
        if self.tree is not None:
            report.root = self.tree.root().hex()
        if self.stored_nodes is not None:
            extra = self.stored_nodes.source.beyond(self.position)
            if extra:
                report.fail(None, f"{extra} stored Merkle node(s) lie outside the tree of the "
                            f"{self.position} entries", Code.MERKLE_NODE)


def start_tree(prefix: Prefix, keep: set[tuple[int, int]] | None, report: Report) -> (
    RangeTree | None
):
    """The tree over the prefix roots, or None (and a failure) if the prefix is malformed."""
    if not isinstance(prefix.size, int) or prefix.size < 0:
        report.fail(None, "prefix: size must be a non-negative integer", Code.PREFIX)
        return None
    if prefix.size == 0 and prefix.last is not None:
        report.fail(None, "prefix: last must be null when the range starts at seq 0",
                    Code.PREFIX)
    if prefix.size > 0 and not is_hex64(prefix.last):
        report.fail(None, "prefix: last must be the leaf hash of the entry before the range",
                    Code.PREFIX)
    if not all(is_hex64(root) for root in prefix.subtrees):
        report.fail(None, "prefix: subtrees must be 64-character lowercase hex hashes",
                    Code.PREFIX)
        return None
    roots = [bytes.fromhex(root) for root in prefix.subtrees]
    try:
        return RangeTree(prefix.size, roots, keep)
    except ValueError as exc:
        report.fail(None, f"prefix: {exc}", Code.PREFIX)
        return None

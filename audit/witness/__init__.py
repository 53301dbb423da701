"""A department's witness (部门见证节点): cosigns ledger checkpoints that extend what it saw.

A small separate process a department runs on its own machine (``python -m audit.witness
serve``), with its own SM2 key and an SQLite state. It speaks C2SP tlog-witness
(:mod:`ledger.protocol.witness`), decides in :mod:`audit.witness.server`, keeps its state and
split-view evidence in :mod:`audit.witness.state`; :mod:`audit.witness.verify` checks
cosignatures and evidence for auditors. See docs/witness.md.

No Django anywhere in this package.
"""

"""Ledger format v2: the bytes, the acceptance rules, the tree and the notes.

This package is the one place where the format lives (docs/ledger-format.md is its prose).
The append path (:mod:`ledger.append`) and the verification core (:mod:`audit.core`) both
call it, so that what the ledger accepts and what an auditor accepts cannot drift apart.

* :mod:`.format` — times, hex, base64, statements, entries, payload commitments, leaf hashes.
* :mod:`.records` — the payloads of the ledger's own kinds (key registry, redaction) and the
  key records of a bundle's ``keys.jsonl``.
* :mod:`.keystate` — which keys are live for entry n, rebuilt from the chain.
* :mod:`.rules` — whether a statement is acceptable at a position, given the key state.
* :mod:`.checkpoints` — who may sign a checkpoint of size s, and whose cosignatures count.
* :mod:`.merkle`, :mod:`.note`, :mod:`.witness` — RFC 9162 tree, signed notes, the witness
  wire protocol.

It imports nothing of the project but :mod:`crypto`, and no Django.
"""

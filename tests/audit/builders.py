"""A pure in-memory ledger for audit tests: real SM2 keys, real entries, real checkpoints.

The builder appends whatever it is told to (it does not validate), so tests can create a
ledger that is correctly chained and checkpointed yet breaks one rule (a revoked key, a
replayed nonce) as well as tamper with a correct one afterwards.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.bundle import FORMAT, read_bundle, verify_bundle, write_bundle
from audit.core import Report
from crypto.sm2 import PrivateKey
from ledger import note as notes
from ledger.format import (
    ZERO_HASH,
    b64encode,
    entry_bytes,
    format_time,
    leaf_hash,
    make_entry,
    payload_hash,
    statement_bytes,
)
from ledger.merkle import MemoryStore, SubtreeTree, aligned_subtrees

ORIGIN = "shulian.test"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@dataclass
class Ledger:
    """Entries, payloads, checkpoints and key records of one ledger, built in memory."""

    origin: str = ORIGIN
    clock: datetime = START
    entries: list[bytes] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    payloads: dict[int, Any] = field(default_factory=dict)
    withheld: set[int] = field(default_factory=set)
    checkpoints: list[str] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    private: dict[str, PrivateKey] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    tree: MemoryStore = field(default_factory=MemoryStore)
    nonces: int = 0

    def __post_init__(self) -> None:
        self.ledger_key = self.add_key(self.origin, use="ledger", announce=False)

    # time and keys ----------------------------------------------------------------------
    def now(self) -> str:
        return format_time(self.clock)

    def tick(self, seconds: float = 1.0) -> str:
        self.clock += timedelta(seconds=seconds)
        return self.now()

    def record(self, kid: str) -> dict[str, Any]:
        return next(record for record in self.keys if record["key"] == kid)

    def add_key(self, participant: str, *, use: str = "statement", name: str | None = None,
                announce: bool = True) -> str:
        """Register a new key for ``participant`` (recorded by the ledger as an entry)."""
        private = PrivateKey.generate()
        kid = private.public_key.key_id
        self.keys.append({
            "key": kid, "name": name or participant, "participant": participant, "use": use,
            "pem": private.public_key.pem, "valid_from": self.now(), "valid_until": None,
            "revoked_at": None,
        })
        self.private[kid] = private
        if use != "witness":
            self.current[participant] = kid
        if announce:
            self.append(self.origin, "ledger.key.registered", {"key": kid, "owner": participant})
        return kid

    def rotate(self, participant: str) -> str:
        """A new key valid from now; the old one stays valid for what was signed before."""
        old = self.current[participant]
        self.tick()
        self.record(old)["valid_until"] = self.now()
        return self.add_key(participant)

    def revoke(self, kid: str) -> None:
        self.tick()
        self.record(kid)["revoked_at"] = self.now()
        self.append(self.origin, "ledger.key.revoked", {"key": kid, "reason": "compromised"})

    def add_witness(self, name: str) -> str:
        return self.add_key(name, use="witness", announce=False)

    # appending --------------------------------------------------------------------------
    def statement(self, actor: str, kind: str, payload: Any, **override: Any) -> dict[str, Any]:
        self.nonces += 1
        statement = {
            "v": 1, "ledger": self.origin, "kind": kind, "actor": actor,
            "key": self.current[actor], "subject": f"{kind.split('.')[0]}/thing/{self.nonces}",
            "payload": payload_hash(payload), "nonce": f"n-{self.nonces:06d}",
            "time": self.now(),
        }
        statement.update(override)
        return statement

    def append(self, actor: str, kind: str, payload: Any, *, withheld: bool = False,
               signer: str | None = None, recorded: str | None = None,
               **override: Any) -> int:
        """Sign (with ``signer`` or the statement's key) and append; returns the seq.

        ``override`` replaces statement fields (key, nonce, time, subject, ...).
        """
        self.tick()
        statement = self.statement(actor, kind, payload, **override)
        private = self.private[signer or statement["key"]]
        seq = len(self.entries)
        prev = leaf_hash(self.entries[-1]).hex() if self.entries else ZERO_HASH
        entry = make_entry(seq=seq, prev=prev, statement=statement,
                           sig=b64encode(private.sign(statement_bytes(statement))),
                           recorded=recorded or self.now())
        line = entry_bytes(entry)
        self.entries.append(line)
        self.statements.append(statement)
        self.payloads[seq] = payload
        if withheld:
            self.withheld.add(seq)
        self.tree.add(leaf_hash(line))
        return seq

    # checkpoints ------------------------------------------------------------------------
    def root(self, size: int) -> bytes:
        return SubtreeTree(self.tree).root(size)

    def note(self, size: int, *, root: bytes | None = None, key: str | None = None,
             witnesses: tuple[str, ...] = ()) -> str:
        root = self.root(size) if root is None else root
        private = self.private[key or self.ledger_key]
        signatures = [notes.sign(self.origin, size, root, self.origin, private)]
        body = notes.body(self.origin, size, root)
        for kid in witnesses:
            record = self.record(kid)
            signatures.append(notes.cosign(body, record["name"], self.private[kid], 1_800_000_000))
        return notes.Checkpoint(self.origin, size, root, tuple(signatures)).text()

    def seal(self, **options: Any) -> str:
        text = self.note(len(self.entries), **options)
        self.checkpoints.append(text)
        return text

    # bundles ----------------------------------------------------------------------------
    def prefix(self, start: int) -> dict[str, Any]:
        keys = aligned_subtrees(0, start)
        found = self.tree.subtrees(keys)
        return {
            "size": start,
            "subtrees": [found[key].hex() for key in keys],
            "last": leaf_hash(self.entries[start - 1]).hex() if start else None,
        }

    def parts(self, start: int = 0, end: int | None = None) -> dict[str, Any]:
        """write_bundle's keyword arguments for seqs start..end (default: to the last)."""
        end = len(self.entries) - 1 if end is None else end
        sizes = range(start + 1, end + 2)
        return {
            "manifest": {"format": FORMAT, "ledger": self.origin, "from": start, "to": end,
                         "exported_at": self.now(), "exported_for": None},
            "prefix": self.prefix(start),
            "entries": list(self.entries[start:end + 1]),
            "payloads": [(seq, self.payloads[seq]) for seq in range(start, end + 1)
                         if seq not in self.withheld],
            "checkpoints": [text for text in self.checkpoints
                            if notes.parse(text).size in sizes],
            "keys": [dict(record) for record in self.keys],
        }


def write(path: Path, parts: dict[str, Any]) -> Path:
    write_bundle(path, **parts)
    return path


def to_bytes(parts: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    write_bundle(buffer, **parts)
    return buffer.getvalue()


def realistic() -> Ledger:
    """Three participants, a rotation, a revocation, withheld payloads, five checkpoints.

    Seqs 0-2 register keys; 3-11 traffic (payloads of 6 and 10 withheld); checkpoint 12;
    12 registers op.alpha's new key (the old one expires); 13-17 traffic; checkpoint 18;
    18 registers merchant.beta's new key, 19 revokes its old one; checkpoint 20; 20-25
    objections with non-ASCII subjects (payload of 22 withheld); checkpoints 23 and 26,
    both cosigned by the witness ``witness.finance``.
    """
    ledger = Ledger()
    ledger.add_key("dept.transport")
    ledger.add_key("op.alpha")
    ledger.add_key("merchant.beta")
    actors = ["dept.transport", "op.alpha", "merchant.beta"]
    for i in range(9):
        actor = actors[i % 3]
        ledger.append(actor, "contracts.request.filed", {"n": i, "amount": f"{i * 10}.00",
                                                         "currency": "CNY"},
                      withheld=i % 4 == 3)
    ledger.seal()
    ledger.rotate("op.alpha")
    for i in range(5):
        ledger.append(actors[i % 3], "catalog.resource.published", {"n": i, "title": "公交线路"})
    ledger.seal()
    old_beta = ledger.current["merchant.beta"]
    ledger.add_key("merchant.beta")
    ledger.revoke(old_beta)
    ledger.seal()
    witness = ledger.add_witness("witness.finance")
    for i in range(6):
        ledger.append(actors[i % 3], "contracts.objection.filed",
                      {"objection": i, "text": "数据有误", "tags": ["a", "b"]},
                      subject=f"contracts/objection/异议-{i}", withheld=i == 2)
        if i == 2:
            ledger.seal(witnesses=(witness,))
    ledger.seal(witnesses=(witness,))
    return ledger


def verify_parts(parts: dict[str, Any], **options: Any) -> Report:
    """Write the parts as a bundle, read it back and verify it (in-process by default)."""
    options.setdefault("workers", 1)
    return verify_bundle(read_bundle(to_bytes(parts)), **options)


def reasons(report: Report, seq: int | None = None, checkpoint: int | None = None) -> list[str]:
    """The reasons of the failures at ``seq`` (or of checkpoint ``checkpoint``)."""
    return [f.reason for f in report.failures
            if f.seq == seq and (checkpoint is None or f.checkpoint == checkpoint)]

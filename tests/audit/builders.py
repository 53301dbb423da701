"""A pure in-memory format v2 ledger for audit tests: real SM2 keys, real entries, real
checkpoints, key registry entries in the chain, salted payload commitments.

The builder appends whatever it is told to (it does not validate), so tests can create a
ledger that is correctly chained and checkpointed yet breaks one rule (a revoked key, a
replayed nonce, a backdated statement) as well as tamper with a correct one afterwards.
Commitments, leaf hashes and the Merkle tree (RFC 9162 section 2.1, by plain recursion) are
computed here with hashlib, not with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.bundle import FORMAT, read_bundle, verify_bundle, write_bundle
from audit.report import Report
from audit.view import Stored
from crypto.canonical import canonical
from crypto.sm2 import PrivateKey
from ledger.protocol import note as notes

ORIGIN = "shulian.test"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
ZERO = "0" * 64


def ledger_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def leaf(line: bytes) -> bytes:
    return hashlib.new("sm3", b"\x00" + line).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.new("sm3", b"\x01" + left + right).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1 over leaf hashes: split at the largest power of two < n."""
    if not leaves:
        return hashlib.new("sm3", b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return node(mth(leaves[:split]), mth(leaves[split:]))


def covering(size: int) -> list[tuple[int, int]]:
    """The [start, end) ranges of the complete subtrees that cover [0, size), largest first:
    one per set bit of ``size``."""
    ranges, start = [], 0
    for bit in reversed(range(size.bit_length())):
        if size >> bit & 1:
            ranges.append((start, start + (1 << bit)))
            start += 1 << bit
    return ranges


@dataclass
class Key:
    """A key the builder registered, where, and where (if anywhere) it ended."""

    kid: str
    owner: str
    name: str
    use: str
    private: PrivateKey
    valid_from: str
    valid_until: str | None
    registered: int
    ended: int | None = None
    replaces: str | None = None

    def registration(self) -> dict[str, Any]:
        return {"key": self.kid, "owner": self.owner, "name": self.name, "use": self.use,
                "pem": self.private.public_key.pem, "valid_from": self.valid_from,
                "valid_until": self.valid_until, "replaces": self.replaces}

    def state_record(self, start: int) -> dict[str, Any]:
        """This key's keys.jsonl record in a bundle from ``start``."""
        ended = self.ended if self.ended is not None and self.ended < start else None
        return {"key": self.kid, "name": self.name, "participant": self.owner,
                "use": self.use, "pem": self.private.public_key.pem,
                "valid_from": self.valid_from, "valid_until": self.valid_until,
                "registered": self.registered, "ended": ended}


@dataclass
class Ledger:
    """Entries, payloads (with salts), checkpoints and keys of one ledger, built in memory."""

    origin: str = ORIGIN
    clock: datetime = START
    entries: list[bytes] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    payloads: dict[int, Any] = field(default_factory=dict)
    salts: dict[int, str] = field(default_factory=dict)
    withheld: set[int] = field(default_factory=set)
    erased: dict[int, int] = field(default_factory=dict)  # target seq -> redaction seq
    checkpoints: list[str] = field(default_factory=list)
    keys: dict[str, Key] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    nonces: int = 0

    def __post_init__(self) -> None:
        private = PrivateKey.generate()
        kid = private.public_key.key_id
        self.keys[kid] = Key(kid, self.origin, self.origin, "ledger", private,
                             self._valid_from(), None, 0)
        self.current[self.origin] = kid
        self.append(self.origin, "ledger.key.registered", self.keys[kid].registration(),
                    subject=f"ledger/key/{kid}", signer=kid)

    # time ---------------------------------------------------------------------------------
    def now(self) -> str:
        return ledger_time(self.clock)

    def tick(self, seconds: float = 1.0) -> str:
        self.clock += timedelta(seconds=seconds)
        return self.now()

    def _valid_from(self) -> str:
        return ledger_time(self.clock - timedelta(minutes=10))

    @property
    def ledger_key(self) -> str:
        return self.current[self.origin]

    @property
    def anchor(self) -> Key:
        """The trust anchor: the ledger key that entry 0 registers."""
        return next(key for key in self.keys.values() if key.registered == 0)

    # the key registry, in the chain --------------------------------------------------------
    def add_key(self, participant: str, *, use: str = "statement", name: str | None = None,
                valid_from: str | None = None, valid_until: str | None = None,
                replaces: str | None = None, private: PrivateKey | None = None) -> str:
        """Register a new key for ``participant``: an entry by the origin, signed by the
        current ledger key (or, rotating the ledger key, by the outgoing one)."""
        private = private or PrivateKey.generate()
        kid = private.public_key.key_id
        signer = self.ledger_key
        key = Key(kid, participant, name or participant, use, private,
                  valid_from or self._valid_from(), valid_until, len(self.entries),
                  replaces=replaces)
        seq = self.append(self.origin, "ledger.key.registered", key.registration(),
                          subject=f"ledger/key/{kid}", signer=signer)
        key.registered = seq
        self.keys[kid] = key
        if replaces is not None:
            self.keys[replaces].ended = seq
        if use != "witness":
            self.current[participant] = kid
        return kid

    def rotate(self, participant: str) -> str:
        """A successor key that replaces the current one (ledger keys too)."""
        old = self.current[participant]
        return self.add_key(participant, use=self.keys[old].use, name=self.keys[old].name,
                            replaces=old)

    def revoke(self, kid: str, reason: str = "compromised") -> int:
        seq = self.append(self.origin, "ledger.key.revoked", {"key": kid, "reason": reason},
                          subject=f"ledger/key/{kid}")
        self.keys[kid].ended = seq
        return seq

    def add_witness(self, name: str, owner: str = "dept.finance") -> str:
        return self.add_key(owner, use="witness", name=name)

    def redact(self, target: int, basis: str = "PIPL art. 47") -> int:
        """Erase the payload of ``target``: the redaction entry; exports leave it out."""
        seq = self.append(self.origin, "ledger.payload.redacted",
                          {"seq": target, "basis": basis, "request": None},
                          subject=f"ledger/entry/{target}")
        self.erased[target] = seq
        return seq

    # appending ---------------------------------------------------------------------------
    def statement(self, actor: str, kind: str, payload: Any, salt: bytes,
                  **override: Any) -> dict[str, Any]:
        self.nonces += 1
        statement = {
            "v": 2, "ledger": self.origin, "kind": kind, "actor": actor,
            "key": self.current[actor], "subject": f"{kind.split('.')[0]}/thing/{self.nonces}",
            "payload": sm3_hex(salt + canonical(payload)), "nonce": f"n-{self.nonces:06d}",
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
        salt = secrets.token_bytes(16)
        statement = self.statement(actor, kind, payload, salt, **override)
        private = self.keys[signer or statement["key"]].private
        seq = len(self.entries)
        prev = leaf(self.entries[-1]).hex() if self.entries else ZERO
        entry = {"v": 2, "seq": seq, "prev": prev, "statement": statement,
                 "sig": b64(private.sign(canonical(statement))),
                 "recorded": recorded or self.now()}
        line = canonical(entry)
        self.entries.append(line)
        self.statements.append(statement)
        self.payloads[seq] = payload
        self.salts[seq] = b64(salt)
        if withheld:
            self.withheld.add(seq)
        return seq

    def append_raw(self, statement: dict[str, Any], signature: str, payload: Any, salt: str,
                   *, recorded: str | None = None) -> int:
        """Append a statement exactly as given, signed as given (no rule applied)."""
        seq = len(self.entries)
        prev = leaf(self.entries[-1]).hex() if self.entries else ZERO
        line = canonical({"v": 2, "seq": seq, "prev": prev, "statement": statement,
                          "sig": signature, "recorded": recorded or self.now()})
        self.entries.append(line)
        self.statements.append(statement)
        self.payloads[seq] = payload
        self.salts[seq] = salt
        return seq

    # checkpoints ---------------------------------------------------------------------------
    def leaves(self) -> list[bytes]:
        return [leaf(line) for line in self.entries]

    def root(self, size: int) -> bytes:
        return mth(self.leaves()[:size])

    def note(self, size: int, *, root: bytes | None = None, key: str | None = None,
             witnesses: tuple[str, ...] = ()) -> str:
        root = self.root(size) if root is None else root
        private = self.keys[key or self.ledger_key].private
        signatures = [notes.sign(self.origin, size, root, self.origin, private)]
        body = notes.body(self.origin, size, root)
        for kid in witnesses:
            signatures.append(notes.cosign(body, self.keys[kid].name, self.keys[kid].private,
                                           1_800_000_000))
        return notes.Checkpoint(self.origin, size, root, tuple(signatures)).text()

    def seal(self, **options: Any) -> str:
        text = self.note(len(self.entries), **options)
        self.checkpoints.append(text)
        return text

    # bundles -------------------------------------------------------------------------------
    def prefix(self, start: int) -> dict[str, Any]:
        leaves = self.leaves()
        return {
            "size": start,
            "subtrees": [mth(leaves[a:b]).hex() for a, b in covering(start)],
            "last": leaves[start - 1].hex() if start else None,
        }

    def key_records(self, start: int) -> list[dict[str, Any]]:
        return [key.state_record(start) for key in
                sorted(self.keys.values(), key=lambda k: k.registered) if key.registered < start]

    def parts(self, start: int = 0, end: int | None = None, *,
              keep_erased: bool = False) -> dict[str, Any]:
        """write_bundle's keyword arguments for seqs start..end (default: to the last)."""
        end = len(self.entries) - 1 if end is None else end
        sizes = range(start + 1, end + 2)
        left_out = self.withheld | (set() if keep_erased else set(self.erased))
        return {
            "manifest": {"format": FORMAT, "ledger": self.origin, "from": start, "to": end,
                         "exported_at": self.now(), "exported_for": None},
            "prefix": self.prefix(start),
            "entries": list(self.entries[start:end + 1]),
            "payloads": [(seq, Stored(self.salts[seq], self.payloads[seq]))
                         for seq in range(start, end + 1) if seq not in left_out],
            "checkpoints": [text for text in self.checkpoints
                            if notes.parse(text).size in sizes],
            "keys": self.key_records(start),
        }


def write(path: Path, parts: dict[str, Any]) -> Path:
    write_bundle(path, **parts)
    return path


def to_bytes(parts: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    write_bundle(buffer, **parts)
    return buffer.getvalue()


def realistic() -> Ledger:
    """Three participants, rotations (the ledger key's too), a revocation, a witness,
    withheld payloads, an erased one, and checkpoints along the way.

    Seqs 0-3 register the ledger key and three participants' keys; 4-12 traffic (payloads
    of 7 and 11 withheld); checkpoint 13; 13 rotates op.alpha's key; 14-18 traffic;
    checkpoint 19; 19 registers merchant.beta's new key, 20 revokes its old one; checkpoint
    21; 21 rotates the ledger key (signed by the outgoing one); 22 registers the witness;
    23-28 objections with non-ASCII subjects (payload of 25 withheld); checkpoint 26
    cosigned; 29 erases the payload of 24; checkpoint 30 cosigned by ``witness.finance``.
    """
    ledger = Ledger()
    ledger.add_key("dept.transport")
    ledger.add_key("op.alpha")
    ledger.add_key("merchant.beta")
    actors = ["dept.transport", "op.alpha", "merchant.beta"]
    for i in range(9):
        ledger.append(actors[i % 3], "contracts.request.filed",
                      {"n": i, "amount": f"{i * 10}.00", "currency": "CNY"},
                      withheld=i % 4 == 3)
    ledger.seal()
    ledger.rotate("op.alpha")
    for i in range(5):
        ledger.append(actors[i % 3], "catalog.resource.published", {"n": i, "title": "公交线路"})
    ledger.seal()
    old_beta = ledger.current["merchant.beta"]
    ledger.add_key("merchant.beta", replaces=None)
    ledger.revoke(old_beta)
    ledger.seal()
    ledger.rotate(ledger.origin)
    witness = ledger.add_witness("witness.finance")
    for i in range(6):
        ledger.append(actors[i % 3], "contracts.objection.filed",
                      {"objection": i, "text": "数据有误", "tags": ["a", "b"]},
                      subject=f"contracts/objection/异议-{i}", withheld=i == 2)
        if i == 2:
            ledger.seal(witnesses=(witness,))
    ledger.redact(24)
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


def codes(report: Report, seq: int | None = None) -> list[str]:
    """The codes of the failures at ``seq``."""
    return [f.code for f in report.failures if f.seq == seq]


def found(report: Report) -> list[tuple[int | None, str]]:
    """(seq, code) of every failure, in the report's order."""
    return [(f.seq, f.code) for f in report.failures]


def replace_checkpoint(parts: dict[str, Any], text: str) -> None:
    """Put the checkpoint note ``text`` in place of the bundle's one of the same size."""
    size = notes.parse(text).size
    parts["checkpoints"] = [text if notes.parse(t).size == size else t
                            for t in parts["checkpoints"]]

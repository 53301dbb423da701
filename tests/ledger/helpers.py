"""Helpers for the ledger tests: client keys, hand-built statements, and an independent
RFC 9162 Merkle tree (naive, recursive, SM3) to check the ledger's results against.

Nothing here uses ``ledger.protocol.merkle``: the tree code below is written from RFC 9162 section
2.1 alone, so that a shared mistake cannot make both sides agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from audit.report import Report
from audit.services import verify_range
from crypto.canonical import canonical
from crypto.sm2 import PrivateKey
from ledger import services
from ledger.models import Entry, LedgerKey, MerkleNode, Payload

# --- clients with their own keys ---------------------------------------------------------


@dataclass
class Client:
    """A participant that holds its own private key and signs statements itself."""

    actor: str
    private: PrivateKey
    key: LedgerKey

    @property
    def key_id(self) -> str:
        return self.key.key_id

    def statement(self, data: Any = None, /, *, salt: bytes = b"", **fields: Any) -> (
        dict[str, Any]
    ):
        """A statement by this client about payload ``data`` under ``salt``; ``fields``
        override any field."""
        stmt = statement(actor=self.actor, key_id=self.key_id, data=data, salt=salt)
        stmt.update(fields)
        return stmt

    def submission(self, data: Any = None, /, **fields: Any) -> services.Submission:
        """A statement about ``data``, signed by this client, with ``data`` as payload."""
        data = {"n": 1} if data is None else data
        salt = new_salt()
        stmt = self.statement(data, salt=salt, **fields)
        return services.Submission(stmt, sign(self.private, stmt), data, b64(salt))


def register_client(actor: str, **kwargs: Any) -> Client:
    """Generate a key pair on the client side and register only its public PEM."""
    private = PrivateKey.generate()
    with transaction.atomic():
        key = services.register_key(owner=actor, pem=private.public_key.pem, **kwargs)
    return Client(actor, private, key)


def append(sub: services.Submission) -> Entry:
    """Append one submission in its own transaction, as a caller of the ledger does."""
    with transaction.atomic():
        return services.append_many([sub])[0]


def ledger_time(moment: datetime | None = None, **delta: float) -> str:
    """A ledger time string (six fractional digits, Z), ``moment`` (default now) + delta."""
    when = (moment or datetime.now(UTC)) + timedelta(**delta)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sm3_hex(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def digest_of(payload: Any, salt: bytes = b"") -> str:
    """The commitment SM3(salt || canonical payload), computed the way a client would.

    A careless client may hash what the ledger refuses (floats, huge integers); then the
    digest is taken over sorted compact JSON, so that the ledger's own check is what fails.
    """
    try:
        data = canonical(payload)
    except ValueError:
        data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return sm3_hex(salt + data)


def statement(*, actor: str, key_id: str, data: Any = None, salt: bytes = b"",
              **fields: Any) -> dict[str, Any]:
    """A v2 statement about payload ``data`` under ``salt``; ``fields`` override any field."""
    payload = {"n": 1} if data is None else data
    stmt: dict[str, Any] = {
        "v": 2,
        "ledger": services.origin(),
        "kind": "tests.thing.done",
        "actor": actor,
        "key": key_id,
        "subject": "tests/thing/1",
        "payload": digest_of(payload, salt),
        "nonce": secrets.token_hex(16),
        "time": ledger_time(),
    }
    stmt.update(fields)
    return stmt


def sign(private: PrivateKey, stmt: dict[str, Any]) -> str:
    """Base64 DER SM2 signature over the canonical statement bytes."""
    return base64.b64encode(private.sign(canonical(stmt))).decode("ascii")


# --- the database ---------------------------------------------------------------------------


def empty_all_tables() -> None:
    """Empty every table of a committed database (the append-only triggers are lifted only
    for that). For fixtures that commit, never for a test body."""
    from django.core.management import call_command
    from django.db import connection

    from ledger import triggers

    triggers.drop(connection)
    try:
        call_command("flush", interactive=False, verbosity=0)
    finally:
        triggers.install(connection)


# --- what was written ----------------------------------------------------------------------


def counts() -> tuple[int, int, int]:
    """(entries, payloads, Merkle nodes): all three must stay put when an append is refused."""
    return Entry.objects.count(), Payload.objects.count(), MerkleNode.objects.count()


def all_entries() -> list[Entry]:
    return list(Entry.objects.order_by("seq"))


def assert_audit_clean() -> Report:
    """The verifier, run over the whole live ledger (entries, columns, Merkle nodes, key
    cache, checkpoints), finds nothing wrong; its report."""
    _, report = verify_range()
    assert report.ok, [failure.line() for failure in report.failures]
    return report


def assert_chain(entries: list[Entry]) -> None:
    """seq 0..n-1 with no gap, each ``prev`` the leaf hash before it, each leaf hash right."""
    assert [e.seq for e in entries] == list(range(len(entries)))
    previous = "0" * 64
    for e in entries:
        assert e.prev == previous, f"entry {e.seq} does not link to entry {e.seq - 1}"
        assert e.leaf_hash == leaf_hash(e.data.encode()).hex()
        previous = e.leaf_hash


# --- an independent RFC 9162 tree ----------------------------------------------------------


def _h(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def leaf_hash(entry_bytes: bytes) -> bytes:
    return _h(b"\x00" + entry_bytes)


def node_hash(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1 over leaf hashes, by plain recursion."""
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


class NaiveTree:
    """MTH of any range of a fixed list of leaf hashes, memoised per range."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self._memo: dict[tuple[int, int], bytes] = {}

    def root(self, size: int) -> bytes:
        return _h(b"") if size == 0 else self._range(0, size)

    def _range(self, start: int, end: int) -> bytes:
        if end - start == 1:
            return self.leaves[start]
        found = self._memo.get((start, end))
        if found is None:
            k = split(end - start)
            found = node_hash(self._range(start, start + k), self._range(start + k, end))
            self._memo[(start, end)] = found
        return found


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """Rebuild the root from an audit path by following PATH's recursion (RFC 9162 2.1.3.1):
    the last element of PATH(m, D[n]) is the sibling at the top split, the rest is the path
    inside the half that holds leaf m."""
    if not 0 <= index < size:
        return False

    def rebuild(m: int, n: int, nodes: list[bytes]) -> bytes | None:
        if n == 1:
            return leaf if not nodes else None
        if not nodes:
            return None
        k = split(n)
        if m < k:
            left = rebuild(m, k, nodes[:-1])
            return None if left is None else node_hash(left, nodes[-1])
        right = rebuild(m - k, n - k, nodes[:-1])
        return None if right is None else node_hash(nodes[-1], right)

    return rebuild(index, size, list(path)) == root


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """Rebuild both roots by following SUBPROOF's recursion (RFC 9162 2.1.4.1).

    ``rebuild`` returns (MTH of the first m leaves of the subtree, MTH of the subtree).
    While ``complete`` holds, the subtree's first m leaves are exactly the old tree, whose
    root the verifier already knows, so SUBPROOF leaves it out of the proof.
    """
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root

    def rebuild(m: int, n: int, nodes: list[bytes], complete: bool) -> tuple[bytes, bytes] | None:
        if m == n:
            if complete:
                return (old_root, old_root) if not nodes else None
            return (nodes[0], nodes[0]) if len(nodes) == 1 else None
        if not nodes:
            return None
        k = split(n)
        if m <= k:
            inner = rebuild(m, k, nodes[:-1], complete)
            if inner is None:
                return None
            return inner[0], node_hash(inner[1], nodes[-1])
        inner = rebuild(m - k, n - k, nodes[:-1], False)
        if inner is None:
            return None
        return node_hash(nodes[-1], inner[0]), node_hash(nodes[-1], inner[1])

    rebuilt = rebuild(old, new, list(proof), True)
    return rebuilt is not None and rebuilt == (old_root, new_root)

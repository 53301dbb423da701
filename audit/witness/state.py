"""A witness's own state: one SQLite file in its state directory.

* ``cosigned``: every checkpoint the witness cosigned (size, root, the ledger-signed note),
  insert-only; the latest is the one with the largest size.
* ``evidence``: split views: a validly ledger-signed checkpoint that the witness refused
  because its root differs from that of the checkpoint of the same size it cosigned (a
  fork), with both notes.
* ``meta``: the ledger origin this state belongs to, and the witness's name and key.

Writers hold an exclusive lock on ``DIR/witness.lock`` (one serving process per state);
readers (``status``, ``evidence``) may run beside it. No Django.
"""

from __future__ import annotations

import base64
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DB_NAME = "witness.sqlite3"
LOCK_NAME = "witness.lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cosigned (
    size INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    old INTEGER NOT NULL,
    size INTEGER NOT NULL,
    root TEXT NOT NULL,
    cosigned_size INTEGER NOT NULL,
    cosigned_root TEXT NOT NULL,
    cosigned_note TEXT NOT NULL,
    presented_note TEXT NOT NULL,
    proof TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (kind, size, root, cosigned_size, cosigned_root)
);
"""


class StateError(RuntimeError):
    """The state directory cannot be used (locked by another witness, another ledger...)."""


@dataclass(frozen=True)
class Cosigned:
    size: int
    root: bytes
    note: str
    cosigned_at: int


@dataclass(frozen=True)
class Evidence:
    """A split view: ``presented`` (refused) against ``cosigned`` (what the witness holds).

    ``kind`` is ``fork``: same size, different root, both signed by the ledger. (States kept
    by earlier versions may also hold ``inconsistent`` records, made on the strength of a
    consistency proof that did not verify; they prove nothing, see ``verify``.)
    """

    kind: str
    reason: str
    old: int
    size: int
    root: bytes
    cosigned_size: int
    cosigned_root: bytes
    cosigned_note: str
    presented_note: str
    proof: tuple[bytes, ...]
    received_at: int
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "reason": self.reason,
            "received_at": iso_time(self.received_at),
            "old": self.old,
            "proof": [base64.b64encode(node).decode("ascii") for node in self.proof],
            "presented": {"size": self.size, "root": self.root.hex(),
                          "note": self.presented_note},
            "cosigned": {"size": self.cosigned_size, "root": self.cosigned_root.hex(),
                         "note": self.cosigned_note},
        }


def iso_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """The witness's SQLite state. Thread-safe: one connection behind a lock."""

    def __init__(self, directory: str | os.PathLike[str], *, writer: bool = False) -> None:
        self.directory = Path(directory)
        path = self.directory / DB_NAME
        self._lock_file: int | None = None
        if writer:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        elif not path.exists():
            raise StateError(f"{self.directory} holds no witness state ({DB_NAME} is missing)")
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        if writer:
            self._db.executescript(_SCHEMA)
        self.lock = threading.RLock()

    def _take_lock(self) -> None:
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateError(f"another witness process is using {self.directory}") from None
        self._lock_file = fd

    def close(self) -> None:
        self._db.close()
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """An exclusive write transaction (with the in-process lock held)."""
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- meta -------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with self.lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def bind(self, origin: str, **values: str) -> None:
        """Bind this state to ``origin`` (refusing another one) and record ``values``."""
        with self.transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
            if row is not None and row[0] != origin:
                raise StateError(f"this state belongs to the ledger {row[0]!r}, not {origin!r}")
            for key, value in {"origin": origin, **values}.items():
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 (key, value))

    # --- cosigned checkpoints ---------------------------------------------------------
    @staticmethod
    def _cosigned(row: tuple[Any, ...] | None) -> Cosigned | None:
        if row is None:
            return None
        return Cosigned(row[0], bytes.fromhex(row[1]), row[2], row[3])

    def latest(self) -> Cosigned | None:
        with self.lock:
            return self._cosigned(self._db.execute(
                "SELECT size, root, note, cosigned_at FROM cosigned ORDER BY size DESC LIMIT 1"
            ).fetchone())

    def cosigned(self, size: int) -> Cosigned | None:
        with self.lock:
            return self._cosigned(self._db.execute(
                "SELECT size, root, note, cosigned_at FROM cosigned WHERE size = ?", (size,)
            ).fetchone())

    def count_cosigned(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT count(*) FROM cosigned").fetchone()[0])

    def add_cosigned(self, size: int, root: bytes, note: str, when: int) -> None:
        """Record a newly cosigned checkpoint (call inside :meth:`transaction`)."""
        self._db.execute(
            "INSERT OR IGNORE INTO cosigned (size, root, note, cosigned_at) VALUES (?, ?, ?, ?)",
            (size, root.hex(), note, when),
        )

    # --- evidence ---------------------------------------------------------------------
    def add_evidence(self, item: Evidence) -> None:
        """Keep a split view (once: the same pair presented again is not repeated)."""
        self._db.execute(
            "INSERT OR IGNORE INTO evidence (kind, reason, old, size, root, cosigned_size, "
            "cosigned_root, cosigned_note, presented_note, proof, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.kind, item.reason, item.old, item.size, item.root.hex(), item.cosigned_size,
             item.cosigned_root.hex(), item.cosigned_note, item.presented_note,
             _proof_text(item.proof), item.received_at),
        )

    def evidence(self) -> list[Evidence]:
        with self.lock:
            rows = self._db.execute(
                "SELECT kind, reason, old, size, root, cosigned_size, cosigned_root, "
                "cosigned_note, presented_note, proof, received_at, id FROM evidence ORDER BY id"
            ).fetchall()
        return [
            Evidence(kind, reason, old, size, bytes.fromhex(root), cosigned_size,
                     bytes.fromhex(cosigned_root), cosigned_note, presented_note,
                     _proof_nodes(proof), received_at, ident)
            for (kind, reason, old, size, root, cosigned_size, cosigned_root, cosigned_note,
                 presented_note, proof, received_at, ident) in rows
        ]

    def count_evidence(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT count(*) FROM evidence").fetchone()[0])

    def status(self) -> dict[str, Any]:
        """What ``python -m audit.witness status`` prints."""
        meta = self.meta()
        latest = self.latest()
        return {
            "origin": meta.get("origin"),
            "name": meta.get("name"),
            "key": meta.get("key"),
            "ledger_keys": meta.get("ledger_keys", "").split(",") if meta.get("ledger_keys")
            else [],
            "size": latest.size if latest else 0,
            "root": latest.root.hex() if latest else None,
            "cosigned_at": iso_time(latest.cosigned_at) if latest else None,
            "cosigned": self.count_cosigned(),
            "evidence": self.count_evidence(),
        }


def _proof_text(proof: Sequence[bytes]) -> str:
    return "\n".join(base64.b64encode(node).decode("ascii") for node in proof)


def _proof_nodes(text: str) -> tuple[bytes, ...]:
    return tuple(base64.b64decode(line) for line in text.split("\n") if line)

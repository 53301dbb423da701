"""Django's SQLite backend, with writers that wait their turn in the kernel.

Every transaction begins with BEGIN IMMEDIATE (settings), which takes SQLite's write lock.
SQLite's own wait for that lock is a busy handler that sleeps and retries, longer each
time: under load one writer can wait many seconds while others take the lock hundreds of
times. Here a transaction first takes an exclusive ``flock`` on a file beside the database
(``<db>.writers``): waiters block in the kernel and are woken as soon as the holder commits
or rolls back (or dies: the kernel releases the lock of a process that exits), so the lock
passes from writer to writer without sleeps. Reads outside a transaction take no lock (WAL).
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from django.db.backends.sqlite3 import base

# django-stubs leave out the private transaction hooks overridden here
_SQLiteWrapper: Any = base.DatabaseWrapper


class DatabaseWrapper(_SQLiteWrapper):  # type: ignore[misc]
    _turn: int | None = None

    def _lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if not name or name == ":memory:" or name.startswith("file:"):
            return None
        return f"{name}.writers"

    def _take_turn(self) -> None:
        path = self._lock_path()
        if path is None or self._turn is not None:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._turn = fd

    def _end_turn(self) -> None:
        fd, self._turn = self._turn, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def _start_transaction_under_autocommit(self) -> None:
        self._take_turn()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._end_turn()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()
        finally:
            self._end_turn()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()
        finally:
            self._end_turn()

    def _close(self) -> Any:
        try:
            return super()._close()
        finally:
            self._end_turn()

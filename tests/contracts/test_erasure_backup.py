"""Backups written after an erasure do not contain it, on either engine, made with the
engine's own tools as the README tells an operator: ``sqlite3 DB ".backup FILE"`` (and the
database file itself), ``pg_dump`` on PostgreSQL. A backup written before the erasure is the
control: it holds every secret, so the check can fail.

SQLite keeps a row's old bytes in the page's free space unless ``secure_delete`` is on
(config/settings.py turns it on); the committed database is needed, so that the tools, in
another process, see what the application wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from contracts import erasure, objections
from tests.contracts import world as w
from tests.contracts.test_erasure_proof import CONTACT, DESCRIPTION, SECRETS


def found_in(data: bytes) -> list[str]:
    """The secrets in ``data``: as UTF-8, or as the JSON \\u escapes a payload may use."""
    return [s for s in SECRETS
            if s.encode() in data or json.dumps(s)[1:-1].encode() in data]


def backup(target: Path) -> bytes:
    """A backup of the live database written by the engine's own tool; its bytes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        tool = shutil.which("sqlite3")
        if tool is None:
            pytest.skip("the sqlite3 command-line tool is not installed")
        subprocess.run([tool, db["NAME"], f".backup {target}"], check=True, timeout=120)
        return target.read_bytes()
    tool = shutil.which("pg_dump")
    if tool is None:
        pytest.skip("pg_dump is not installed")
    env = dict(os.environ, PGPASSWORD=db.get("PASSWORD") or "")
    subprocess.run([tool, "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
                    "-U", db["USER"], "-f", str(target), db["NAME"]],
                   check=True, timeout=120, env=env)
    return target.read_bytes()


def checkpointed_file() -> bytes:
    """The SQLite database file itself, its write-ahead log folded in and emptied."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(connection.settings_dict["NAME"]).read_bytes()


def test_a_backup_written_after_an_erasure_does_not_contain_it(committed_db: Any,
                                                               tmp_path: Path) -> None:
    world = w.build()
    objections.file_objection(by=world.subject_user, resource=world.unconditional,
                              ground="accuracy", description=DESCRIPTION, contact=CONTACT)
    (made,) = erasure.request_erasure(by=world.subject_user, ground="consent")
    assert found_in(backup(tmp_path / "before")) == SECRETS  # the control

    erasure.approve_erasure(by=world.provider_user, request=made)

    assert found_in(backup(tmp_path / "after")) == []
    if connection.vendor == "sqlite":
        assert found_in(checkpointed_file()) == []

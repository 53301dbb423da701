"""Shared fixtures. Tests run against the database DATABASE_URL names (SQLite by default)."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("SHULIAN_DATA_DIR", tempfile.mkdtemp(prefix="shulian-test-"))


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _empty_all_tables() -> None:
    from django.core.management import call_command
    from django.db import connection

    from ledger import triggers

    triggers.drop(connection)
    try:
        call_command("flush", interactive=False, verbosity=0)
    finally:
        triggers.install(connection)


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
    """A database whose transactions really commit (visible to other processes).

    The tables are emptied before and after; the append-only triggers are lifted only
    for that and reinstalled at once.
    """
    with django_db_blocker.unblock():
        _empty_all_tables()
        try:
            yield
        finally:
            from django.db import connections

            connections.close_all()
            _empty_all_tables()


@pytest.fixture
def triggers_lifted():
    """Simulate an attacker with database access: the append-only triggers are dropped
    for the test body (reinstalled afterwards)."""
    import contextlib

    from django.db import connection

    from ledger import triggers

    @contextlib.contextmanager
    def lifted():
        triggers.drop(connection)
        try:
            yield
        finally:
            triggers.install(connection)

    return lifted

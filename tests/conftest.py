"""Shared fixtures. Tests run against the database DATABASE_URL names (SQLite by default)."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("SHULIAN_DATA_DIR", tempfile.mkdtemp(prefix="shulian-test-"))


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Each test starts with the process's caches empty (kernel.caches): a row a rolled-back
    test read must not be served to the next one."""
    from kernel import caches

    caches.clear_all()
    yield


@pytest.fixture
def tmp_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Always create the test database, also for a run made only of `committed_db` tests
    (pytest-django creates it only when some selected test carries the django_db mark)."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(created, verbosity=0)


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

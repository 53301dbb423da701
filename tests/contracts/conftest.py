"""The workflow tests share one world per module: built once through the services and
committed, so that each test (rolled back as usual) starts from it; emptied afterwards.
Building it per test would cost a quarter of a second each, for about a thousand tests."""

from __future__ import annotations

import pytest

from tests.contracts import world as w


def _empty_all_tables() -> None:
    from django.core.management import call_command
    from django.db import connection

    from ledger import triggers

    triggers.drop(connection)
    try:
        call_command("flush", interactive=False, verbosity=0)
    finally:
        triggers.install(connection)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        _empty_all_tables()
        try:
            yield w.build()
        finally:
            from django.db import connections

            connections.close_all()
            _empty_all_tables()


class Clock:
    """Moves the workflows' clock (contracts.common.now); the ledger keeps real time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch

    def set(self, moment):  # type: ignore[no-untyped-def]
        from contracts import common

        self._monkeypatch.setattr(common, "now", lambda: moment)

    def reset(self) -> None:
        self._monkeypatch.undo()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)

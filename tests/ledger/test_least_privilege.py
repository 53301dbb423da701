"""Least privilege on PostgreSQL: the application's role can append to the ledger and do its
work, and cannot rewrite history, disable the triggers or switch them off for its session.

scripts/test creates the application role (``SHULIAN_TEST_APP_ROLE``, default
``shulian_app``) on its throwaway cluster; the owner role that runs the tests grants it its
privileges with ``manage.py grant_app_role``, as a production deployment does after migrate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from ledger import services
from ledger.models import Entry

ROLE = os.environ.get("SHULIAN_TEST_APP_ROLE", "")

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL roles only"),
    pytest.mark.skipif(not ROLE and os.environ.get("CI") != "true",
                       reason="SHULIAN_TEST_APP_ROLE names no application role here"),
]


def _as_app(autocommit: bool = True) -> Any:
    import psycopg2

    db = connection.settings_dict
    conn = psycopg2.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
                            dbname=db["NAME"], user=ROLE)
    conn.autocommit = autocommit
    return conn


@pytest.fixture
def app_role(committed_db: None) -> Iterator[Any]:
    """The application's connection, after the owner granted it its privileges; some
    history on the ledger to try to change."""
    assert ROLE, "CI must name the application role (scripts/test sets SHULIAN_TEST_APP_ROLE)"
    with transaction.atomic():
        services.ensure_ledger_key()
        services.issue_custodial_key(owner="TESTER")
        services.record(actor="TESTER", kind="tests.thing.done", subject="tests/thing/1",
                        payload={"n": 1})
    call_command("grant_app_role", ROLE)
    conn = _as_app()
    try:
        yield conn
    finally:
        conn.close()


REFUSED = {
    "UPDATE an entry": "UPDATE ledger_entry SET kind = 'tests.thing.undone'",
    "DELETE an entry": "DELETE FROM ledger_entry",
    "TRUNCATE the entries": "TRUNCATE ledger_entry CASCADE",
    "UPDATE a key": "UPDATE ledger_ledgerkey SET valid_until = NULL",
    "DELETE a key's end": "DELETE FROM ledger_keyend",
    "UPDATE a checkpoint": "UPDATE ledger_checkpoint SET root = root",
    "DELETE a Merkle node": "DELETE FROM ledger_merklenode",
    "UPDATE a payload's restriction": "UPDATE ledger_payload SET restricted = NOT restricted",
    "disable the triggers": "ALTER TABLE ledger_entry DISABLE TRIGGER ALL",
    "disable one trigger": "ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_append_only",
    "drop a trigger": "DROP TRIGGER ledger_entry_append_only ON ledger_entry",
    "replace the trigger function":
        "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$",
    "switch triggers off for the session": "SET session_replication_role = replica",
    "take ownership": f"ALTER TABLE ledger_entry OWNER TO {ROLE or 'nobody'}",
}


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_the_application_role_cannot_rewrite_history(app_role: Any, sql: str) -> None:
    import psycopg2

    before = Entry.objects.count()
    with pytest.raises(psycopg2.Error) as info, app_role.cursor() as cursor:
        cursor.execute(sql)
    assert info.value.pgcode == "42501", str(info.value)  # insufficient_privilege
    assert Entry.objects.count() == before


def test_the_application_role_reads_the_ledger_and_writes_its_other_tables(app_role: Any) -> (
    None
):
    with app_role.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_entry")
        assert cursor.fetchone()[0] == Entry.objects.count()
        cursor.execute("UPDATE auth_user SET last_name = last_name")
        cursor.execute("SELECT current_user, "
                       "(SELECT count(*) FROM pg_tables WHERE tableowner = current_user)")
        user, owned = cursor.fetchone()
    assert user == ROLE and owned == 0, "the application role must own no table"


def as_the_application(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (after ``django.setup()``) in a process of its own, connected as the
    application's role, as a server would be."""
    db = connection.settings_dict
    url = f"postgres://{ROLE}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url,
           "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
           "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
           "SHULIAN_SECRET_KEY": settings.SECRET_KEY,
           "SHULIAN_LEDGER_ORIGIN": settings.SHULIAN_LEDGER_ORIGIN}
    return subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_application_appends_as_that_role(app_role: Any, tmp_path: Any) -> None:
    """The application itself, connected as the role, appends through the ledger's one
    append path (a separate process, as a server would be)."""
    code = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from ledger import services\n"
        "with transaction.atomic():\n"
        "    entry = services.record(actor='TESTER', kind='tests.thing.done',\n"
        "                            subject='tests/thing/2', payload={'n': 2})\n"
        "print(entry.seq)\n"
    )
    result = as_the_application(code)
    assert result.returncode == 0, result.stderr[-2000:]
    seq = int(result.stdout.split()[-1])
    assert Entry.objects.get(seq=seq).subject == "tests/thing/2"


def test_the_grants_are_exactly_the_policy(app_role: Any) -> None:
    """What the role holds on the ledger's tables, as PostgreSQL reports it."""
    with app_role.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
            "FROM information_schema.role_table_grants WHERE grantee = current_user "
            "AND table_name LIKE 'ledger_%%' GROUP BY table_name")
        held = dict(cursor.fetchall())
    assert held, "no privileges at all on the ledger's tables"
    # the queue of accepted statements and the integrator's lease are working tables: a
    # queued statement leaves the queue as it becomes an entry
    working = {"ledger_pending", "ledger_integratorlease"}
    assert {table: held[table] for table in working} == dict.fromkeys(
        working, "DELETE,INSERT,SELECT,UPDATE")
    record = {table: grants for table, grants in held.items() if table not in working}
    assert set(record.values()) == {"INSERT,SELECT"}, record
    assert set(record) >= {"ledger_entry", "ledger_payload", "ledger_nonce",
                           "ledger_merklenode", "ledger_checkpoint"}

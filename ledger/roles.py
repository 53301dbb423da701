"""Least privilege on PostgreSQL: the application's role owns no table and holds only
INSERT and SELECT on the ledger's tables.

Migrations run as an owner role, which owns the tables, their triggers and the trigger
functions. The application connects as another role that may read everything, write the
rest of the application's tables as it needs, and only append to the ledger: it cannot
UPDATE, DELETE or TRUNCATE ledger rows, nor disable or drop the triggers (that needs
ownership), nor set ``session_replication_role`` (that needs a superuser). The one update
it holds on a ledger table is ``ledger_payload (data, salt)``, which the trigger allows only
to erase a payload whose redaction entry exists.

:func:`grant_statements` is the policy; ``manage.py grant_app_role ROLE`` applies it, and
``migrate`` applies it by itself when ``SHULIAN_DB_APP_ROLE`` names the role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from ledger.triggers import APPEND_ONLY_TABLES, PAYLOAD_TABLE

ERASABLE_COLUMNS = ("data", "salt")


def _name(connection: BaseDatabaseWrapper, identifier: str) -> str:
    return str(connection.ops.quote_name(identifier))


def grant_statements(connection: BaseDatabaseWrapper, role: str,
                     tables: Sequence[str]) -> list[str]:
    """The GRANTs (after revoking everything) that give ``role`` exactly its privileges."""
    who = _name(connection, role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {who}",
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
    ]
    for table in sorted(tables):
        name = _name(connection, table)
        if table == "django_migrations":
            statements.append(f"GRANT SELECT ON {name} TO {who}")
        elif table in APPEND_ONLY_TABLES:
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {who}")
            if table == PAYLOAD_TABLE:
                columns = ", ".join(ERASABLE_COLUMNS)
                statements.append(f"GRANT UPDATE ({columns}) ON {name} TO {who}")
        else:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {who}")
    return statements


def grant(connection: BaseDatabaseWrapper, role: str) -> list[str]:
    """Apply the policy to ``role`` on ``connection``'s database (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("database roles are a PostgreSQL setup; SQLite has none")
    tables = connection.introspection.table_names()
    statements = grant_statements(connection, role, tables)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements


def grant_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: grant to ``SHULIAN_DB_APP_ROLE`` when it is set (PostgreSQL)."""
    role = getattr(settings, "SHULIAN_DB_APP_ROLE", "")
    connection = connections[using]
    if role and connection.vendor == "postgresql":
        grant(connection, role)

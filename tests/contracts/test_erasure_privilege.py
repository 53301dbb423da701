"""Erasure under least privilege (PostgreSQL): the application's role erases a payload only
through its redaction entry (the one path, ``ledger.services.redact_payload``, which an
approved erasure request takes); the same UPDATE without the entry is refused by the
trigger, and no other column of a payload may change."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from ledger import services
from ledger.models import Entry, Payload
from tests.ledger.test_least_privilege import (  # noqa: F401
    app_role,
    as_the_application,
    pytestmark,
)


def _thing(n: int) -> Entry:
    with transaction.atomic():
        return services.record(actor="TESTER", kind="tests.thing.done",
                               subject=f"tests/thing/{n}", payload={"n": n, "who": "张三"})


def test_the_application_role_erases_only_through_a_redaction(app_role: Any) -> None:  # noqa: F811
    import psycopg2

    target = _thing(10)
    with pytest.raises(psycopg2.Error) as info, app_role.cursor() as cursor:
        cursor.execute("UPDATE ledger_payload SET data = '', salt = '' WHERE entry_id = %s",
                       [target.seq])
    assert info.value.pgcode == "42501" and "append-only" in str(info.value)
    for sql in ("UPDATE ledger_payload SET data = '{}' WHERE entry_id = %s",
                "UPDATE ledger_payload SET entry_id = entry_id + 1000 WHERE entry_id = %s"):
        with pytest.raises(psycopg2.Error) as info, app_role.cursor() as cursor:
            cursor.execute(sql, [target.seq])
        assert info.value.pgcode == "42501"
    assert Payload.objects.get(entry=target).data != ""

    code = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from ledger import services\n"
        "with transaction.atomic():\n"
        f"    entry = services.redact_payload(seq={target.seq}, basis='PIPL art. 47')\n"
        "print(entry.seq)\n"
    )
    result = as_the_application(code)
    assert result.returncode == 0, result.stderr[-2000:]
    redaction = Entry.objects.get(seq=int(result.stdout.split()[-1]))
    assert redaction.subject == f"ledger/entry/{target.seq}"
    with app_role.cursor() as cursor:
        cursor.execute("SELECT data, salt FROM ledger_payload WHERE entry_id = %s",
                       [target.seq])
        assert cursor.fetchone() == ("", "")
        # erased: it may not be filled in again, by the application or anyone
        with pytest.raises(psycopg2.Error):
            cursor.execute("UPDATE ledger_payload SET data = %s WHERE entry_id = %s",
                           ['{"n":10}', target.seq])

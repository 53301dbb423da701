"""Tampering with the live database (raw SQL, triggers lifted as an attacker with database
access would) is found by verify_ledger at the right seq with the right reason."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection

from audit import services as audit
from ledger import selectors
from ledger import services as ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_ledger() -> int:
    """A ledger of a dozen entries by one custodial actor, sealed; returns the size."""
    key = ledger.issue_custodial_key(owner="91110108MA01XY2K91")
    for number in range(10):
        ledger.record(actor=key.owner, kind="tests.tamper.step", subject=f"tests/t/{number}",
                      payload={"n": number, "note": "original"})
    ledger.seal_checkpoint()
    return selectors.size()


def sql(statement: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def reasons_at(seq: int | None) -> list[str]:
    _, report = audit.verify_range(workers=1)
    assert not report.ok
    return [f.reason for f in report.failures if f.seq == seq]


def test_an_untouched_ledger_verifies_and_is_attested(live_ledger: int) -> None:
    span, report, entry = audit.verify_ledger(workers=1)
    assert report.ok and (span.first, span.last) == (0, live_ledger - 1)
    assert entry is not None and entry.kind == "audit.verification.completed"


def test_a_changed_payload_is_found_at_its_seq(live_ledger: int, triggers_lifted) -> None:
    seq = live_ledger - 3
    with triggers_lifted():
        sql("UPDATE ledger_payload SET data = %s WHERE entry_id = %s",
            ['{"n":7,"note":"forged"}', seq])
    assert any("payload" in reason for reason in reasons_at(seq))


def test_a_changed_statement_field_breaks_signature_and_chain(live_ledger: int,
                                                              triggers_lifted) -> None:
    seq = 4
    data = selectors.entry(seq).data.replace("tests.tamper.step", "tests.tamper.edit")
    with triggers_lifted():
        sql("UPDATE ledger_entry SET data = %s WHERE seq = %s", [data, seq])
    reasons = reasons_at(seq)
    assert any("signature" in reason for reason in reasons)
    assert any("prev" in reason for reason in reasons_at(seq + 1))


def test_a_deleted_entry_is_found(live_ledger: int, triggers_lifted) -> None:
    seq = 5
    with triggers_lifted():
        sql("DELETE FROM ledger_payload WHERE entry_id = %s", [seq])
        sql("DELETE FROM ledger_entry WHERE seq = %s", [seq])
    _, report = audit.verify_range(first=0, last=live_ledger - 2, workers=1)
    assert not report.ok
    assert any("missing" in f.reason or "seq" in f.reason for f in report.failures)


def test_verify_ledger_command_exits_1_and_lists_the_failure(live_ledger: int,
                                                            triggers_lifted, capsys) -> None:
    seq = 2
    with triggers_lifted():
        sql("UPDATE ledger_payload SET data = %s WHERE entry_id = %s", ['{"n":99}', seq])
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_ledger", "--json", "--workers", "1")
    assert exit_info.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert any(f["seq"] == seq for f in report["failures"])

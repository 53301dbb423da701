"""Domain actions without waste: each write service reads and writes with at most six SQL
statements once the process is warm (the request's memberships read once, the custodial key
held unsealed, the working-day calendar cached), on either engine.

Counted are the statements that read or write rows; the transaction's own control
statements (BEGIN/COMMIT, or SAVEPOINT/RELEASE when nested, as in these tests) are not.
Each action is taken once to warm the process, then once more while counting, and the
second one must have done its work (its entry appended, or its records queued).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contracts import objections, sharing, usage
from contracts.models import Grant
from kernel.errors import NotFound
from ledger import services as ledger
from ledger.models import Entry, Pending
from tests.contracts import world as w

pytestmark = pytest.mark.django_db

BUDGET = 6
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")
_n = count(1)


def data_statements(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries
            if not q["sql"].lstrip().upper().startswith(CONTROL)]


def file_objection(world: w.World) -> Callable[[], Any]:
    return lambda: objections.file_objection(
        by=world.merchant_user, resource=world.conditional, ground="accuracy",
        description=f"第 {next(_n)} 行的登记日期有误")


def request_sharing(world: w.World) -> Callable[[], Any]:
    return lambda: sharing.request_sharing(
        by=world.merchant_user, resource=world.conditional, purpose="风控", scenario="授信审查",
        legal_basis="《某条例》第十条", period_from=w.today(),
        period_until=w.today() + timedelta(days=30))


def request_some_items(world: w.World) -> Callable[[], Any]:
    return lambda: sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, purpose="核验", scenario="开户",
        legal_basis="《某条例》第十条", period_from=w.today(),
        period_until=w.today() + timedelta(days=30), items=["licence_no", "issued_on"])


def accept_objection(world: w.World) -> Callable[[], Any]:
    def act() -> Any:
        filed = objections.file_objection(by=world.merchant_user, resource=world.conditional,
                                          ground="accuracy", description="有误")
        return lambda: objections.accept_objection(by=world.provider_user, objection=filed)
    return act


def withdraw_request(world: w.World) -> Callable[[], Any]:
    def act() -> Any:
        asked = request_sharing(world)()
        return lambda: sharing.withdraw_request(by=world.merchant_user, request=asked,
                                                reason="不再需要")
    return act


def submit_usage(world: w.World) -> Callable[[], Any]:
    grant = Grant.objects.get(grantee=world.operator, resource=world.unconditional)

    def act() -> Any:
        records = [ledger.sign_statement(
            actor=world.operator.code, kind="usage.query",
            subject=f"contracts/grant/{grant.pk}", payload={"calls": n, "rows": 10 * n})
            for n in range(16)]
        return usage.submit_usage(by=world.operator_user, submissions=records)
    return act


DIRECT = {"file an objection": file_objection, "request sharing": request_sharing,
          "request sharing of some items": request_some_items,
          "queue 16 signed usage records": submit_usage}
# actions on an object made beforehand (outside the count)
ON_AN_OBJECT = {"accept an objection": accept_objection,
                "withdraw a sharing request": withdraw_request}


def _written() -> tuple[int, int]:
    return Entry.objects.count(), Pending.objects.count()


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_a_write_service_takes_at_most_six_statements(world: w.World, name: str) -> None:
    action = DIRECT[name](world)
    action()  # warm: memberships, keys, calendar
    before = _written()
    with CaptureQueriesContext(connection) as context:
        action()
    statements = data_statements(context)
    assert _written() != before, "the counted action wrote no entry and queued nothing"
    assert len(statements) <= BUDGET, "\n".join(s[:160] for s in statements)


@pytest.mark.parametrize("name", sorted(ON_AN_OBJECT))
def test_a_transition_takes_at_most_six_statements(world: w.World, name: str) -> None:
    prepare = ON_AN_OBJECT[name](world)
    prepare()()  # warm
    step = prepare()
    before = _written()
    with CaptureQueriesContext(connection) as context:
        step()
    statements = data_statements(context)
    assert _written() != before, "the counted step wrote no entry"
    assert len(statements) <= BUDGET, "\n".join(s[:160] for s in statements)


def test_outside_a_scope_memberships_are_read_afresh(world: w.World) -> None:
    """The cache lives as long as one request or one service call: a membership ended
    between two calls is seen by the second (the conditionally open resource is no longer
    visible to the former member)."""
    from operators import authz
    from operators.models import Membership

    assert authz.is_member(world.merchant_user, world.merchant)
    Membership.objects.filter(user=world.merchant_user, participant=world.merchant).delete()
    assert not authz.is_member(world.merchant_user, world.merchant)
    with pytest.raises(NotFound, match="no resource"):
        file_objection(world)()

"""A transition that fails after its entry was appended leaves no entry and no change:
the state change, the grants, the permissions and the entry commit together or not at
all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from guardian.models import GroupObjectPermission

from contracts import agreements, grants, objections, sharing, tasks
from contracts.common import now
from contracts.models import Delivery, Grant, Objection, OperationAgreement, SharingRequest
from ledger import services as ledger_services
from ledger.models import Entry, Payload
from tests.contracts import world as w

pytestmark = pytest.mark.django_db


class Boom(RuntimeError):
    pass


@pytest.fixture
def fail_after_append(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """From now on, every append succeeds and then the caller fails."""
    real = ledger_services.record

    def record_then_fail(**kwargs: Any) -> Any:
        real(**kwargs)
        raise Boom("failure after the entry was appended")

    def arm() -> None:
        monkeypatch.setattr(ledger_services, "record", record_then_fail)

    return arm


def state() -> tuple[Any, ...]:
    return (
        Entry.objects.count(), Payload.objects.count(),
        tuple(SharingRequest.objects.order_by("pk").values_list("pk", "state", "escalated_at")),
        tuple(OperationAgreement.objects.order_by("pk").values_list(
            "pk", "state", "authority_signed_seq", "operator_signed_seq")),
        tuple(Grant.objects.order_by("pk").values_list("pk", "state")),
        Delivery.objects.count(),
        tuple(Objection.objects.order_by("pk").values_list("pk", "state", "escalated_at")),
        tuple(GroupObjectPermission.objects.order_by("pk").values_list("pk")),
    )


def assert_rolled_back(call: Callable[[], Any]) -> None:
    before = state()
    with pytest.raises(Boom):
        call()
    assert state() == before


def test_approval_with_its_grant(world: w.World, fail_after_append) -> None:  # type: ignore[no-untyped-def]
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, purpose="p", scenario="s",
        legal_basis="b", period_from=w.today(), period_until=w.today() + timedelta(days=5))
    fail_after_append()
    assert_rolled_back(lambda: sharing.approve_request(by=world.provider_user,
                                                       request=request))
    assert not w.perm(world.operator_user, world.conditional)


def test_an_unconditional_request_with_both_entries(world: w.World, fail_after_append) -> None:  # type: ignore[no-untyped-def]
    department, user = w.department(world)
    fail_after_append()
    assert_rolled_back(lambda: sharing.request_sharing(
        by=user, resource=world.unconditional, purpose="p", scenario="s", legal_basis="b",
        period_from=w.today(), period_until=w.today() + timedelta(days=5)))


def test_the_signature_that_makes_an_agreement_effective(world: w.World,
                                                         fail_after_append) -> None:  # type: ignore[no-untyped-def]
    made = agreements.create_agreement(
        by=world.authority_user, operator=world.operator, resources=[world.conditional],
        scenarios="s", security_obligations="o", desensitisation_rules="r",
        term_start=w.today(), term_end=w.today() + timedelta(days=5))
    agreements.sign_agreement(by=world.authority_user, agreement=made)
    fail_after_append()
    assert_rolled_back(lambda: agreements.sign_agreement(by=world.operator_user,
                                                         agreement=made))


def test_a_delivery_and_a_revocation(world: w.World, fail_after_append) -> None:  # type: ignore[no-untyped-def]
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, purpose="p", scenario="s",
        legal_basis="b", period_from=w.today(), period_until=w.today() + timedelta(days=5))
    sharing.approve_request(by=world.provider_user, request=request)
    grant = Grant.objects.get(sharing_request=request)
    fail_after_append()
    assert_rolled_back(lambda: grants.record_delivery(
        by=world.provider_user, grant=grant, rows=1, desensitisation={"licence_no": "none"},
        data=b"x"))
    assert_rolled_back(lambda: grants.revoke_grant(by=world.provider_user, grant=grant,
                                                   reason="r"))
    assert w.perm(world.operator_user, world.conditional)


def test_an_escalation_by_the_task(world: w.World, fail_after_append, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(now() - timedelta(days=30))
    objections.file_objection(by=world.subject_user, resource=world.unconditional,
                              ground="accuracy", description="d")
    clock.set(now())
    fail_after_append()
    assert_rolled_back(tasks.escalate_overdue)

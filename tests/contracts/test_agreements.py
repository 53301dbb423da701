"""Authorised-operation agreements: two signatures, grants over the term, suspension,
termination and expiry taking the permissions with them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import agreements, selectors, tasks
from contracts.calendar import end_of_day, start_of_day
from contracts.common import now
from contracts.models import Grant, OperationAgreement
from kernel.errors import InvalidInput, NotPermitted
from ledger import services as ledger
from ledger.models import Entry
from tests.contracts import world as w

pytestmark = pytest.mark.django_db


def draft(world: w.World, **extra):  # type: ignore[no-untyped-def]
    fields = {"operator": world.operator,
              "resources": [world.conditional, world.not_shareable],
              "items": list(world.conditional.items.filter(name="licence_no")),
              "scenarios": "普惠金融 信用评估", "security_obligations": "数据不出域",
              "desensitisation_rules": "姓名掩码", "term_start": w.today(),
              "term_end": w.today() + timedelta(days=365)}
    fields.update(extra)
    return agreements.create_agreement(by=world.authority_user, **fields)


def effective(world: w.World, **extra) -> OperationAgreement:  # type: ignore[no-untyped-def]
    made = draft(world, **extra)
    agreements.sign_agreement(by=world.authority_user, agreement=made)
    return agreements.sign_agreement(by=world.operator_user, agreement=made)


def test_both_sign_the_same_terms_and_grants_follow(world: w.World) -> None:
    seq = w.last_seq()
    made = draft(world)
    assert not Grant.objects.filter(agreement=made).exists()
    agreements.sign_agreement(by=world.operator_user, agreement=made)
    made.refresh_from_db()
    assert made.state == OperationAgreement.State.DRAFT
    assert not w.perm(world.operator_user, world.conditional)
    agreements.sign_agreement(by=world.authority_user, agreement=made)
    made.refresh_from_db()
    assert made.state == OperationAgreement.State.EFFECTIVE
    created, by_operator, by_authority = w.entries_after(seq)
    assert created.kind == "contracts.agreement.created"
    assert [(e.kind, e.actor, w.signer_of(e)) for e in (by_operator, by_authority)] == [
        ("contracts.agreement.signed", world.operator.code, world.operator.code),
        ("contracts.agreement.signed", world.authority.code, world.authority.code),
    ]
    digest = agreements.terms_sm3(made)
    assert w.payload_of(created)["terms_sm3"] == digest
    assert w.payload_of(by_operator)["terms_sm3"] == digest
    assert w.payload_of(by_authority)["terms_sm3"] == digest
    assert (made.operator_signed_seq, made.authority_signed_seq) == (by_operator.seq,
                                                                     by_authority.seq)
    granted = {g.resource.code: g for g in Grant.objects.filter(agreement=made)}
    assert set(granted) == {world.conditional.code, world.not_shareable.code}
    assert [i.name for i in granted[world.conditional.code].items.all()] == ["licence_no"]
    assert not granted[world.not_shareable.code].items.exists()
    for grant in granted.values():
        assert grant.valid_until == end_of_day(made.term_end)
        assert grant.valid_from >= start_of_day(made.term_start)
    assert sorted(g["grant"] for g in w.payload_of(by_authority)["grants"]) == sorted(
        g.pk for g in granted.values())
    assert w.perm(world.operator_user, world.conditional)
    assert selectors.holds_grant(world.operator, world.not_shareable)


def test_suspension_resumption_and_termination_move_the_permissions(world: w.World) -> None:
    made = effective(world)
    agreements.suspend_agreement(by=world.authority_user, agreement=made, reason="安全整改")
    assert set(Grant.objects.filter(agreement=made).values_list("state", flat=True)) == {
        Grant.State.SUSPENDED}
    assert not w.perm(world.operator_user, world.conditional)
    assert not selectors.holds_grant(world.operator, world.conditional)
    entry = Entry.objects.filter(kind="contracts.agreement.suspended").latest("seq")
    assert len(w.payload_of(entry)["grants"]) == 2
    agreements.resume_agreement(by=world.authority_user, agreement=made)
    assert w.perm(world.operator_user, world.conditional)
    assert selectors.holds_grant(world.operator, world.conditional)
    agreements.terminate_agreement(by=world.authority_user, agreement=made, reason="违约")
    assert set(Grant.objects.filter(agreement=made).values_list("state", flat=True)) == {
        Grant.State.REVOKED}
    assert not w.perm(world.operator_user, world.conditional)


def test_expiry_by_the_task_after_the_last_day(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(now() - timedelta(days=10))
    made = effective(world, term_end=w.today() + timedelta(days=2))
    clock.reset()
    assert w.perm(world.operator_user, world.conditional)
    seq = w.last_seq()
    assert tasks.expire_grants.delay().get() == {"agreements": 1, "grants": 0}
    (expired,) = w.entries_after(seq)
    assert (expired.kind, expired.actor, w.signer_of(expired)) == (
        "contracts.agreement.expired", ledger.origin(), ledger.origin())
    made.refresh_from_db()
    assert made.state == OperationAgreement.State.EXPIRED
    assert set(Grant.objects.filter(agreement=made).values_list("state", flat=True)) == {
        Grant.State.EXPIRED}
    assert not w.perm(world.operator_user, world.conditional)
    assert tasks.expire_grants.delay().get() == {"agreements": 0, "grants": 0}
    assert w.last_seq() == expired.seq


def test_an_agreement_is_not_expired_before_its_last_day_ends(world: w.World) -> None:
    made = effective(world, term_end=w.today())
    assert not agreements.expire_agreement(agreement=made)
    assert agreements.expire_agreement(agreement=made,
                                       at=end_of_day(w.today()) + timedelta(microseconds=1))


@pytest.mark.parametrize(("extra", "field"), [
    ({"scenarios": " "}, "scenarios"),
    ({"resources": []}, "resources"),
    ({"term_end": w.date(2020, 1, 1), "term_start": w.date(2019, 1, 1)}, "term_end"),
    ({"term_start": w.date(2031, 1, 2), "term_end": w.date(2031, 1, 1)}, "term_end"),
])
def test_bad_drafts_name_the_field(world: w.World, extra, field) -> None:  # type: ignore[no-untyped-def]
    seq = w.last_seq()
    with pytest.raises(InvalidInput) as refused:
        draft(world, **extra)
    assert refused.value.field == field
    assert w.last_seq() == seq


def test_scope_and_parties_are_checked(world: w.World) -> None:
    with pytest.raises(InvalidInput) as not_operator:
        draft(world, operator=world.merchant)
    assert not_operator.value.field == "operator"
    foreign = list(world.unconditional.items.all()[:1])
    with pytest.raises(InvalidInput) as out_of_scope:
        draft(world, items=foreign)
    assert out_of_scope.value.field == "items[0]"
    for user in (world.provider_user, world.authority_staff, world.operator_user):
        with pytest.raises(NotPermitted):
            agreements.create_agreement(
                by=user, operator=world.operator, resources=[world.conditional],
                scenarios="s", security_obligations="o", desensitisation_rules="r",
                term_start=w.today(), term_end=w.today())

"""Objections (异议): who files, the disputed mark, deadlines, escalation, appeal, correction."""

from __future__ import annotations

import hmac
from datetime import date, datetime, time, timedelta

import pytest
from django.conf import settings

from catalog.models import DataResource
from contracts import objections, selectors, sharing, tasks
from contracts.calendar import SHANGHAI
from contracts.common import now
from contracts.models import Grant, Objection
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger import services as ledger
from tests.contracts import world as w

pytestmark = pytest.mark.django_db


def file(world: w.World, by=None, resource=None, **extra) -> Objection:  # type: ignore[no-untyped-def]
    return objections.file_objection(
        by=by or world.subject_user, resource=resource or world.unconditional,
        ground=extra.pop("ground", "accuracy"), description="登记的姓名与身份证不一致", **extra)


def local(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.max, tzinfo=SHANGHAI)


def test_a_data_subject_files_through_the_platform_key(world: w.World) -> None:
    seq = w.last_seq()
    filed = file(world)
    (entry,) = w.entries_after(seq)
    assert (entry.kind, entry.actor, w.signer_of(entry)) == (
        "contracts.objection.filed", ledger.origin(), ledger.origin())
    assert entry.payload_row.restricted
    payload = w.payload_of(entry)
    username = world.subject_user.get_username()
    # a keyed pseudonym: HMAC-SM3 of the username under a key derived from the master key
    key = hmac.new(bytes.fromhex(settings.SHULIAN_MASTER_KEY),
                   b"shulian/contracts/pseudonym/v1", "sm3").digest()
    assert payload["filer_pseudonym"] == hmac.new(key, username.encode(), "sm3").hexdigest()
    # a reader holding the payload cannot confirm a guess of the username
    assert sm3_hex(username.encode()) not in entry.payload_row.data
    assert username not in entry.payload_row.data
    assert payload["filer"] is None
    assert filed.filer_participant is None


def test_a_participant_files_with_its_own_key(world: w.World) -> None:
    seq = w.last_seq()
    file(world, by=world.merchant_user, resource=world.conditional)
    (entry,) = w.entries_after(seq)
    assert (entry.actor, w.signer_of(entry)) == (world.merchant.code, world.merchant.code)
    assert not entry.payload_row.restricted
    assert w.payload_of(entry)["filer"] == world.merchant.code


def test_filing_checks_visibility_ground_and_grant(world: w.World) -> None:
    seq = w.last_seq()
    # A data subject sees conditionally open metadata (to object to what it holds on them).
    assert file(world, resource=world.conditional).resource == world.conditional
    seq = w.last_seq()

    with pytest.raises(InvalidInput) as ground:
        file(world, ground="taste")
    assert ground.value.field == "ground"
    with pytest.raises(InvalidInput) as grant:
        file(world, ground="legitimacy")
    assert grant.value.field == "grant"
    with pytest.raises(InvalidInput):
        objections.file_objection(by=world.subject_user, resource=world.unconditional,
                                  ground="accuracy", description="  ")
    assert w.last_seq() == seq


def test_an_objection_to_an_authorisation_names_the_grant(world: w.World) -> None:
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, purpose="p", scenario="s",
        legal_basis="b", period_from=w.today(), period_until=w.today() + timedelta(days=9))
    sharing.approve_request(by=world.provider_user, request=request)
    grant = Grant.objects.get(sharing_request=request)
    filed = file(world, by=world.merchant_user, resource=world.conditional,
                 ground="legitimacy", grant=grant)
    assert filed.grant == grant
    with pytest.raises(InvalidInput):
        file(world, by=world.merchant_user, resource=world.unconditional,
             ground="legitimacy", grant=grant)


def test_the_disputed_mark_appears_and_clears(world: w.World) -> None:
    resource = world.unconditional
    assert not selectors.is_disputed(resource)
    filed = file(world)
    assert selectors.is_disputed(resource)
    assert list(selectors.open_objections(resource)) == [filed]
    assert resource in selectors.disputed_resources()
    objections.accept_objection(by=world.provider_user, objection=filed)
    objections.start_verification(by=world.provider_user, objection=filed)
    assert selectors.is_disputed(resource)
    objections.uphold_objection(by=world.provider_user, objection=filed, reason="核实无误")
    assert not selectors.is_disputed(resource)
    objections.appeal_objection(by=world.subject_user, objection=filed, reason="仍有误")
    assert selectors.is_disputed(resource)
    objections.close_objection(by=world.authority_user, objection=filed, outcome="维持原处理")
    assert not selectors.is_disputed(resource)
    rejected = file(world)
    objections.reject_objection(by=world.provider_user, objection=rejected, reason="重复")
    assert not selectors.is_disputed(resource)


def test_deadlines_count_working_days(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    # Wednesday 30 Sep 2026: Oct 1-7 are off, Oct 8 and 9 are the two working days.
    clock.set(datetime(2026, 9, 30, 9, tzinfo=SHANGHAI))
    filed = file(world)
    assert filed.accept_due == local("2026-10-09")
    # Accepted on Friday 9 Oct: Sat 10 is a make-up working day, so 15 end on Thu 29 Oct.
    clock.set(datetime(2026, 10, 9, 17, tzinfo=SHANGHAI))
    accepted = objections.accept_objection(by=world.provider_user, objection=filed)
    assert accepted.resolve_due == local("2026-10-29")
    objections.start_verification(by=world.provider_user, objection=filed)
    clock.set(datetime(2026, 10, 28, 11, tzinfo=SHANGHAI))
    resolved = objections.dismiss_objection(by=world.provider_user, objection=filed,
                                            reason="无依据")
    assert resolved.appeal_until == local("2026-11-18")


def test_missed_deadlines_escalate_once_each(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    real = now()
    clock.set(real - timedelta(days=60))
    filed = file(world)
    clock.set(real - timedelta(days=50))
    assert filed in selectors.overdue_objections()
    with pytest.raises(NotPermitted):
        objections.accept_objection(by=world.authority_user, objection=filed)
    seq = w.last_seq()
    assert tasks.escalate_overdue.delay().get()["objections"] == 1
    (missed_accept,) = w.entries_after(seq)
    assert (missed_accept.kind, missed_accept.actor, w.signer_of(missed_accept)) == (
        "contracts.objection.escalated", ledger.origin(), ledger.origin())
    assert w.payload_of(missed_accept)["missed"] == "accept"
    assert tasks.escalate_overdue.delay().get()["objections"] == 0
    # Once escalated, the data authority may take the provider's steps.
    clock.set(real - timedelta(days=40))
    objections.accept_objection(by=world.authority_user, objection=filed)
    clock.reset()
    seq = w.last_seq()
    assert tasks.escalate_overdue.delay().get()["objections"] == 1
    (missed_resolve,) = w.entries_after(seq)
    assert w.payload_of(missed_resolve)["missed"] == "resolve"
    assert tasks.escalate_overdue.delay().get()["objections"] == 0
    assert w.last_seq() == missed_resolve.seq
    assert filed in selectors.overdue_objections()


def test_appeal_once_within_the_period(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    filed = file(world)
    objections.accept_objection(by=world.provider_user, objection=filed)
    objections.start_verification(by=world.provider_user, objection=filed)
    clock.set(now() - timedelta(days=40))
    objections.uphold_objection(by=world.provider_user, objection=filed, reason="无误")
    clock.reset()
    seq = w.last_seq()
    with pytest.raises(IllegalTransition, match="appeal period ended"):
        objections.appeal_objection(by=world.subject_user, objection=filed, reason="不服")
    assert w.last_seq() == seq
    fresh = file(world)
    objections.accept_objection(by=world.provider_user, objection=fresh)
    objections.start_verification(by=world.provider_user, objection=fresh)
    objections.dismiss_objection(by=world.provider_user, objection=fresh, reason="无依据")
    with pytest.raises(NotPermitted):
        objections.appeal_objection(by=world.merchant_user, objection=fresh, reason="x")
    seq = w.last_seq()
    objections.appeal_objection(by=world.subject_user, objection=fresh, reason="不服")
    (appeal,) = w.entries_after(seq)
    assert (appeal.actor, appeal.payload_row.restricted) == (ledger.origin(), True)
    closed = objections.close_objection(by=world.authority_user, objection=fresh,
                                        outcome="复核后维持")
    assert (closed.state, closed.outcome) == (Objection.State.CLOSED, "复核后维持")
    with pytest.raises(IllegalTransition):
        objections.appeal_objection(by=world.subject_user, objection=fresh, reason="再次")


def test_correction_with_a_new_resource_version(world: w.World) -> None:
    resource = world.unconditional
    before = DataResource.objects.get(pk=resource.pk).version
    filed = file(world)
    objections.accept_objection(by=world.provider_user, objection=filed)
    objections.start_verification(by=world.provider_user, objection=filed)
    seq = w.last_seq()
    corrected = objections.correct_objection(
        by=world.provider_user, objection=filed, correction="更正第12行姓名",
        revision={"description": "2026-11 更正"})
    published, resolved = w.entries_after(seq)
    assert published.kind == "catalog.resource.published"
    assert (resolved.kind, resolved.actor) == ("contracts.objection.corrected",
                                               world.provider.code)
    assert corrected.corrected_version == before + 1
    assert w.payload_of(resolved)["corrected_version"] == before + 1
    assert DataResource.objects.get(pk=resource.pk).version == before + 1


def test_the_authority_cannot_revise_a_providers_resource(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(now() - timedelta(days=30))
    filed = file(world)
    clock.reset()
    objections.escalate_objection(objection=filed)
    objections.accept_objection(by=world.authority_user, objection=filed)
    objections.start_verification(by=world.authority_user, objection=filed)
    seq = w.last_seq()
    with pytest.raises(NotPermitted):
        objections.correct_objection(by=world.authority_user, objection=filed,
                                     correction="改", revision={"description": "x"})
    assert w.last_seq() == seq
    objections.correct_objection(by=world.authority_user, objection=filed,
                                 correction="更正记录：第12行")

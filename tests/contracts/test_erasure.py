"""Erasure requests (个人信息删除请求): who asks, who decides, deadlines in working days,
refusal, one appeal, escalation, and approval erasing the payloads in the same transaction
as the request's own step."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from contracts import erasure, objections, personal, retention, sharing, tasks
from contracts.calendar import SHANGHAI
from contracts.common import now
from contracts.models import ErasureRequest, Grant, Objection, PersonalPayload, SharingRequest
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger import selectors as ledger_reads
from ledger import services as ledger
from ledger.models import Entry, Payload
from tests.contracts import world as w

pytestmark = pytest.mark.django_db
CONTACT = {"name": "林女士", "phone": "13800138000", "email": "lin@example.com"}
S = ErasureRequest.State


@pytest.fixture(autouse=True)
def in_english() -> Any:
    """The services' messages are in the active language; these tests read English."""
    with translation.override("en"):
        yield


def objection(world: w.World, resource: Any = None, by: Any = None,
              contact: dict[str, str] | None = CONTACT) -> Objection:
    return objections.file_objection(
        by=by or world.subject_user, resource=resource or world.unconditional,
        ground="accuracy", description="本人住址登记有误：应为鼓楼区", contact=contact)


def entry_of(filed: Objection, kind: str) -> Entry:
    return Entry.objects.get(kind=kind, subject=f"contracts/objection/{filed.pk}")


def ask(world: w.World, seq: int | None = None, by: Any = None, ground: str = "consent",
        **extra: Any) -> ErasureRequest:
    (made,) = erasure.request_erasure(by=by or world.subject_user, ground=ground, seq=seq,
                                      **extra)
    return made


def local(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.max, tzinfo=SHANGHAI)


def erased(seq: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data, salt FROM ledger_payload WHERE entry_id = %s", [seq])
        return cursor.fetchone() == ("", "")


# --- what is personal information -------------------------------------------------------------


def test_contact_details_go_into_a_restricted_payload_of_their_own(world: w.World) -> None:
    seq = w.last_seq()
    filed = objection(world)
    filing, contact = w.entries_after(seq)
    assert [filing.kind, contact.kind] == ["contracts.objection.filed",
                                           "contracts.objection.contact"]
    assert w.payload_of(contact) == {"objection": filed.pk, **CONTACT}
    assert contact.payload_row.restricted and contact.actor == ledger.origin()
    assert "13800138000" not in filing.payload_row.data
    assert "13800138000" not in str(Objection.objects.filter(pk=filed.pk).values().first())
    mine = PersonalPayload.objects.filter(person=world.subject_user)
    assert {(p.entry_id, p.kind) for p in mine} >= {
        (filing.seq, filing.kind), (contact.seq, contact.kind)}


@pytest.mark.parametrize(("contact", "field"), [
    ({"name": "林", "phone": "call me"}, "contact.phone"),
    ({"email": "not-an-address"}, "contact.email"),
    ({"name": "林"}, "contact.phone"),
    ({"name": "林", "phone": "13800138000", "fax": "1"}, "contact.fax"),
    ({"name": "林" * 101, "phone": "13800138000"}, "contact.name"),
])
def test_bad_contact_details_name_the_field_and_write_nothing(world: w.World,
                                                              contact: dict[str, str],
                                                              field: str) -> None:
    seq, count = w.last_seq(), Objection.objects.count()
    with pytest.raises(InvalidInput) as error:
        objection(world, contact=contact)
    assert error.value.field == field
    assert (w.last_seq(), Objection.objects.count()) == (seq, count)


def test_the_personal_kinds_and_their_controllers(world: w.World, settings: Any) -> None:
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, purpose="为张三办理贷款核验",
        scenario="普惠金融", legal_basis="《条例》", period_from=w.today(),
        period_until=w.today() + timedelta(days=5))
    requested = Entry.objects.get(kind="contracts.sharing.requested",
                                  subject=f"contracts/sharing/{request.pk}")
    assert request.requested_by == world.operator_user
    assert requested.seq in [held.entry_id for held in personal.held_by(world.operator_user)]
    sharing.approve_request(by=world.provider_user, request=request)
    grant = Grant.objects.get(sharing_request=request)
    # The grant carries the scenario, not a copy of the requester's words.
    assert grant.purpose == "普惠金融"
    assert "张三" not in Entry.objects.get(kind="contracts.sharing.approved",
                                          subject=requested.subject).payload_row.data
    filed = objection(world)
    assert personal.controller_of(f"contracts/objection/{filed.pk}") == world.provider
    assert personal.controller_of(requested.subject) == world.provider
    assert personal.controller_of("contracts/erasure/1") == world.authority
    assert personal.controller_of("operators/participant/X") == world.authority
    assert personal.retention_days("contracts.objection.contact") == 365
    settings.SHULIAN_RETENTION = {"contracts.objection.contact": 30, "contracts.erasure."
                                  "requested": None}
    assert personal.retention_days("contracts.objection.contact") == 30
    assert personal.retention_days("contracts.erasure.requested") is None
    settings.SHULIAN_RETENTION = {"contracts.delivery.recorded": 1}
    with pytest.raises(Exception, match="not a personal payload kind"):
        personal.retention_days("contracts.objection.contact")


# --- filing ----------------------------------------------------------------------------------


def test_a_data_subject_asks_for_one_payload_and_the_provider_decides(world: w.World) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact")
    seq = w.last_seq()
    made = ask(world, contact.seq, reason="已不需要联系我")
    (entry,) = w.entries_after(seq)
    assert (entry.kind, entry.actor, entry.payload_row.restricted) == (
        "contracts.erasure.requested", ledger.origin(), True)
    payload = w.payload_of(entry)
    assert payload["targets"] == [contact.seq]
    assert payload["controller"] == world.provider.code
    assert payload["basis"].startswith("《个人信息保护法》第四十七条第一款第（三）项")
    assert (made.controller, made.person, made.scope, made.state) == (
        world.provider, world.subject_user, "payload", S.FILED)
    assert PersonalPayload.objects.get(entry=entry).person == world.subject_user


def test_all_my_payloads_are_split_by_controller(world: w.World) -> None:
    other, other_user = w.department(world)
    resource = w.resource(other_user, world.category, "unconditional", other)
    first, second = objection(world), objection(world, resource=resource, contact=None)
    made = erasure.request_erasure(by=world.subject_user, ground="purpose")
    by_controller = {r.controller: sorted(t.entry_id for t in r.targets.all()) for r in made}
    requests = set(Entry.objects.filter(kind="contracts.erasure.requested").values_list(
        "seq", flat=True))
    mine = sorted(p.entry_id for p in personal.held_by(world.subject_user))
    assert sorted(s for seqs in by_controller.values() for s in seqs) == [
        s for s in mine if s not in requests]
    assert entry_of(first, "contracts.objection.filed").seq in by_controller[world.provider]
    assert entry_of(second, "contracts.objection.filed").seq in by_controller[other]
    assert {r.scope for r in made} == {"all"}
    # Nothing left that is not already in an open request.
    with pytest.raises(InvalidInput) as error:
        erasure.request_erasure(by=world.subject_user, ground="purpose")
    assert error.value.field == "seq"


def test_who_may_ask_and_for_what(world: w.World) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact").seq
    seq = w.last_seq()
    # someone else's personal information: as if it held none
    with pytest.raises(InvalidInput, match="holds none of your personal information"):
        ask(world, contact, by=world.merchant_user)
    with pytest.raises(NotPermitted):
        ask(world, contact, by=world.merchant_user, person=world.subject_user)
    # the authority's grounds are the data authority's (its reviewers)
    for stranger in (world.subject_user, world.provider_user, world.authority_staff):
        with pytest.raises(NotPermitted):
            ask(world, contact, by=stranger, ground="court_order", reference="(2026)闽01民初1号")
    with pytest.raises(InvalidInput) as error:
        ask(world, contact, by=world.authority_user, ground="court_order")
    assert error.value.field == "reference"
    with pytest.raises(InvalidInput) as error:
        ask(world, 0, by=world.authority_user, ground="statutory", reference="《某法》")
    assert "ledger's own records" in error.value.reason
    with pytest.raises(InvalidInput) as error:
        ask(world, None, by=world.authority_user, ground="court_order", reference="x")
    assert error.value.field == "person"
    with pytest.raises(InvalidInput) as error:
        ask(world, contact, ground="because")
    assert error.value.field == "ground"
    with pytest.raises(InvalidInput):
        ask(world, 10**12)
    assert w.last_seq() == seq
    # the data authority names any payload on a court order, recorded under its own key
    made = ask(world, contact, by=world.authority_user, ground="court_order",
               reference="(2026)闽01民初1号", person=world.subject_user)
    (entry,) = w.entries_after(seq)
    assert (entry.actor, made.filer_participant) == (world.authority.code, world.authority)
    assert made.basis == "人民法院裁判 (court order); (2026)闽01民初1号"
    with pytest.raises(InvalidInput, match="still open"):
        ask(world, contact)


# --- approval --------------------------------------------------------------------------------


def test_approval_erases_in_the_same_transaction_and_leaves_the_facts(world: w.World) -> None:
    filed = objection(world)
    filing = entry_of(filed, "contracts.objection.filed")
    contact = entry_of(filed, "contracts.objection.contact")
    made = ask(world, contact.seq)
    with pytest.raises(NotPermitted):
        erasure.approve_erasure(by=world.merchant_user, request=made)
    seq = w.last_seq()
    done = erasure.approve_erasure(by=world.provider_user, request=made)
    redaction, approval = w.entries_after(seq)
    assert (redaction.kind, redaction.subject, redaction.actor) == (
        "ledger.payload.redacted", f"ledger/entry/{contact.seq}", ledger.origin())
    assert w.payload_of(redaction) == {"seq": contact.seq, "basis": made.basis,
                                       "request": f"contracts/erasure/{made.pk}"}
    assert (approval.kind, approval.actor) == ("contracts.erasure.approved",
                                               world.provider.code)
    assert w.payload_of(approval)["erased"] == [{"seq": contact.seq, "by": redaction.seq}]
    assert erased(contact.seq) and not erased(filing.seq)
    assert (done.state, done.decided_by) == (S.ERASED, world.provider)
    assert done.targets.get().redaction_seq == redaction.seq
    stored = ledger_reads.payload(contact.seq)
    assert stored is not None and (stored.erased_by, stored.basis) == (redaction.seq,
                                                                       made.basis)
    # the objection's facts stay on record
    assert w.payload_of(filing)["description"] == "本人住址登记有误：应为鼓楼区"
    assert Objection.objects.get(pk=filed.pk).description == "本人住址登记有误：应为鼓楼区"


def test_erasing_a_description_blanks_its_copy_in_the_objection(world: w.World) -> None:
    filed = objection(world)
    filing = entry_of(filed, "contracts.objection.filed")
    made = ask(world, filing.seq)
    erasure.approve_erasure(by=world.provider_user, request=made)
    assert erased(filing.seq)
    assert Objection.objects.get(pk=filed.pk).description == ""


def test_a_failure_after_the_erasures_rolls_everything_back(world: w.World) -> None:
    """A database fault on the approval's own entry (a trigger, installed for this test)
    takes the redaction entries and the erased payloads back with it."""
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact")
    made = ask(world, contact.seq)
    fault = ("CREATE TRIGGER test_refuse_approval BEFORE INSERT ON ledger_entry "
             "WHEN NEW.kind = 'contracts.erasure.approved' BEGIN "
             "SELECT RAISE(ABORT, 'injected fault'); END")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CREATE FUNCTION test_refuse_approval() RETURNS trigger "
                           "LANGUAGE plpgsql AS $$ BEGIN IF NEW.kind = "
                           "'contracts.erasure.approved' THEN RAISE EXCEPTION "
                           "'injected fault'; END IF; RETURN NEW; END $$")
        fault = ("CREATE TRIGGER test_refuse_approval BEFORE INSERT ON ledger_entry FOR EACH "
                 "ROW EXECUTE FUNCTION test_refuse_approval()")
    with connection.cursor() as cursor:
        cursor.execute(fault)
    seq = w.last_seq()
    with pytest.raises(DatabaseError, match="injected fault"), transaction.atomic():
        erasure.approve_erasure(by=world.provider_user, request=made)
    assert w.last_seq() == seq
    assert not erased(contact.seq)
    assert ErasureRequest.objects.get(pk=made.pk).state == S.FILED
    assert not Entry.objects.filter(kind="ledger.payload.redacted",
                                    subject=f"ledger/entry/{contact.seq}").exists()


def test_a_payload_erased_meanwhile_is_noted_not_erased_twice(world: w.World) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact")
    made = ask(world, contact.seq)
    earlier = personal.erase(entry=contact, basis="GB/T 35273-2020 §6.1")
    seq = w.last_seq()
    erasure.approve_erasure(by=world.provider_user, request=made)
    (approval,) = w.entries_after(seq)
    assert w.payload_of(approval)["erased"] == [{"seq": contact.seq, "by": earlier.seq}]


# --- deadlines, refusal, appeal, escalation -------------------------------------------------


def test_the_deadline_is_fifteen_working_days_or_as_configured(world: w.World, clock: Any,
                                                              settings: Any) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact").seq
    # Wednesday 30 Sep 2026: Oct 1-7 are off, then Thu 8, Fri 9, Sat 10 (调休), 12-16,
    # 19-23, 26, 27: the fifteenth working day is Tuesday 27 October.
    clock.set(datetime(2026, 9, 30, 9, tzinfo=SHANGHAI))
    made = ask(world, contact)
    assert made.due == local("2026-10-27")
    erasure.withdraw_erasure(by=world.subject_user, request=made)
    settings.SHULIAN_ERASURE_DAYS = 2
    assert ask(world, contact).due == local("2026-10-09")


def test_refusal_then_one_appeal_within_the_period(world: w.World, clock: Any) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact").seq
    made = ask(world, contact)
    with pytest.raises(InvalidInput) as error:
        erasure.refuse_erasure(by=world.provider_user, request=made, reason=" ")
    assert error.value.field == "reason"
    refused = erasure.refuse_erasure(by=world.provider_user, request=made,
                                     reason="异议尚在处理，需保留联系方式")
    assert refused.state == S.REFUSED and refused.appeal_until is not None
    assert not erased(contact)
    with pytest.raises(NotPermitted):
        erasure.appeal_erasure(by=world.merchant_user, request=made, reason="x")
    seq = w.last_seq()
    appealed = erasure.appeal_erasure(by=world.subject_user, request=made, reason="异议已撤回")
    (entry,) = w.entries_after(seq)
    assert (entry.kind, entry.actor, entry.payload_row.restricted) == (
        "contracts.erasure.appealed", ledger.origin(), True)
    assert PersonalPayload.objects.get(entry=entry).person == world.subject_user
    assert appealed.state == S.APPEALED and appealed.due > now()
    # the provider no longer decides: the data authority re-examines
    with pytest.raises(NotPermitted):
        erasure.approve_erasure(by=world.provider_user, request=made)
    closed = erasure.uphold_refusal(by=world.authority_user, request=made, outcome="维持")
    assert closed.state == S.CLOSED
    with pytest.raises(IllegalTransition):
        erasure.appeal_erasure(by=world.subject_user, request=made, reason="再次")
    # a second request, refused long ago: its appeal period is over
    late = ask(world, contact)
    clock.set(now() - timedelta(days=40))
    erasure.refuse_erasure(by=world.provider_user, request=late, reason="需保留")
    clock.reset()
    with pytest.raises(IllegalTransition, match="appeal period ended"):
        erasure.appeal_erasure(by=world.subject_user, request=late, reason="不服")


def test_on_appeal_the_authority_may_erase(world: w.World) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact").seq
    made = ask(world, contact)
    erasure.refuse_erasure(by=world.provider_user, request=made, reason="需保留")
    erasure.appeal_erasure(by=world.subject_user, request=made, reason="不服")
    seq = w.last_seq()
    done = erasure.approve_erasure(by=world.authority_user, request=made, outcome="应予删除")
    kinds = [e.kind for e in w.entries_after(seq)]
    assert kinds == ["ledger.payload.redacted", "contracts.erasure.approved"]
    assert done.state == S.ERASED and erased(contact)


def test_missed_deadlines_escalate_once_each(world: w.World, clock: Any) -> None:
    filed = objection(world)
    contact = entry_of(filed, "contracts.objection.contact").seq
    real = now()
    clock.set(real - timedelta(days=80))
    made = ask(world, contact)
    clock.set(real - timedelta(days=50))
    with pytest.raises(NotPermitted):
        erasure.refuse_erasure(by=world.authority_user, request=made, reason="x")
    seq = w.last_seq()
    assert tasks.escalate_overdue()["erasures"] == 1
    (missed,) = w.entries_after(seq)
    assert (missed.kind, missed.actor, w.signer_of(missed)) == (
        "contracts.erasure.escalated", ledger.origin(), ledger.origin())
    assert w.payload_of(missed)["missed"] == "decision"
    assert tasks.escalate_overdue()["erasures"] == 0
    # escalated: the data authority may decide it too
    erasure.refuse_erasure(by=world.authority_user, request=made, reason="法定保存期限未满")
    erasure.appeal_erasure(by=world.subject_user, request=made, reason="不服")
    clock.reset()
    seq = w.last_seq()
    assert tasks.escalate_overdue()["erasures"] == 1
    (missed,) = w.entries_after(seq)
    assert w.payload_of(missed)["missed"] == "appeal"
    assert tasks.escalate_overdue()["erasures"] == 0


def test_the_filer_withdraws_only_while_it_awaits_a_decision(world: w.World) -> None:
    filed = objection(world)
    made = ask(world, entry_of(filed, "contracts.objection.contact").seq)
    with pytest.raises(NotPermitted):
        erasure.withdraw_erasure(by=world.provider_user, request=made)
    done = erasure.withdraw_erasure(by=world.subject_user, request=made, reason="误操作")
    assert done.state == S.WITHDRAWN
    with pytest.raises(IllegalTransition):
        erasure.approve_erasure(by=world.provider_user, request=made)


def test_nothing_is_left_of_an_erased_request_reason(world: w.World) -> None:
    """A request's own reasons are personal too: erasing them blanks the row's copy."""
    filed = objection(world)
    made = ask(world, entry_of(filed, "contracts.objection.contact").seq, reason="我的病历号X")
    erasure.withdraw_erasure(by=world.subject_user, request=made)
    requested = Entry.objects.get(kind="contracts.erasure.requested",
                                  subject=f"contracts/erasure/{made.pk}")
    again = ask(world, requested.seq)
    assert again.controller == world.authority
    erasure.approve_erasure(by=world.authority_user, request=again)
    assert erased(requested.seq)
    assert ErasureRequest.objects.get(pk=made.pk).reason == ""
    assert not Payload.objects.filter(data__contains="病历号").exists()
    assert not SharingRequest.objects.filter(purpose__contains="病历号").exists()


# --- retention ---------------------------------------------------------------------------------


def test_retention_erases_what_is_kept_too_long_once_nothing_needs_it(
        world: w.World, settings: Any) -> None:
    filed = objection(world)
    filing = entry_of(filed, "contracts.objection.filed")
    contact = entry_of(filed, "contracts.objection.contact")
    later = now() + timedelta(days=400)
    settings.SHULIAN_RETENTION = {"contracts.objection.filed": None}
    # the objection is open: its payloads are still needed, whatever their age
    assert contact not in retention.due_for_erasure(later)
    objections.reject_objection(by=world.provider_user, objection=filed, reason="重复")
    due = retention.due_for_erasure(later)
    assert contact in due and filing not in due  # the filing is kept (None)
    assert contact not in retention.due_for_erasure(now() + timedelta(days=300))
    seq = w.last_seq()
    assert retention.erase_expired(later) >= 1
    kinds = {(e.kind, e.subject, e.actor) for e in w.entries_after(seq)}
    assert ("ledger.payload.redacted", f"ledger/entry/{contact.seq}", ledger.origin()) in kinds
    redaction = Entry.objects.get(kind="ledger.payload.redacted",
                                  subject=f"ledger/entry/{contact.seq}")
    assert w.payload_of(redaction)["request"] is None
    assert w.payload_of(redaction)["basis"].startswith("GB/T 35273-2020 §6.1")
    assert erased(contact.seq) and not erased(filing.seq)
    seq = w.last_seq()
    assert retention.erase_expired(later) == 0  # idempotent
    assert w.last_seq() == seq


def test_a_retention_setting_naming_an_unknown_kind_fails_the_system_check(
        settings: Any) -> None:
    from django.core import checks

    settings.SHULIAN_RETENTION = {"contracts.objection.contact": 30}
    assert [m.id for m in checks.run_checks() if m.id.startswith("contracts.")] == []
    settings.SHULIAN_RETENTION = {"contracts.delivery.recorded": 1}
    assert [m.id for m in checks.run_checks() if m.id.startswith("contracts.")] == [
        "contracts.E001"]


def test_the_filer_never_decides_their_own_request(world: w.World) -> None:
    # a provider's member asks for their own objection's contact details to be erased
    filed = objection(world, by=world.provider_user)
    made = ask(world, entry_of(filed, "contracts.objection.contact").seq,
               by=world.provider_user)
    assert made.controller == world.provider
    with pytest.raises(NotPermitted, match="you filed this request"):
        erasure.approve_erasure(by=world.provider_user, request=made)
    assert "approve" not in erasure.ERASURE.available(world.provider_user, made)

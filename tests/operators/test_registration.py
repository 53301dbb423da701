"""Admission of companies (数商入场登记): every (state, action) pair of the registration state
machine, the entries each step writes, and refusals that write nothing."""

from __future__ import annotations

import itertools

import pytest

from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger.models import Entry
from operators import services
from operators.models import Kind, Participant, Role, Status
from operators.services import ENTRY_KIND, REGISTRATION, subject
from tests.operators import (
    authority,
    company,
    department,
    ledger_size,
    member,
    new_code,
    one_entry,
    user,
)

pytestmark = pytest.mark.django_db

ACTIONS = sorted(ENTRY_KIND)
ALLOWED = {
    (Status.APPLIED, "start_review"): Status.UNDER_REVIEW,
    (Status.UNDER_REVIEW, "admit"): Status.ADMITTED,
    (Status.UNDER_REVIEW, "reject"): Status.REJECTED,
    (Status.ADMITTED, "suspend"): Status.SUSPENDED,
    (Status.SUSPENDED, "reinstate"): Status.ADMITTED,
    (Status.SUSPENDED, "revoke"): Status.REVOKED,
}


@pytest.fixture
def data_authority():
    return authority()


def row(participant: Participant) -> dict:
    return Participant.objects.filter(pk=participant.pk).values().get()


def test_the_table_is_the_documented_machine():
    assert REGISTRATION.table() == ALLOWED
    assert REGISTRATION.states() == set(Status.values)


@pytest.mark.parametrize(("state", "action"),
                         list(itertools.product(Status.values, ACTIONS)))
def test_every_state_and_action(data_authority, state, action):
    body, reviewer = data_authority
    target = company(status=state, reviewer=reviewer)
    before, size = row(target), ledger_size()
    reason = "材料不全" if action in services.NEEDS_REASON else ""
    target_state = ALLOWED.get((state, action))
    if target_state is None:
        with pytest.raises(IllegalTransition) as info:
            services.review_registration(participant=target, action=action, by=reviewer,
                                         reason=reason or "x")
        assert f"'{state}'" in str(info.value) and f"'{action}'" in str(info.value)
        assert row(target) == before
        assert ledger_size() == size
        return
    done = services.review_registration(participant=target, action=action, by=reviewer,
                                        reason=reason)
    assert done.status == target_state == row(target)["status"]
    payload = one_entry(size, kind=ENTRY_KIND[action], actor=body.code,
                        subject=subject(target))
    assert payload["code"] == target.code
    assert payload["status"] == target_state
    assert payload["reason"] == reason


@pytest.mark.parametrize("action", sorted(services.NEEDS_REASON))
def test_reject_suspend_and_revoke_need_a_reason(data_authority, action):
    _, reviewer = data_authority
    state = {"reject": Status.UNDER_REVIEW, "suspend": Status.ADMITTED,
             "revoke": Status.SUSPENDED}[action]
    target = company(status=state, reviewer=reviewer)
    before, size = row(target), ledger_size()
    with pytest.raises(InvalidInput) as info:
        services.review_registration(participant=target, action=action, by=reviewer,
                                     reason="   ")
    assert info.value.field == "reason"
    assert row(target) == before and ledger_size() == size


def test_only_the_authoritys_reviewers_review(data_authority):
    body, reviewer = data_authority
    target = company(status=Status.APPLIED)
    staff = member(body, "authority-staff", Role.STAFF)
    regulator = department(Kind.REGULATOR, "市场监管稽查")
    watcher = member(regulator, "regulator-1")
    for person in (staff, watcher, member(target, "self-reviewer")):
        size = ledger_size()
        with pytest.raises(NotPermitted):
            services.review_registration(participant=target, action="start_review",
                                         by=person)
        assert row(target)["status"] == Status.APPLIED and ledger_size() == size


def test_government_bodies_do_not_go_through_admission(data_authority):
    _, reviewer = data_authority
    provider = department(Kind.PROVIDER, "交通运输局")
    size = ledger_size()
    with pytest.raises(NotPermitted, match="government bodies"):
        services.review_registration(participant=provider, action="suspend", by=reviewer,
                                     reason="x")
    assert row(provider)["status"] == Status.ADMITTED and ledger_size() == size


def test_applying_writes_the_key_and_the_signed_application():
    from ledger import services as ledger

    ledger.ensure_ledger_key()
    size = ledger_size()
    participant = services.apply_for_admission(
        code=new_code(), name_zh="福州数智科技有限公司", name_en="Fuzhou Shuzhi Technology",
        kind=Kind.MERCHANT, merchant_type="application", contact_name="林晓",
        contact_phone="0591-88000000", contact_email="lin@example.com",
    )
    kinds = list(Entry.objects.filter(seq__gte=size).values_list("kind", flat=True))
    assert kinds == ["ledger.key.registered", "operators.registration.applied"]
    payload = one_entry(size + 1, kind="operators.registration.applied",
                        actor=participant.code, subject=subject(participant))
    assert payload["status"] == Status.APPLIED
    assert payload["merchant_type"] == "application"
    assert "contact_phone" not in payload and "0591" not in str(payload)  # only a digest
    assert len(payload["contacts_sm3"]) == 64


def test_the_applicant_becomes_the_companys_administrator():
    person = user("applicant")
    participant = services.apply_for_admission(code=new_code(), name_zh="某服务公司",
                                               kind=Kind.MERCHANT, merchant_type="service",
                                               applicant=person)
    assert participant.memberships.get().user == person
    assert participant.memberships.get().role == Role.ADMIN


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": Kind.MERCHANT}, "merchant_type"),
        ({"kind": Kind.MERCHANT, "merchant_type": "broker"}, "merchant_type"),
        ({"kind": Kind.OPERATOR, "merchant_type": "technical"}, "merchant_type"),
        ({"kind": Kind.THIRD_PARTY}, "service_type"),
        ({"kind": Kind.THIRD_PARTY, "service_type": "auction"}, "service_type"),
        ({"kind": Kind.MERCHANT, "merchant_type": "service", "service_type": "valuation"},
         "service_type"),
        ({"kind": Kind.PROVIDER}, "kind"),
        ({"kind": "bank"}, "kind"),
        ({"kind": Kind.OPERATOR, "name_zh": "  "}, "name_zh"),
    ],
)
def test_bad_applications_name_the_field(fields, field):
    size, count = ledger_size(), Participant.objects.count()
    arguments = {"code": new_code(), "name_zh": "某公司", **fields}
    with pytest.raises(InvalidInput) as info:
        services.apply_for_admission(**arguments)
    assert info.value.field == field
    assert ledger_size() == size and Participant.objects.count() == count


def test_a_code_registers_once():
    first = company(status=Status.APPLIED)
    size = ledger_size()
    with pytest.raises(InvalidInput, match="already registered") as info:
        services.apply_for_admission(code=first.code, name_zh="冒名公司", kind=Kind.MERCHANT,
                                     merchant_type="technical")
    assert info.value.field == "code" and ledger_size() == size


def test_departments_are_registered_admitted_by_the_authority(data_authority):
    body, _ = data_authority
    size = ledger_size()
    provider = services.register_department(code=new_code(Kind.PROVIDER),
                                            name_zh="自然资源和规划局", kind=Kind.PROVIDER,
                                            by=body)
    assert provider.status == Status.ADMITTED
    entries = list(Entry.objects.filter(seq__gte=size).values_list("kind", flat=True))
    assert entries == ["ledger.key.registered", "operators.participant.registered"]
    one_entry(size + 1, kind="operators.participant.registered", actor=body.code,
              subject=subject(provider))
    with pytest.raises(InvalidInput) as info:
        services.register_department(code=new_code(), name_zh="某公司", kind=Kind.MERCHANT,
                                     by=body)
    assert info.value.field == "kind"
    with pytest.raises(NotPermitted):
        services.register_department(code=new_code(Kind.PROVIDER), name_zh="某局",
                                     kind=Kind.PROVIDER, by=provider)


def test_the_first_authority_is_recorded_by_the_platform():
    from ledger import services as ledger

    size = ledger_size()
    body, _ = authority()
    entry = Entry.objects.get(seq__gte=size, kind="operators.participant.registered")
    assert entry.actor == ledger.origin() and entry.subject == subject(body)

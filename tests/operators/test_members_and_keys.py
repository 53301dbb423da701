"""The people who act for a participant, and the participant's keys: custodial keys issued
and rotated by the server, public keys uploaded by a participant that signs for itself."""

from __future__ import annotations

import pytest

from crypto.sm2 import PrivateKey
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput, NotPermitted
from ledger import services as ledger
from ledger.models import CustodialKey, Entry, LedgerKey, Payload
from operators import selectors, services
from operators.models import Kind, Membership, Participant, Role, Status
from policy import visibility
from tests.ledger.helpers import b64, new_salt, sign, statement
from tests.operators import (
    authority,
    company,
    department,
    ledger_size,
    member,
    one_entry,
    user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def merchant():
    _, reviewer = authority()
    participant = company(status=Status.ADMITTED, reviewer=reviewer, name="榕城数据服务有限公司")
    return participant, member(participant, "merchant-admin", Role.ADMIN)


def test_an_administrator_adds_members_on_the_ledger(merchant):
    participant, admin = merchant
    person = user("analyst")
    size = ledger_size()
    membership = services.add_member(participant=participant, user=person, role=Role.STAFF,
                                     by=admin)
    assert membership.role == Role.STAFF
    assert person.groups.filter(pk=participant.group_id).exists()
    payload = one_entry(size, kind="operators.member.added", actor=participant.code,
                        subject=services.subject(participant))
    assert payload == {"participant": participant.code, "role": Role.STAFF,
                       "user_sm3": sm3_hex(b"analyst")}
    assert Payload.objects.get(entry__seq=size).restricted  # personal data: withheld on export


def test_staff_cannot_add_members_and_nothing_is_written(merchant):
    participant, _ = merchant
    staff = member(participant, "staffer", Role.STAFF)
    person = user("outsider")
    size, members = ledger_size(), Membership.objects.count()
    with pytest.raises(NotPermitted):
        services.add_member(participant=participant, user=person, role=Role.ADMIN, by=staff)
    assert ledger_size() == size and Membership.objects.count() == members
    assert not person.groups.exists()


def test_a_role_must_be_known(merchant):
    participant, admin = merchant
    size = ledger_size()
    with pytest.raises(InvalidInput) as info:
        services.add_member(participant=participant, user=user("x"), role="owner", by=admin)
    assert info.value.field == "role" and ledger_size() == size


def test_issuing_a_key_rotates_the_custodial_key(merchant):
    participant, admin = merchant
    old = LedgerKey.objects.get(owner=participant.code)
    size = ledger_size()
    new = services.issue_key(participant=participant, by=admin)
    old = LedgerKey.objects.select_related("end").get(pk=old.pk)
    assert new.owner == participant.code and new.key_id != old.key_id
    # The registry is the ledger's own: the successor's registration is the origin's entry,
    # and the old key ends (replaced) at exactly that entry.
    payload = one_entry(size, kind="ledger.key.registered", actor=ledger.origin())
    assert payload["replaces"] == old.key_id and payload["key"] == new.key_id
    assert payload["owner"] == participant.code
    assert (old.end.how, old.end.seq) == ("replaced", size)
    # What the participant does next is signed with the new key.
    size = ledger_size()
    services.add_member(participant=participant, user=user("later"), role=Role.STAFF,
                        by=admin)
    assert Entry.objects.get(seq=size).key_id == new.key_id


def test_uploading_a_public_key_lets_the_participant_sign_for_itself(merchant):
    participant, admin = merchant
    private = PrivateKey.generate()
    size = ledger_size()
    key = services.upload_key(participant=participant, pem=private.public_key.pem, by=admin)
    assert not CustodialKey.objects.filter(key=key).exists()  # the server holds no secret
    assert one_entry(size, kind="ledger.key.registered", actor=ledger.origin())["owner"] == \
        participant.code
    salt = new_salt()
    signed = statement(actor=participant.code, key_id=key.key_id, data={"order": "A-1"},
                       salt=salt, kind="contracts.order.placed", subject="contracts/order/A-1")
    entry = ledger.append(signed, sign(private, signed), {"order": "A-1"}, b64(salt))
    assert entry.actor == participant.code and entry.key_id == key.key_id


def test_keys_are_managed_by_administrators_only(merchant):
    participant, _ = merchant
    staff = member(participant, "key-staff", Role.STAFF)
    size, keys = ledger_size(), LedgerKey.objects.count()
    with pytest.raises(NotPermitted):
        services.issue_key(participant=participant, by=staff)
    with pytest.raises(NotPermitted):
        services.upload_key(participant=participant, pem=PrivateKey.generate().public_key.pem,
                            by=staff)
    assert ledger_size() == size and LedgerKey.objects.count() == keys


def test_a_bad_public_key_is_refused_naming_the_field(merchant):
    participant, admin = merchant
    with pytest.raises(InvalidInput) as info:
        services.upload_key(participant=participant, pem="-----BEGIN PUBLIC KEY-----\nxx",
                            by=admin)
    assert info.value.field == "pem"


def test_contacts_are_shown_to_members_the_authority_and_regulators(merchant):
    participant, admin = merchant
    body = department(Kind.AUTHORITY, "省数据局")
    regulator = department(Kind.REGULATOR, "市监管局")
    other = company(status=Status.APPLIED)
    from django.contrib.auth.models import AnonymousUser

    assert visibility.sees_contacts(admin, participant)
    assert visibility.sees_contacts(member(body, "auth-staff", Role.STAFF), participant)
    assert visibility.sees_contacts(member(regulator, "reg"), participant)
    assert not visibility.sees_contacts(member(other, "other"), participant)
    assert not visibility.sees_contacts(AnonymousUser(), participant)


def test_the_directory_filters_in_the_database(merchant):
    participant, _ = merchant
    company(status=Status.APPLIED, name="闽江应用科技有限公司")
    everyone = Participant.objects.all()
    assert list(selectors.participants(everyone, text="榕城")) == [participant]
    names = {p.name_zh for p in selectors.awaiting_review()}
    assert names == {"闽江应用科技有限公司"}
    assert all(p.kind == Kind.MERCHANT
               for p in selectors.participants(everyone, kind=Kind.MERCHANT))

"""Grants and usage records: scope, revocation and expiry take effect for the next
delivery; permissions follow the grants at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import translation

from contracts import agreements, grants, objections, selectors, sharing, tasks
from contracts.common import now
from contracts.models import Delivery, Grant
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from ledger import services as ledger
from ledger.models import Entry
from tests.contracts import world as w

pytestmark = pytest.mark.django_db
RULES = {"licence_no": "none", "issued_on": "generalise"}


def granted(world: w.World, items=("licence_no", "issued_on")) -> Grant:  # type: ignore[no-untyped-def]
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, items=list(items),
        purpose="核验", scenario="审批", legal_basis="《条例》",
        period_from=w.today(), period_until=w.today() + timedelta(days=30))
    sharing.approve_request(by=world.provider_user, request=request)
    return Grant.objects.get(sharing_request=request)


def deliver(world: w.World, grant: Grant, **extra) -> Delivery:  # type: ignore[no-untyped-def]
    fields = {"rows": 120, "desensitisation": RULES, "data": b"licence_no,issued_on\n..."}
    fields.update(extra)
    return grants.record_delivery(by=world.provider_user, grant=grant, **fields)


def refused(error: type[Exception], call, *, match: str | None = None) -> Exception:  # type: ignore[no-untyped-def]
    seq, count = w.last_seq(), Delivery.objects.count()
    with pytest.raises(error, match=match) as caught:
        call()
    assert (w.last_seq(), Delivery.objects.count()) == (seq, count)
    return caught.value


def test_a_delivery_records_digest_rows_and_desensitisation(world: w.World) -> None:
    grant = granted(world)
    seq = w.last_seq()
    delivery = deliver(world, grant)
    (entry,) = w.entries_after(seq)
    assert (entry.kind, entry.actor, w.signer_of(entry)) == (
        "contracts.delivery.recorded", world.provider.code, world.provider.code)
    assert entry.subject == f"contracts/grant/{grant.pk}"
    payload = w.payload_of(entry)
    assert payload["sm3"] == sm3_hex(b"licence_no,issued_on\n...") == delivery.digest
    assert payload["rows"] == 120
    assert payload["desensitisation"] == RULES
    assert payload["disputed"] is False
    assert delivery.entry_seq == entry.seq
    by_digest = deliver(world, grant, data=None, digest="ab" * 32)
    assert by_digest.digest == "ab" * 32


def test_revocation_takes_effect_for_the_next_delivery(world: w.World) -> None:
    grant = granted(world)
    deliver(world, grant)
    assert w.perm(world.operator_user, world.conditional)
    revoked = grants.revoke_grant(by=world.provider_user, grant=grant, reason="超范围使用")
    assert revoked.state == Grant.State.REVOKED
    assert not w.perm(world.operator_user, world.conditional)
    assert not selectors.holds_grant(world.operator, world.conditional)
    refused(IllegalTransition, lambda: deliver(world, grant), match="revoked")


def test_expiry_refuses_deliveries_before_the_task_runs(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    grant = granted(world)
    clock.set(grant.valid_until + timedelta(seconds=1))
    refused(IllegalTransition, lambda: deliver(world, grant), match="expired")
    assert Grant.objects.get(pk=grant.pk).state == Grant.State.ACTIVE
    seq = w.last_seq()
    assert tasks.expire_grants.delay().get()["grants"] >= 1
    expired = [e for e in w.entries_after(seq) if e.subject == f"contracts/grant/{grant.pk}"]
    assert [(e.kind, e.actor, w.signer_of(e)) for e in expired] == [
        ("contracts.grant.expired", ledger.origin(), ledger.origin())]
    assert Grant.objects.get(pk=grant.pk).state == Grant.State.EXPIRED
    assert not w.perm(world.operator_user, world.conditional)
    seq = w.last_seq()
    assert tasks.expire_grants.delay().get() == {"agreements": 0, "grants": 0}
    assert w.last_seq() == seq


def test_a_suspended_agreement_refuses_deliveries(world: w.World) -> None:
    made = agreements.create_agreement(
        by=world.authority_user, operator=world.operator, resources=[world.conditional],
        scenarios="风控", security_obligations="不出域", desensitisation_rules="掩码",
        term_start=w.today(), term_end=w.today() + timedelta(days=30))
    agreements.sign_agreement(by=world.authority_user, agreement=made)
    agreements.sign_agreement(by=world.operator_user, agreement=made)
    grant = Grant.objects.get(agreement=made)
    deliver(world, grant)
    agreements.suspend_agreement(by=world.authority_user, agreement=made, reason="整改")
    refused(IllegalTransition, lambda: deliver(world, grant), match="suspended")
    agreements.resume_agreement(by=world.authority_user, agreement=made)
    deliver(world, grant)


@pytest.mark.parametrize(("rules", "field"), [
    ({"name": "mask"}, "desensitisation[name]"),           # outside the grant's items
    ({"salary": "none"}, "desensitisation[salary]"),        # not an item at all
    ({"licence_no": "scramble"}, "desensitisation[licence_no]"),
    ({}, "desensitisation"),
])
def test_deliveries_outside_the_scope_are_refused(world: w.World, rules, field) -> None:  # type: ignore[no-untyped-def]
    grant = granted(world)
    error = refused(InvalidInput, lambda: deliver(world, grant, desensitisation=rules))
    assert error.field == field


def test_the_catalogue_desensitisation_rule_is_enforced(world: w.World) -> None:
    grant = granted(world, items=())  # every item
    error = refused(InvalidInput, lambda: deliver(world, grant,
                                                  desensitisation={"name": "none"}))
    assert "mask" in error.reason
    # a personal-information item: exactly the rule its resource declares
    with translation.override("en"):
        error = refused(InvalidInput, lambda: deliver(world, grant,
                                                      desensitisation={"name": "hash"}))
    assert "personal information" in error.reason
    deliver(world, grant, desensitisation={"name": "mask"})


@pytest.mark.parametrize(("extra", "field"), [
    ({"data": None}, "data"),
    ({"digest": "ab" * 32}, "data"),
    ({"data": None, "digest": "XYZ"}, "digest"),
    ({"rows": -1}, "rows"),
    ({"rows": 1.5}, "rows"),
])
def test_bad_delivery_input_names_the_field(world: w.World, extra, field) -> None:  # type: ignore[no-untyped-def]
    grant = granted(world)
    assert refused(InvalidInput, lambda: deliver(world, grant, **extra)).field == field


def test_only_the_provider_records_deliveries(world: w.World) -> None:
    grant = granted(world)
    for user in (world.operator_user, world.authority_user, world.merchant_user):
        refused(NotPermitted, lambda u=user: grants.record_delivery(
            by=u, grant=grant, rows=1, desensitisation=RULES, data=b"x"))


def test_deliveries_while_disputed_carry_the_mark(world: w.World) -> None:
    grant = granted(world)
    filed = objections.file_objection(by=world.merchant_user, resource=world.conditional,
                                      ground="timeliness", description="数据未更新")
    assert selectors.is_disputed(world.conditional)
    delivery = deliver(world, grant)
    assert delivery.disputed
    assert w.payload_of(Entry.objects.get(seq=delivery.entry_seq))["disputed"] is True
    objections.reject_objection(by=world.provider_user, objection=filed, reason="已按期更新")
    assert not selectors.is_disputed(world.conditional)
    assert not deliver(world, grant).disputed


def test_permission_stays_while_another_grant_covers_the_resource(world: w.World) -> None:
    first, second = granted(world), granted(world)
    grants.revoke_grant(by=world.authority_user, grant=first, reason="重复授权")
    assert w.perm(world.operator_user, world.conditional)
    grants.revoke_grant(by=world.provider_user, grant=second, reason="停止")
    assert not w.perm(world.operator_user, world.conditional)


def test_revocation_needs_a_reason_and_the_right_party(world: w.World) -> None:
    grant = granted(world)
    with pytest.raises(InvalidInput):
        grants.revoke_grant(by=world.provider_user, grant=grant, reason=" ")
    for user in (world.operator_user, world.authority_staff, world.regulator_user):
        with pytest.raises(NotPermitted):
            grants.revoke_grant(by=user, grant=grant, reason="x")
    assert Grant.objects.get(pk=grant.pk).state == Grant.State.ACTIVE


def test_a_grant_not_yet_valid_refuses_deliveries(world: w.World, clock) -> None:  # type: ignore[no-untyped-def]
    request = sharing.request_sharing(
        by=world.operator_user, resource=world.conditional, purpose="p", scenario="s",
        legal_basis="b", period_from=w.today() + timedelta(days=10),
        period_until=w.today() + timedelta(days=20))
    sharing.approve_request(by=world.provider_user, request=request)
    grant = Grant.objects.get(sharing_request=request)
    refused(IllegalTransition, lambda: deliver(world, grant), match="valid only from")
    clock.set(now() + timedelta(days=11))
    deliver(world, grant)


TABLE = "licence_no,issued_on\n榕市监许〔2026〕1号,2026-03-01\n榕市监许〔2026〕2号,2026-03-02\n"


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "utf-16"])
def test_the_row_count_of_a_delivered_table_is_checked_against_the_file(
        world: w.World, encoding: str) -> None:
    grant = granted(world)
    data = TABLE.encode(encoding)
    error = refused(InvalidInput, lambda: deliver(world, grant, rows=120, data=data,
                                                  data_name="licences.csv"))
    assert error.field == "rows" and "holds 2 rows, not 120" in error.reason  # type: ignore[attr-defined]
    assert deliver(world, grant, rows=2, data=data, data_name="licences.csv").rows == 2
    as_json = json.dumps([{"licence_no": "1"}] * 3).encode()
    refused(InvalidInput, lambda: deliver(world, grant, rows=2, data=as_json,
                                          data_name="licences.json"))
    assert deliver(world, grant, rows=3, data=as_json, data_name="rows.json").rows == 3
    # A file that is no table (an archive, say) cannot be counted: the claim stands.
    assert deliver(world, grant, rows=5000, data=b"PK\x03\x04...",
                   data_name="export.zip").rows == 5000

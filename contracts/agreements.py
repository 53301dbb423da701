"""Authorised-operation agreements (授权运营协议) between the data authority and an operator.

The authority drafts the terms (``contracts.agreement.created``); each party signs with its
own key (``contracts.agreement.signed``, payload: the SM3 of the canonical terms). The
second signature makes the agreement effective and creates one grant per resource in
scope, valid over the term; that entry lists them. The authority suspends (grants
suspended, permissions removed), resumes, or terminates it (grants revoked); the platform
expires it after the last day of its term (grants expired).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction

from catalog.models import DataItem, DataResource
from contracts import calendar, common, grants
from contracts.models import Grant, OperationAgreement
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.states import Machine
from ledger import services as ledger
from operators import authz
from operators.models import Kind, Participant

S = OperationAgreement.State
AGREEMENT = Machine(
    "operation agreement",
    {
        (S.DRAFT, "sign"): S.DRAFT,
        (S.DRAFT, "countersign"): S.EFFECTIVE,
        (S.DRAFT, "terminate"): S.TERMINATED,
        (S.EFFECTIVE, "suspend"): S.SUSPENDED,
        (S.SUSPENDED, "resume"): S.EFFECTIVE,
        (S.EFFECTIVE, "terminate"): S.TERMINATED,
        (S.SUSPENDED, "terminate"): S.TERMINATED,
        (S.EFFECTIVE, "expire"): S.EXPIRED,
        (S.SUSPENDED, "expire"): S.EXPIRED,
    },
)
KIND = {"suspend": "suspended", "resume": "resumed", "terminate": "terminated",
        "expire": "expired"}
GRANT_ACTION = {"suspend": "suspend", "resume": "resume", "terminate": "revoke",
                "expire": "expire"}


def subject(agreement: OperationAgreement) -> str:
    return f"contracts/agreement/{agreement.code}"


def terms(agreement: OperationAgreement) -> dict[str, Any]:
    """What both parties sign: fixed once the agreement is created."""
    return {
        "agreement": agreement.code, "authority": agreement.authority.code,
        "operator": agreement.operator.code,
        "resources": sorted(agreement.resources.values_list("code", flat=True)),
        "items": sorted(f"{i.resource.code}.{i.name}"
                        for i in agreement.items.select_related("resource")),
        "scenarios": agreement.scenarios,
        "security_obligations": agreement.security_obligations,
        "desensitisation_rules": agreement.desensitisation_rules,
        "term_start": agreement.term_start.isoformat(),
        "term_end": agreement.term_end.isoformat(),
    }


def terms_sm3(agreement: OperationAgreement) -> str:
    return sm3_hex(canonical(terms(agreement)))


def _check_scope(operator: Participant, resources: Sequence[DataResource],
                 items: Sequence[DataItem], term_start: date, term_end: date) -> None:
    if operator.kind != Kind.OPERATOR or not operator.is_admitted:
        raise InvalidInput("operator", f"{operator.code} is not an admitted authorised operator")
    if not resources:
        raise InvalidInput("resources", "name at least one resource in scope")
    for resource in resources:
        common.published(resource)
    codes = {r.pk for r in resources}
    for n, item in enumerate(items):
        if item.resource_id not in codes:
            raise InvalidInput(f"items[{n}]", f"{item} is not in a resource in scope")
    if term_end < term_start:
        raise InvalidInput("term_end", "is before term_start")
    if term_end < calendar.local_date(common.now()):
        raise InvalidInput("term_end", "has already passed")


def create_agreement(*, by: common.User, operator: Participant,
                     resources: Sequence[DataResource], scenarios: str,
                     security_obligations: str, desensitisation_rules: str,
                     term_start: date, term_end: date, items: Sequence[DataItem] = (),
                     code: str = "") -> OperationAgreement:
    """The data authority drafts an agreement; it awaits both signatures."""
    authority = authz.acting_for(by, kinds=[Kind.AUTHORITY], roles=authz.REVIEW_ROLES)
    texts = {"scenarios": scenarios, "security_obligations": security_obligations,
             "desensitisation_rules": desensitisation_rules}
    cleaned = {f: common.required(f, t, "draft an agreement") for f, t in texts.items()}
    _check_scope(operator, resources, items, term_start, term_end)
    code = (code or "").strip() or f"OA-{term_start:%Y}-{secrets.token_hex(3).upper()}"
    if OperationAgreement.objects.filter(code=code).exists():
        raise InvalidInput("code", f"{code} is already used")
    with transaction.atomic():
        agreement = OperationAgreement.objects.create(
            code=code, authority=authority, operator=operator, term_start=term_start,
            term_end=term_end, **cleaned,
        )
        agreement.resources.set(resources)
        agreement.items.set(items)
        ledger.record(actor=authority.code, kind="contracts.agreement.created",
                      subject=subject(agreement),
                      payload={"terms": terms(agreement), "terms_sm3": terms_sm3(agreement),
                               "state": agreement.state})
    return agreement


def _take_effect(agreement: OperationAgreement) -> list[dict[str, Any]]:
    start = max(common.now(), calendar.start_of_day(agreement.term_start))
    until = calendar.end_of_day(agreement.term_end)
    if until <= start:
        raise IllegalTransition(f"agreement {agreement.code}'s term ended on "
                                f"{agreement.term_end}")
    created = []
    for resource in agreement.resources.order_by("code"):
        grant = grants.create(
            grantee=agreement.operator, resource=resource,
            items=agreement.items.filter(resource=resource), purpose=agreement.scenarios,
            valid_from=start, valid_until=until, agreement=agreement,
        )
        created.append(grants.payload(grant))
    return created


def _locked(agreement: OperationAgreement) -> OperationAgreement:
    return OperationAgreement.objects.select_for_update(of=("self",)).select_related(
        "authority", "operator").get(pk=agreement.pk)


def _signer(by: common.User, agreement: OperationAgreement) -> tuple[Participant, str]:
    if common.member_of(by, agreement.authority) and authz.is_member(
        by, agreement.authority, authz.REVIEW_ROLES
    ):
        return agreement.authority, "authority"
    if common.member_of(by, agreement.operator):
        return agreement.operator, "operator"
    raise NotPermitted(f"only {agreement.authority.code} (admin or reviewer) and "
                       f"{agreement.operator.code} sign agreement {agreement.code}")


def sign_agreement(*, by: common.User, agreement: OperationAgreement) -> OperationAgreement:
    """One party's signature, an entry signed with that party's key."""
    with transaction.atomic():
        locked = _locked(agreement)
        party, side = _signer(by, locked)
        field = f"{side}_signed_seq"
        other = "operator" if side == "authority" else "authority"
        AGREEMENT.check(locked.state, "sign")
        if getattr(locked, field) is not None:
            raise IllegalTransition(f"agreement {locked.code} is already signed by {party.code}")
        last = getattr(locked, f"{other}_signed_seq") is not None
        locked.state = AGREEMENT.check(locked.state, "countersign" if last else "sign")
        extra: dict[str, Any] = {"grants": _take_effect(locked)} if last else {}
        entry = ledger.record(
            actor=party.code, kind="contracts.agreement.signed", subject=subject(locked),
            payload={"agreement": locked.code, "party": side, "signer": party.code,
                     "terms_sm3": terms_sm3(locked), "state": locked.state, **extra},
        )
        setattr(locked, field, entry.seq)
        locked.save()
    return locked


def _authority_of(by: common.User, agreement: OperationAgreement) -> Participant:
    if common.member_of(by, agreement.authority) and authz.is_member(
        by, agreement.authority, authz.REVIEW_ROLES
    ):
        return agreement.authority
    raise NotPermitted(f"only {agreement.authority.code} (admin or reviewer) may do this")


def _transition(agreement: OperationAgreement, action: str, actor: str,
                reason: str) -> OperationAgreement:
    """Apply ``action`` to the locked agreement and its grants; one entry."""
    agreement.state = AGREEMENT.check(agreement.state, action)
    agreement.reason = reason
    agreement.save(update_fields=["state", "reason"])
    source = Grant.State.SUSPENDED if action == "resume" else Grant.State.ACTIVE
    states = [source] if action in ("suspend", "resume") else [Grant.State.ACTIVE,
                                                               Grant.State.SUSPENDED]
    affected = Grant.objects.select_for_update(of=("self",)).filter(agreement=agreement,
                                                                    state__in=states)
    changed = grants.change(affected.select_related("grantee", "resource").order_by("pk"),
                            GRANT_ACTION[action], reason)
    ledger.record(actor=actor, kind=f"contracts.agreement.{KIND[action]}",
                  subject=subject(agreement),
                  payload={"agreement": agreement.code, "state": agreement.state,
                           "reason": reason, "grants": changed})
    return agreement


def _by_authority(by: common.User, agreement: OperationAgreement, action: str,
                  reason: str) -> OperationAgreement:
    with transaction.atomic():
        locked = _locked(agreement)
        authority = _authority_of(by, locked)
        return _transition(locked, action, authority.code, reason)


def suspend_agreement(*, by: common.User, agreement: OperationAgreement,
                      reason: str) -> OperationAgreement:
    reason = common.required("reason", reason, "suspend an agreement")
    return _by_authority(by, agreement, "suspend", reason)


def resume_agreement(*, by: common.User, agreement: OperationAgreement,
                     reason: str = "") -> OperationAgreement:
    return _by_authority(by, agreement, "resume", (reason or "").strip())


def terminate_agreement(*, by: common.User, agreement: OperationAgreement,
                        reason: str) -> OperationAgreement:
    reason = common.required("reason", reason, "terminate an agreement")
    return _by_authority(by, agreement, "terminate", reason)


def expire_agreement(*, agreement: OperationAgreement, at: datetime | None = None) -> bool:
    """The platform expires an agreement after its last day; False if nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = _locked(agreement)
        if locked.state not in (S.EFFECTIVE, S.SUSPENDED):
            return False
        if calendar.end_of_day(locked.term_end) > moment:
            return False
        _transition(locked, "expire", ledger.origin(), "the agreement's term ended")
    return True

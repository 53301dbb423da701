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
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog.models import DataItem, DataResource
from contracts import calendar, common, deadlines, grants
from contracts.models import Grant, OperationAgreement
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotPermitted
from kernel.states import Machine, Transition
from kernel.text import required_text
from ledger import services as ledger
from operators import authz, capabilities
from operators.models import Kind, Participant
from operators.transitions import Recorded, lock, platform, take

S = OperationAgreement.State


def _signer(by: common.User | None, agreement: OperationAgreement) -> Participant:
    """The data authority (an admin or reviewer of it) or the operator signs."""
    if capabilities.reviews_for(by, agreement.authority):
        return agreement.authority
    if capabilities.acts_for(by, agreement.operator) is not None:
        return agreement.operator
    raise NotPermitted(_("only %(authority)s (an admin or reviewer) and %(operator)s sign "
                         "agreement %(code)s"), authority=agreement.authority.name_zh,
                       operator=agreement.operator.name_zh, code=agreement.code)


def _authority_of(by: common.User | None, agreement: OperationAgreement) -> Participant:
    if capabilities.reviews_for(by, agreement.authority):
        return agreement.authority
    raise NotPermitted(_("only %(authority)s (an admin or reviewer) may do this"),
                       authority=agreement.authority.name_zh)


def side_of(agreement: OperationAgreement, party: Participant) -> str:
    return "authority" if party.pk == agreement.authority_id else "operator"


def _signed_already(agreement: OperationAgreement, party: Participant) -> str | None:
    if getattr(agreement, f"{side_of(agreement, party)}_signed_seq") is not None:
        return _("agreement %(code)s is already signed by %(name)s") % {
            "code": agreement.code, "name": party.name_zh}
    return None


def _after_signature(agreement: OperationAgreement, party: Participant) -> str:
    """The second signature makes the agreement effective."""
    other = "operator" if side_of(agreement, party) == "authority" else "authority"
    return S.EFFECTIVE if getattr(agreement, f"{other}_signed_seq") is not None else S.DRAFT


AGREEMENT: Machine[OperationAgreement] = Machine("operation agreement", [
    Transition("sign", (S.DRAFT,), _after_signature, _signer, _signed_already),
    Transition("suspend", (S.EFFECTIVE,), S.SUSPENDED, _authority_of),
    Transition("resume", (S.SUSPENDED,), S.EFFECTIVE, _authority_of),
    Transition("terminate", (S.DRAFT, S.EFFECTIVE, S.SUSPENDED), S.TERMINATED,
               _authority_of),
    Transition("expire", (S.EFFECTIVE, S.SUSPENDED), S.EXPIRED, platform),
])
KIND = {"sign": "signed", "suspend": "suspended", "resume": "resumed",
        "terminate": "terminated", "expire": "expired"}
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
        raise InvalidInput("operator", _("%(name)s is not an admitted authorised operator"),
                           name=operator.name_zh)
    if not resources:
        raise InvalidInput("resources", _("name at least one resource in scope"))
    for resource in resources:
        common.published(resource)
    codes = {r.pk for r in resources}
    for n, item in enumerate(items):
        if item.resource_id not in codes:
            raise InvalidInput(f"items[{n}]", _("%(item)s is not in a resource in scope"),
                               item=item)
    deadlines.check_term(term_start, term_end, calendar.local_date(common.now()),
                         fields=("term_start", "term_end"),
                         months=deadlines.AGREEMENT_MAX_MONTHS)


def drafter(by: Any) -> Participant:
    """Who drafts agreements: the data authority (an admin or reviewer of it)."""
    return authz.acting_for(by, kinds=[Kind.AUTHORITY], roles=capabilities.REVIEW_ROLES)


def create_agreement(*, by: common.User, operator: Participant,
                     resources: Sequence[DataResource], scenarios: str,
                     security_obligations: str, desensitisation_rules: str,
                     term_start: date, term_end: date, items: Sequence[DataItem] = (),
                     code: str = "") -> OperationAgreement:
    """The data authority drafts an agreement; it awaits both signatures."""
    authority = drafter(by)
    texts = {"scenarios": scenarios, "security_obligations": security_obligations,
             "desensitisation_rules": desensitisation_rules}
    cleaned = {f: required_text(f, t, _("to draft an agreement")) for f, t in texts.items()}
    _check_scope(operator, resources, items, term_start, term_end)
    code = (code or "").strip() or f"OA-{term_start:%Y}-{secrets.token_hex(3).upper()}"
    if OperationAgreement.objects.filter(code=code).exists():
        raise InvalidInput("code", _("%(code)s is already used"), code=code)
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
        raise IllegalTransition(_("the term of agreement %(code)s ended on %(day)s"),
                                code=agreement.code, day=agreement.term_end)
    created = []
    for resource in agreement.resources.order_by("code"):
        grant = grants.create(
            grantee=agreement.operator, resource=resource,
            items=agreement.items.filter(resource=resource), purpose=agreement.scenarios,
            valid_from=start, valid_until=until, agreement=agreement,
        )
        created.append(grants.payload(grant))
    return created


RECORDED: Recorded[OperationAgreement] = Recorded(
    kind=lambda action: f"contracts.agreement.{KIND[action]}", subject=lambda a: subject(a),
    payload=lambda a: {"agreement": a.code, "state": a.state},
    related=("authority", "operator"))


def sign_agreement(*, by: common.User, agreement: OperationAgreement) -> OperationAgreement:
    """One party's signature, an entry signed with that party's key; the second one makes
    the agreement effective and creates its grants."""

    def change(locked: OperationAgreement, party: Participant) -> dict[str, Any]:
        effective = _after_signature(locked, party) == S.EFFECTIVE
        extra: dict[str, Any] = {"party": side_of(locked, party), "signer": party.code,
                                 "terms_sm3": terms_sm3(locked)}
        if effective:
            extra["grants"] = _take_effect(locked)
        return extra

    def signed(locked: OperationAgreement, party: Participant, entry: Any) -> None:
        setattr(locked, f"{side_of(locked, party)}_signed_seq", entry.seq)

    return take(AGREEMENT, RECORDED, agreement, "sign", by=by, change=change, after=signed)


def _with_grants(action: str, reason: str,
                 ) -> Callable[[OperationAgreement, Any], dict[str, Any]]:
    """The change of an agreement's transition: its grants follow (one entry lists them)."""

    def change(locked: OperationAgreement, actor: Any) -> dict[str, Any]:
        locked.reason = reason
        source = Grant.State.SUSPENDED if action == "resume" else Grant.State.ACTIVE
        states = [source] if action in ("suspend", "resume") else [Grant.State.ACTIVE,
                                                                   Grant.State.SUSPENDED]
        affected = Grant.objects.select_for_update(of=("self",)).filter(agreement=locked,
                                                                        state__in=states)
        changed = grants.move(affected.select_related("grantee", "resource").order_by("pk"),
                              GRANT_ACTION[action], reason)
        return {"reason": reason, "grants": changed}

    return change


REASON_FOR = {"suspend": _("to suspend an agreement"), "resume": _("to resume an agreement"),
              "terminate": _("to terminate an agreement")}


def _by_authority(by: common.User, agreement: OperationAgreement, action: str,

                  reason: str, required: bool) -> OperationAgreement:
    def change(locked: OperationAgreement, authority: Participant) -> dict[str, Any]:
        text = (required_text("reason", reason, REASON_FOR[action]) if required

                else (reason or "").strip())
        return _with_grants(action, text)(locked, authority)

    return take(AGREEMENT, RECORDED, agreement, action, by=by, change=change)


def suspend_agreement(*, by: common.User, agreement: OperationAgreement,
                      reason: str) -> OperationAgreement:
    return _by_authority(by, agreement, "suspend", reason, required=True)


def resume_agreement(*, by: common.User, agreement: OperationAgreement,
                     reason: str = "") -> OperationAgreement:
    return _by_authority(by, agreement, "resume", reason, required=False)


def terminate_agreement(*, by: common.User, agreement: OperationAgreement,
                        reason: str) -> OperationAgreement:
    return _by_authority(by, agreement, "terminate", reason, required=True)


def expire_agreement(*, agreement: OperationAgreement, at: datetime | None = None) -> bool:
    """The platform expires an agreement after its last day; False if nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = lock(agreement, RECORDED.related)
        if locked.state not in (S.EFFECTIVE, S.SUSPENDED):
            return False
        if calendar.end_of_day(locked.term_end) > moment:
            return False
        take(AGREEMENT, RECORDED, locked, "expire", by=None,
             change=_with_grants("expire", "the agreement's term ended"))
    return True

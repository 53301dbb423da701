"""Participants: departments, admission of companies (数商入场登记), members and keys.

Each change and its ledger entry commit together.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts import passwords
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput, NotPermitted
from kernel.states import Machine, Transition
from ledger import services as ledger
from ledger.models import LedgerKey
from operators import authz, capabilities, uscc
from operators.models import (
    APPLICANT_KINDS,
    DEPARTMENT_KINDS,
    Kind,
    Membership,
    MerchantType,
    Participant,
    Role,
    ServiceType,
    Status,
)
from operators.transitions import Recorded, take


def _reviewer(user: Any, participant: Participant) -> Participant:
    """The data authority (its admin or reviewer) reviews companies' admission."""
    if participant.is_government:
        raise NotPermitted(_("government bodies do not go through admission"))
    return authz.acting_for(user, kinds=[Kind.AUTHORITY], roles=capabilities.REVIEW_ROLES)


def _registration(action: str, sources: tuple[str, ...], target: str) -> Transition[Participant]:
    return Transition(action, sources, target, _reviewer)


REGISTRATION: Machine[Participant] = Machine("registration", [
    _registration("start_review", (Status.APPLIED,), Status.UNDER_REVIEW),
    _registration("admit", (Status.UNDER_REVIEW,), Status.ADMITTED),
    _registration("reject", (Status.UNDER_REVIEW,), Status.REJECTED),
    _registration("suspend", (Status.ADMITTED,), Status.SUSPENDED),
    _registration("reinstate", (Status.SUSPENDED,), Status.ADMITTED),
    _registration("revoke", (Status.SUSPENDED,), Status.REVOKED),
], field="status")
NEEDS_REASON = {"reject", "suspend", "revoke"}
ENTRY_KIND = {
    "start_review": "operators.registration.review_started",
    "admit": "operators.registration.admitted",
    "reject": "operators.registration.rejected",
    "suspend": "operators.registration.suspended",
    "reinstate": "operators.registration.reinstated",
    "revoke": "operators.registration.revoked",
}


def subject(participant: Participant) -> str:
    return f"operators/participant/{participant.code}"


def _payload(participant: Participant, **extra: Any) -> dict[str, Any]:
    contacts = "\n".join(
        [participant.contact_name, participant.contact_phone, participant.contact_email]
    )
    return {
        "code": participant.code, "name_zh": participant.name_zh,
        "name_en": participant.name_en, "kind": participant.kind,
        "merchant_type": participant.merchant_type, "service_type": participant.service_type,
        "status": participant.status, "contacts_sm3": sm3_hex(contacts.encode()), **extra,
    }


def _valid_code(code: str) -> str:
    try:
        return uscc.validate(code)
    except uscc.USCCError as exc:
        raise InvalidInput("code", _("is not a valid unified social credit code: %(reason)s"),
                           reason=exc) from None


def _clean(*, code: str, name_zh: str, kind: str, merchant_type: str,
           service_type: str) -> str:
    code = _valid_code(code)
    if not name_zh.strip():
        raise InvalidInput("name_zh", _("is required"))
    if kind not in Kind.values:
        raise InvalidInput("kind", _("must be one of %(choices)s"), choices=", ".join(Kind.values))
    if kind == Kind.MERCHANT and merchant_type not in MerchantType.values:
        raise InvalidInput("merchant_type",
                           _("a data merchant is technical, service or application"))
    if kind != Kind.MERCHANT and merchant_type:
        raise InvalidInput("merchant_type", _("only data merchants have a merchant type"))
    if kind == Kind.THIRD_PARTY and service_type not in ServiceType.values:
        raise InvalidInput("service_type",
                           _("a third-party service is certification, notarisation or "
                             "valuation"))
    if kind != Kind.THIRD_PARTY and service_type:
        raise InvalidInput("service_type", _("only third-party services have a service type"))
    if Participant.objects.filter(code=code).exists():
        raise InvalidInput("code", _("%(code)s is already registered"), code=code)
    return code


def _create(*, code: str, name_zh: str, kind: str, status: str, name_en: str = "",
            merchant_type: str = "", service_type: str = "", **contacts: str) -> Participant:
    group = Group.objects.create(name=f"participant:{code}")
    participant = Participant.objects.create(
        code=code, name_zh=name_zh.strip(), name_en=name_en.strip(), kind=kind,
        merchant_type=merchant_type, service_type=service_type, status=status, group=group,
        **contacts,
    )
    ledger.issue_custodial_key(owner=code)
    return participant


def register_department(*, code: str, name_zh: str, kind: str, name_en: str = "",
                        by: Participant | None = None, **contacts: str) -> Participant:
    """Register a government body (provider, data authority, regulator): admitted at once.

    ``by`` is the data authority registering it; None only when bootstrapping the first
    authority, which the platform itself records.
    """
    if kind not in DEPARTMENT_KINDS:
        raise InvalidInput("kind", _("companies apply for admission instead"))
    if by is not None and by.kind != Kind.AUTHORITY:
        raise NotPermitted(_("only the data authority registers departments"))
    code = _clean(code=code, name_zh=name_zh, kind=kind, merchant_type="", service_type="")
    with transaction.atomic():
        participant = _create(code=code, name_zh=name_zh, kind=kind, name_en=name_en,
                              status=Status.ADMITTED, **contacts)
        ledger.record(actor=by.code if by else ledger.origin(),
                      kind="operators.participant.registered", subject=subject(participant),
                      payload=_payload(participant))
    return participant


def apply_for_admission(*, code: str, name_zh: str, kind: str, name_en: str = "",
                        merchant_type: str = "", service_type: str = "",
                        applicant: authz.Person | None = None,
                        **contacts: str) -> Participant:
    """A company applies to take part (数商入场登记); it signs its own application."""
    if kind not in APPLICANT_KINDS:
        raise InvalidInput("kind", _("government bodies are registered by the data authority"))
    code = _clean(code=code, name_zh=name_zh, kind=kind, merchant_type=merchant_type,
                  service_type=service_type)
    with transaction.atomic():
        participant = _create(code=code, name_zh=name_zh, kind=kind, name_en=name_en,
                              merchant_type=merchant_type, service_type=service_type,
                              status=Status.APPLIED, **contacts)
        if applicant is not None:
            _add_member(participant, applicant, Role.ADMIN)
        ledger.record(actor=code, kind="operators.registration.applied",
                      subject=subject(participant), payload=_payload(participant))
    return participant


def apply_with_account(*, password: str, code: str, **application: Any) -> Participant:
    """A visitor applies for its company and opens the account that acts for it, as its
    administrator. The account's username is the company's unified social credit code (as
    legal-person accounts sign in on government service platforms): a code not registered
    yet, so nobody learns from the answer whether some account exists. The account and the
    application are made together or not at all."""
    checked = _valid_code(code)
    if passwords.username_taken(checked):
        raise InvalidInput("code", f"{checked} is already registered")
    passwords.check(password, username=checked)
    with transaction.atomic():
        user = passwords.create_account(username=checked, password=password)
        return apply_for_admission(code=checked, applicant=user, **application)


RECORDED: Recorded[Participant] = Recorded(
    kind=ENTRY_KIND.__getitem__, subject=lambda p: subject(p), payload=lambda p: _payload(p))


def review_registration(*, participant: Participant, action: str, by: authz.User,
                        reason: str = "") -> Participant:
    """One step of the registration state machine, taken by the data authority."""

    def change(locked: Participant, authority: Participant) -> dict[str, Any]:
        if action in NEEDS_REASON and not (reason or "").strip():
            raise InvalidInput("reason", _("is required to %(action)s"), action=action)
        locked.status_reason = (reason or "").strip()
        return {"reason": locked.status_reason}

    return take(REGISTRATION, RECORDED, participant, action, by=by, change=change)


def _add_member(participant: Participant, user: authz.Person, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput("role", _("must be one of %(choices)s"), choices=", ".join(Role.values))
    membership, _created = Membership.objects.update_or_create(
        user=user, participant=participant, defaults={"role": role}
    )
    user.groups.add(participant.group)
    return membership


def require_admin(*, by: Any, participant: Participant, keys: bool = False) -> None:
    """An administrator of ``participant`` adds its members and manages its keys."""
    if not authz.is_member(by, participant, [Role.ADMIN]):
        if keys:
            raise NotPermitted(_("only an administrator of %(name)s manages its keys"),
                               name=participant.name_zh)
        raise NotPermitted(_("only an administrator of %(name)s adds members"),
                           name=participant.name_zh)



def add_member(*, participant: Participant, user: authz.Person, role: str,
               by: authz.User | None) -> Membership:
    """Let ``user`` act for ``participant``; by one of its admins (None: bootstrap/admin)."""
    if by is not None:
        require_admin(by=by, participant=participant)
    with transaction.atomic():
        membership = _add_member(participant, user, role)
        ledger.record(
            actor=participant.code, kind="operators.member.added", subject=subject(participant),
            payload={"participant": participant.code, "user_sm3": sm3_hex(
                user.get_username().encode()), "role": role},
            restricted=True,
        )
    return membership


def issue_key(*, participant: Participant, by: authz.User) -> LedgerKey:
    """A new custodial key for the participant (the old one stays valid for what it signed)."""
    require_admin(by=by, participant=participant, keys=True)
    current = LedgerKey.objects.filter(owner=participant.code, custody__isnull=False,
                                       end__isnull=True).first()
    if current is not None:
        return ledger.rotate_key(key_id=current.key_id)
    return ledger.issue_custodial_key(owner=participant.code)


def upload_key(*, participant: Participant, pem: str, by: authz.User) -> LedgerKey:
    """Register a public key whose private half the participant keeps (client signing)."""
    require_admin(by=by, participant=participant, keys=True)
    return ledger.register_key(owner=participant.code, pem=pem)

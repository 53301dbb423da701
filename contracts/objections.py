"""Objections (异议) about a resource's data or an authorisation (《公共数据异议处理细则》).

filed -> accepted | not accepted (reason); accepted -> under verification -> corrected (a
correction note, optionally a new resource version) | upheld as correct | dismissed; the
filer may appeal once within SHULIAN_OBJECTION_APPEAL_DAYS working days -> appealed ->
closed by the data authority's re-examination. The provider (the resource's managers)
takes the steps up to resolution; once an objection is escalated the data authority may
take them too. While an objection is open the resource is disputed (有异议).

Anyone with an account may file. A person acting for no participant (a data subject) is
not a ledger actor: the platform records the filing and the appeal with its own key, and
the payload carries the person's pseudonym (``personal.pseudonym``, a keyed hash that no
reader can confirm a guess of the username with) and is restricted.

The filer's contact details, when given, are recorded in a payload of their own
(``contracts.objection.contact``, restricted), so that erasing them leaves the objection's
facts on record. The description, the contact details and the grounds of an appeal are
personal information (``contracts.personal``), noted as the filer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog import access
from catalog import services as catalog
from catalog.models import DataResource
from contracts import common, deadlines, personal
from contracts.models import Grant, Objection
from kernel import request_cache
from kernel.errors import InvalidInput, NotFound, NotPermitted
from kernel.states import Machine, Transition
from kernel.text import required_text
from ledger import services as ledger
from ledger.models import Entry
from operators import authz, capabilities
from operators.models import Participant
from operators.transitions import Change, Recorded, lock, platform, take

S = Objection.State
HANDLING = (S.FILED, S.ACCEPTED, S.VERIFYING)


def _handler(by: common.User | None, objection: Objection) -> Participant:
    """The provider's manager of the resource; the data authority too once escalated."""
    if by is not None and access.can_manage(by, objection.resource):
        provider = capabilities.acts_for(by, objection.resource.provider)
        if provider is not None:
            return provider
    if objection.escalated_at is not None:
        authority = capabilities.reviewing_authority(by)
        if authority is not None:
            return authority
    raise NotPermitted(_("only the provider of %(code)s handles this objection (the data "
                         "authority too, once it is escalated)"), code=objection.resource.code)


def _authority(by: common.User | None, objection: Objection) -> Participant:
    authority = capabilities.reviewing_authority(by)
    if authority is None:
        raise NotPermitted(_("only the data authority re-examines an appeal"))
    return authority


def _filer(by: common.User | None, objection: Objection) -> Participant | None:
    if by is None or not by.is_authenticated or by.pk != objection.filer_id:
        raise NotPermitted(_("only the filer appeals an objection"))
    return objection.filer_participant


def _appeal_closed(objection: Objection, filer: Any) -> str | None:
    return deadlines.appeal_closed(objection, common.now())


def _handled(action: str, sources: tuple[str, ...], target: str) -> Transition[Objection]:
    return Transition(action, sources, target, _handler)


OBJECTION: Machine[Objection] = Machine("objection", [
    _handled("accept", (S.FILED,), S.ACCEPTED),
    _handled("not_accept", (S.FILED,), S.NOT_ACCEPTED),
    _handled("start_verification", (S.ACCEPTED,), S.VERIFYING),
    _handled("correct", (S.VERIFYING,), S.CORRECTED),
    _handled("uphold", (S.VERIFYING,), S.UPHELD),
    _handled("dismiss", (S.VERIFYING,), S.DISMISSED),
    Transition("appeal", (S.CORRECTED, S.UPHELD, S.DISMISSED), S.APPEALED, _filer,
               _appeal_closed),
    Transition("close", (S.APPEALED,), S.CLOSED, _authority),
    Transition("escalate", HANDLING, lambda o, a: o.state, platform),
])
KIND = {
    "accept": "accepted", "not_accept": "not_accepted",
    "start_verification": "verification_started", "correct": "corrected",
    "uphold": "upheld", "dismiss": "dismissed", "appeal": "appealed", "close": "closed",
    "escalate": "escalated",
}


def subject(objection: Objection) -> str:
    return f"contracts/objection/{objection.pk}"


def _payload(objection: Objection, **extra: Any) -> dict[str, Any]:
    return {
        "objection": objection.pk, "resource": objection.resource.code,
        "ground": objection.ground, "state": objection.state, **extra,
    }


def _filer_actor(objection: Objection) -> tuple[str, dict[str, Any], bool]:
    """(actor, payload fields, restricted) for the filer's own entries."""
    if objection.filer_participant is not None:
        return objection.filer_participant.code, {"filer": objection.filer_participant.code}, False
    return ledger.origin(), {"filer": None,
                             "filer_pseudonym": personal.pseudonym(objection.filer)}, True


def _as_participant(by: authz.User, participant: Participant | None) -> Participant | None:
    if participant is not None:
        return authz.acting_for(by, participant)
    mine = [p for p in authz.participants(by) if p.is_admitted][:2]
    if len(mine) > 1:
        raise InvalidInput("participant", _("you act for several participants: choose one"))
    return mine[0] if mine else None


SIGNED_FILING = "contracts.objection.filed"
CONTACT = "contracts.objection.contact"
CONTACT_FIELDS = ("name", "phone", "email")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,30}\Z")


def contact_details(contact: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The filer's contact details checked, or None when none is given: a name (optional)
    and a telephone number or an e-mail address to be reached at."""
    if not contact:
        return None
    if not isinstance(contact, Mapping):
        raise InvalidInput("contact", _("must be an object with name, phone and email"))
    unknown = sorted(set(contact) - set(CONTACT_FIELDS))
    if unknown:
        raise InvalidInput(f"contact.{unknown[0]}", _("is not a contact field"))
    found = {}
    for name in CONTACT_FIELDS:
        value = contact.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"contact.{name}", _("must be text"))
        found[name] = (value or "").strip()
    if not any(found.values()):
        return None
    if len(found["name"]) > 100:
        raise InvalidInput("contact.name", _("must be at most %(n)d characters") % {"n": 100})
    if found["phone"] and not _PHONE.match(found["phone"]):
        raise InvalidInput("contact.phone", _("is not a telephone number"))
    if found["email"]:
        try:
            validate_email(found["email"])
        except ValidationError:
            raise InvalidInput("contact.email", _("is not an e-mail address")) from None
    if not found["phone"] and not found["email"]:
        raise InvalidInput("contact.phone", _("give a telephone number or an e-mail address "
                                              "to be reached at"))
    return found


def resource_subject(resource: DataResource) -> str:
    """The subject of a client-signed filing (the client cannot know the objection's id)."""
    return f"catalog/resource/{resource.code}"


def _check_submission(submission: ledger.Submission, filer: Participant | None,
                      resource: DataResource, ground: str, description: str,
                      grant: Grant | None) -> None:
    """The client's own statement must describe exactly the objection being filed."""
    if filer is None:
        raise InvalidInput("payload.filer", _("a client-signed objection is filed for a "
                                              "participant you act for"))
    statement, payload = submission.statement, submission.payload
    if not isinstance(statement, dict):
        raise InvalidInput("statement", _("must be an object"))
    expected = {"kind": SIGNED_FILING, "actor": filer.code,
                "subject": resource_subject(resource)}
    for name, value in expected.items():
        if statement.get(name) != value:
            raise InvalidInput(f"statement.{name}", _("must be “%(value)s”"), value=value)
    described: dict[str, Any] = {"resource": resource.code, "ground": ground,
                                 "description": description, "filer": filer.code,
                                 "grant": grant.pk if grant else None}
    if not isinstance(payload, dict) or set(payload) - set(described):
        raise InvalidInput("payload", _("must be an object with %(fields)s"),
                           fields=", ".join(described))
    for name, value in described.items():
        if payload.get(name) != value:
            raise InvalidInput(f"payload.{name}", _("does not describe the objection filed"))


@request_cache.scoped
def file_objection(*, by: authz.User, resource: DataResource, ground: str,
                   description: str, grant: Grant | None = None,
                   participant: Participant | None = None,
                   submission: ledger.Submission | None = None,
                   contact: Mapping[str, Any] | None = None) -> Objection:
    """Anyone signed in objects to a resource's data, or to an authorisation (a grant).

    With ``submission`` (a statement the filer's participant signed with its own key, about
    ``resource_subject(resource)``, whose payload names resource, ground, description,
    filer and grant) that statement is appended instead of one signed on the server.
    ``contact`` (name, phone, email) goes into a payload of its own (see the module)."""
    if not by.is_authenticated:
        raise NotPermitted(_("sign in first"))
    if not access.visible(by).filter(pk=resource.pk).exists():
        raise NotFound(_("no resource %(code)s"), code=resource.code)
    if ground not in Objection.Ground.values:
        raise InvalidInput("ground", _("must be one of %(choices)s"),
                           choices=", ".join(Objection.Ground.values))
    if ground == Objection.Ground.LEGITIMACY and grant is None:
        raise InvalidInput("grant", _("name the grant whose legitimacy you object to"))
    if grant is not None and grant.resource_id != resource.pk:
        raise InvalidInput("grant", _("grant %(grant)s is not about %(code)s"),
                           grant=grant.pk, code=resource.code)

    description = required_text("description", description, _("to file an objection"))
    filer = _as_participant(by, participant)
    details = contact_details(contact)
    if submission is not None:
        _check_submission(submission, filer, resource, ground, description, grant)
        if details is not None:
            raise InvalidInput("contact", _("contact details go with a filing the server "
                                            "signs, not with a client-signed one"))
    with transaction.atomic():
        filed = common.now()
        objection = Objection.objects.create(
            filer=by, filer_participant=filer, resource=resource, grant=grant, ground=ground,
            description=description,
            accept_due=deadlines.objection_accept_due(filed),
        )
        if submission is not None:
            (entry,) = ledger.append_many([submission])
            personal.remember(entry, by, subject(objection))
            return objection
        actor, who, restricted = _filer_actor(objection)
        entry = ledger.record(
            actor=actor, kind="contracts.objection.filed", subject=subject(objection),
            payload=_payload(objection, version=resource.version, description=description,
                             grant=grant.pk if grant else None,
                             accept_due=common.when(objection.accept_due), **who),
            restricted=restricted,
        )
        personal.remember(entry, by)
        if details is not None:
            personal.remember(ledger.record(
                actor=actor, kind=CONTACT, subject=subject(objection),
                payload={"objection": objection.pk, **details}, restricted=True), by)
    return objection


def contact_entry(objection: Objection) -> Entry | None:
    """The entry that holds the filer's contact details, if they gave any."""
    return Entry.objects.filter(kind=CONTACT, subject=subject(objection)).first()


def filing_entry(objection: Objection) -> Entry | None:
    """The entry that filed the objection (a client-signed one is about its resource)."""
    found = Entry.objects.filter(kind=SIGNED_FILING, subject=subject(objection)).first()
    if found is None:
        found = Entry.objects.filter(kind=SIGNED_FILING, personal__record=subject(objection)
                                     ).first()
    return found


RECORDED: Recorded[Objection] = Recorded(
    kind=lambda action: f"contracts.objection.{KIND[action]}", subject=lambda o: subject(o),
    payload=lambda o: _payload(o),
    related=("resource__provider", "filer", "filer_participant"))

Decide = Callable[[Objection], dict[str, Any]]


def _step(objection: Objection, action: str, by: common.User, apply: Decide) -> Objection:
    """The objection's transition ``action``; the filer's own steps are recorded for the
    filer (by the platform, restricted, for a person acting for no participant)."""

    def change(locked: Objection, actor: Any) -> Change:
        extra = apply(locked)
        if action != "appeal":
            return Change(extra)
        code, fields, restricted = _filer_actor(locked)
        return Change({**extra, **fields}, actor=code, restricted=restricted)

    def noted(locked: Objection, actor: Any, entry: Entry) -> None:
        personal.remember(entry, locked.filer)

    writes_personal = personal.is_personal(RECORDED.kind(action))
    return take(OBJECTION, RECORDED, objection, action, by=by, change=change,
                after=noted if writes_personal else None)


def accept_objection(*, by: common.User, objection: Objection) -> Objection:
    def apply(o: Objection) -> dict[str, Any]:
        o.resolve_due = deadlines.objection_resolve_due(common.now())
        return {"resolve_due": common.when(o.resolve_due)}

    return _step(objection, "accept", by, apply)


def reject_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    """Not accepted (不予受理), with the reason."""

    def apply(o: Objection) -> dict[str, Any]:
        o.reason = required_text("reason", reason, _("to not accept an objection"))
        return {"reason": o.reason}

    return _step(objection, "not_accept", by, apply)


def start_verification(*, by: common.User, objection: Objection) -> Objection:
    return _step(objection, "start_verification", by, lambda o: {})


def _resolve(o: Objection, note: str, **extra: Any) -> dict[str, Any]:
    o.reason = note
    o.resolved_at = common.now()
    o.appeal_until = deadlines.appeal_until(o.resolved_at)
    return {"reason": note, "appeal_until": common.when(o.appeal_until), **extra}


def correct_objection(*, by: common.User, objection: Objection, correction: str,
                      revision: dict[str, Any] | None = None) -> Objection:
    """Resolved as corrected: a correction note (更正记录) and, with ``revision`` (fields and
    ``items`` for catalog.services.revise_resource), a new resource version, whose own
    ``catalog.resource.published`` entry precedes this one in the same transaction."""

    def apply(o: Objection) -> dict[str, Any]:
        o.correction = required_text("correction", correction, _("to correct the data"))
        if revision is not None:
            revised = catalog.revise_resource(by=by, resource=o.resource, **revision)
            o.corrected_version = revised.version
        return _resolve(o, o.correction, correction=o.correction,
                        corrected_version=o.corrected_version)

    return _step(objection, "correct", by, apply)


def uphold_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    """Resolved: the data was verified as correct (upheld), with the explanation."""
    return _step(objection, "uphold", by, lambda o: _resolve(o, required_text(
        "reason", reason, _("to uphold the data as correct"))))


def dismiss_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    return _step(objection, "dismiss", by, lambda o: _resolve(o, required_text(
        "reason", reason, _("to dismiss an objection"))))


def appeal_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    """The filer appeals the resolution, once, within the appeal period (the table's
    blocker says so)."""

    def apply(o: Objection) -> dict[str, Any]:
        o.appealed = True
        o.appeal_grounds = required_text("reason", reason, _("to appeal"))
        return {"reason": o.appeal_grounds}


    return _step(objection, "appeal", by, apply)


def close_objection(*, by: common.User, objection: Objection, outcome: str) -> Objection:
    """The data authority's re-examination of an appeal, with its outcome."""

    def apply(o: Objection) -> dict[str, Any]:
        o.outcome = required_text("outcome", outcome, _("to close an appeal"))
        return {"outcome": o.outcome}

    return _step(objection, "close", by, apply)


def escalate_objection(*, objection: Objection, at: datetime | None = None) -> bool:
    """The platform escalates a missed deadline (accept, then resolve), once each; False
    if there is nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = lock(objection, RECORDED.related)
        missed = deadlines.objection_missed(locked, moment)
        if missed is None:
            return False

        def apply(o: Objection) -> dict[str, Any]:
            o.escalated_at = moment
            return {"missed": missed, "due": common.when(deadlines.objection_due(o)),
                    "escalated_at": common.when(moment)}

        take(OBJECTION, RECORDED, locked, "escalate", by=None,
             change=lambda o, actor: apply(o))
    return True

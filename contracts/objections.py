"""Objections (异议) about a resource's data or an authorisation (《公共数据异议处理细则》).

filed -> accepted | not accepted (reason); accepted -> under verification -> corrected (a
correction note, optionally a new resource version) | upheld as correct | dismissed; the
filer may appeal once within SHULIAN_OBJECTION_APPEAL_DAYS working days -> appealed ->
closed by the data authority's re-examination. The provider (the resource's managers)
takes the steps up to resolution; once an objection is escalated the data authority may
take them too. While an objection is open the resource is disputed (有异议).

Anyone with an account may file. A person acting for no participant (a data subject) is
not a ledger actor: the platform records the filing and the appeal with its own key, and
the payload carries the SM3 of the username and is restricted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog import access
from catalog import services as catalog
from catalog.models import DataResource
from contracts import calendar, common
from contracts.models import Grant, Objection
from crypto.sm3 import sm3_hex
from kernel.errors import IllegalTransition, InvalidInput, NotFound, NotPermitted
from kernel.states import Machine
from ledger import services as ledger
from operators import authz
from operators.models import Participant

S = Objection.State
OBJECTION = Machine(
    "objection",
    {
        (S.FILED, "accept"): S.ACCEPTED,
        (S.FILED, "not_accept"): S.NOT_ACCEPTED,
        (S.ACCEPTED, "start_verification"): S.VERIFYING,
        (S.VERIFYING, "correct"): S.CORRECTED,
        (S.VERIFYING, "uphold"): S.UPHELD,
        (S.VERIFYING, "dismiss"): S.DISMISSED,
        (S.CORRECTED, "appeal"): S.APPEALED,
        (S.UPHELD, "appeal"): S.APPEALED,
        (S.DISMISSED, "appeal"): S.APPEALED,
        (S.APPEALED, "close"): S.CLOSED,
        (S.FILED, "escalate"): S.FILED,
        (S.ACCEPTED, "escalate"): S.ACCEPTED,
        (S.VERIFYING, "escalate"): S.VERIFYING,
    },
)
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
    username = objection.filer.get_username()
    return ledger.origin(), {"filer": None, "filer_sm3": sm3_hex(username.encode())}, True


def _as_participant(by: AbstractBaseUser, participant: Participant | None) -> Participant | None:
    if participant is not None:
        return authz.acting_for(by, participant)
    mine = list(authz.participants_of(by).filter(status="admitted")[:2])
    if len(mine) > 1:
        raise InvalidInput("participant", "you act for several participants: choose one")
    return mine[0] if mine else None


SIGNED_FILING = "contracts.objection.filed"


def resource_subject(resource: DataResource) -> str:
    """The subject of a client-signed filing (the client cannot know the objection's id)."""
    return f"catalog/resource/{resource.code}"


def _check_submission(submission: ledger.Submission, filer: Participant | None,
                      resource: DataResource, ground: str, description: str,
                      grant: Grant | None) -> None:
    """The client's own statement must describe exactly the objection being filed."""
    if filer is None:
        raise InvalidInput("payload.filer", "a client-signed objection is filed for a "
                                            "participant you act for")
    statement, payload = submission.statement, submission.payload
    if not isinstance(statement, dict):
        raise InvalidInput("statement", "must be an object")
    expected = {"kind": SIGNED_FILING, "actor": filer.code,
                "subject": resource_subject(resource)}
    for name, value in expected.items():
        if statement.get(name) != value:
            raise InvalidInput(f"statement.{name}", f"must be {value!r}")
    described = {"resource": resource.code, "ground": ground, "description": description,
                 "filer": filer.code, "grant": grant.pk if grant else None}
    if not isinstance(payload, dict) or set(payload) - set(described):
        raise InvalidInput("payload", f"must be an object with {', '.join(described)}")
    for name, value in described.items():
        if payload.get(name) != value:
            raise InvalidInput(f"payload.{name}", "does not describe the objection filed")


def file_objection(*, by: AbstractBaseUser, resource: DataResource, ground: str,
                   description: str, grant: Grant | None = None,
                   participant: Participant | None = None,
                   submission: ledger.Submission | None = None) -> Objection:
    """Anyone signed in objects to a resource's data, or to an authorisation (a grant).

    With ``submission`` (a statement the filer's participant signed with its own key, about
    ``resource_subject(resource)``, whose payload names resource, ground, description,
    filer and grant) that statement is appended instead of one signed on the server."""
    if not by.is_authenticated:
        raise NotPermitted("sign in first")
    if not access.visible(by).filter(pk=resource.pk).exists():
        raise NotFound(f"no resource {resource.code}")
    if ground not in Objection.Ground.values:
        raise InvalidInput("ground", f"must be one of {', '.join(Objection.Ground.values)}")
    if ground == Objection.Ground.LEGITIMACY and grant is None:
        raise InvalidInput("grant", "name the grant whose legitimacy you object to")
    if grant is not None and grant.resource_id != resource.pk:
        raise InvalidInput("grant", f"grant {grant.pk} is not about {resource.code}")
    description = common.required("description", description, "file an objection")
    filer = _as_participant(by, participant)
    if submission is not None:
        _check_submission(submission, filer, resource, ground, description, grant)
    with transaction.atomic():
        filed = common.now()
        objection = Objection.objects.create(
            filer=by, filer_participant=filer, resource=resource, grant=grant, ground=ground,
            description=description,
            accept_due=calendar.add_working_days(filed, settings.SHULIAN_OBJECTION_ACCEPT_DAYS),
        )
        if submission is not None:
            ledger.append_many([submission])
            return objection
        actor, who, restricted = _filer_actor(objection)
        ledger.record(
            actor=actor, kind="contracts.objection.filed", subject=subject(objection),
            payload=_payload(objection, version=resource.version, description=description,
                             grant=grant.pk if grant else None,
                             accept_due=common.when(objection.accept_due), **who),
            restricted=restricted,
        )
    return objection


def _locked(objection: Objection) -> Objection:
    return Objection.objects.select_for_update(of=("self",)).select_related(
        "resource__provider", "filer", "filer_participant").get(pk=objection.pk)


def _handler(by: common.User, objection: Objection) -> Participant:
    """The provider's manager of the resource; the data authority too once escalated."""
    if access.can_manage(by, objection.resource):
        provider = common.member_of(by, objection.resource.provider)
        if provider is not None:
            return provider
    if objection.escalated_at is not None:
        authority = common.reviewing_authority(by)
        if authority is not None:
            return authority
    raise NotPermitted(f"only the provider of {objection.resource.code} handles this "
                       "objection (the data authority too, once it is escalated)")


def _authority(by: common.User, objection: Objection) -> Participant:
    authority = common.reviewing_authority(by)
    if authority is None:
        raise NotPermitted("only the data authority re-examines an appeal")
    return authority


def _filer(by: common.User, objection: Objection) -> Participant | None:
    if not by.is_authenticated or by.pk != objection.filer_id:
        raise NotPermitted("only the filer appeals an objection")
    return objection.filer_participant


Decide = Callable[[Objection], dict[str, Any]]


def _step(objection: Objection, action: str, who: Callable[[common.User, Objection], Any],
          by: common.User, apply: Decide) -> Objection:
    """Lock, check who acts and the transition, apply, record one entry."""
    with transaction.atomic():
        locked = _locked(objection)
        actor = who(by, locked)
        target = OBJECTION.check(locked.state, action)
        extra = apply(locked)
        locked.state = target
        locked.save()
        if action == "appeal":
            code, fields, restricted = _filer_actor(locked)
        else:
            code, fields, restricted = actor.code, {}, False
        ledger.record(actor=code, kind=f"contracts.objection.{KIND[action]}",
                      subject=subject(locked), payload=_payload(locked, **extra, **fields),
                      restricted=restricted)
    return locked


def accept_objection(*, by: common.User, objection: Objection) -> Objection:
    def apply(o: Objection) -> dict[str, Any]:
        o.resolve_due = calendar.add_working_days(common.now(),
                                                  settings.SHULIAN_OBJECTION_RESOLVE_DAYS)
        return {"resolve_due": common.when(o.resolve_due)}

    return _step(objection, "accept", _handler, by, apply)


def reject_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    """Not accepted (不予受理), with the reason."""
    reason = common.required("reason", reason, "not accept an objection")

    def apply(o: Objection) -> dict[str, Any]:
        o.reason = reason
        return {"reason": reason}

    return _step(objection, "not_accept", _handler, by, apply)


def start_verification(*, by: common.User, objection: Objection) -> Objection:
    return _step(objection, "start_verification", _handler, by, lambda o: {})


def _resolve(o: Objection, note: str, **extra: Any) -> dict[str, Any]:
    o.reason = note
    o.resolved_at = common.now()
    o.appeal_until = calendar.add_working_days(o.resolved_at,
                                               settings.SHULIAN_OBJECTION_APPEAL_DAYS)
    return {"reason": note, "appeal_until": common.when(o.appeal_until), **extra}


def correct_objection(*, by: common.User, objection: Objection, correction: str,
                      revision: dict[str, Any] | None = None) -> Objection:
    """Resolved as corrected: a correction note (更正记录) and, with ``revision`` (fields and
    ``items`` for catalog.services.revise_resource), a new resource version, whose own
    ``catalog.resource.published`` entry precedes this one in the same transaction."""
    correction = common.required("correction", correction, "correct the data")

    def apply(o: Objection) -> dict[str, Any]:
        if revision is not None:
            revised = catalog.revise_resource(by=by, resource=o.resource, **revision)
            o.corrected_version = revised.version
        o.correction = correction
        return _resolve(o, correction, correction=correction,
                        corrected_version=o.corrected_version)

    return _step(objection, "correct", _handler, by, apply)


def uphold_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    """Resolved: the data was verified as correct (upheld), with the explanation."""
    reason = common.required("reason", reason, "uphold the data as correct")
    return _step(objection, "uphold", _handler, by, lambda o: _resolve(o, reason))


def dismiss_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    reason = common.required("reason", reason, "dismiss an objection")
    return _step(objection, "dismiss", _handler, by, lambda o: _resolve(o, reason))


def appeal_objection(*, by: common.User, objection: Objection, reason: str) -> Objection:
    """The filer appeals the resolution, once, within the appeal period."""
    reason = common.required("reason", reason, "appeal")

    def apply(o: Objection) -> dict[str, Any]:
        if o.appealed:
            raise IllegalTransition(f"objection {o.pk} was already appealed once")
        if o.appeal_until is not None and o.appeal_until < common.now():
            raise IllegalTransition(f"the appeal period ended at {common.when(o.appeal_until)}")
        o.appealed = True
        return {"reason": reason}

    return _step(objection, "appeal", _filer, by, apply)


def close_objection(*, by: common.User, objection: Objection, outcome: str) -> Objection:
    """The data authority's re-examination of an appeal, with its outcome."""
    outcome = common.required("outcome", outcome, "close an appeal")

    def apply(o: Objection) -> dict[str, Any]:
        o.outcome = outcome
        return {"outcome": outcome}

    return _step(objection, "close", _authority, by, apply)


def _overdue(objection: Objection, moment: datetime) -> str | None:
    """Which deadline an open objection has missed and not yet been escalated for."""
    if objection.state == S.FILED and objection.accept_due < moment:
        return None if objection.escalated_at else "accept"
    if objection.state in (S.ACCEPTED, S.VERIFYING) and objection.resolve_due is not None \
            and objection.resolve_due < moment:
        done = objection.escalated_at is not None and objection.escalated_at > objection.resolve_due
        return None if done else "resolve"
    return None


def escalate_objection(*, objection: Objection, at: datetime | None = None) -> bool:
    """The platform escalates a missed deadline (accept, then resolve), once each; False
    if there is nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = _locked(objection)
        missed = _overdue(locked, moment)
        if missed is None:
            return False
        OBJECTION.check(locked.state, "escalate")
        due = locked.accept_due if missed == "accept" else locked.resolve_due
        locked.escalated_at = moment
        locked.save(update_fields=["escalated_at"])
        ledger.record(actor=ledger.origin(), kind="contracts.objection.escalated",
                      subject=subject(locked),
                      payload=_payload(locked, missed=missed, due=common.when(due),
                                       escalated_at=common.when(moment)))
    return True

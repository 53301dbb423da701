"""Erasure requests (个人信息删除请求): the right to erasure of PIPL art. 47 and GB/T
35273-2020 §8.3, on a ledger that never forgets an entry.

Who asks: the data subject, for a named payload or for every payload that carries their
personal information (``contracts.personal``); or the data authority, on a court order or
a statutory ground, for any payload (and a named person's). A request covering the records
of several controllers is filed as one request per controller.

Who decides: the controller of the data (the provider department, or the data authority for
platform records) within SHULIAN_ERASURE_DAYS working days: approves (the payloads and
their salts are erased, each by a ``ledger.payload.redacted`` entry recording the legal
basis, in the same transaction as the approval) or refuses with a reason. The filer may
appeal a refusal once, within SHULIAN_ERASURE_APPEAL_DAYS; the data authority re-examines
it within SHULIAN_ERASURE_DAYS and erases or upholds the refusal. A missed deadline is
escalated by the platform (then the data authority may decide too). Every step is an entry.

filed -> erased | refused | withdrawn; refused -> appealed -> erased | closed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User as Person
from django.db import transaction
from django.utils.translation import gettext as _

from contracts import common, deadlines, personal
from contracts.models import ErasureRequest, ErasureTarget
from kernel.errors import InvalidInput, NotPermitted
from kernel.states import Machine, Transition
from ledger import selectors as ledger_reads
from ledger import services as ledger
from ledger.models import Entry
from ledger.protocol.records import is_reserved
from operators import authz, capabilities
from operators.models import Kind, Participant
from operators.transitions import Change, Recorded, lock, platform, take

S = ErasureRequest.State
G = ErasureRequest.Ground
MAX_TEXT = 4000
MAX_REFERENCE = 200
# The data subject's own grounds (PIPL art. 47(1) items 1-4) and the data authority's.
SUBJECT_GROUNDS = (G.PURPOSE, G.RETENTION, G.CONSENT, G.UNLAWFUL)
AUTHORITY_GROUNDS = (G.COURT_ORDER, G.STATUTORY)
PIPL = "《个人信息保护法》第四十七条第一款"
BASIS: dict[str, str] = {
    G.PURPOSE: f"{PIPL}第（一）项 (PIPL art. 47(1)(i))",
    G.RETENTION: f"{PIPL}第（二）项 (PIPL art. 47(1)(ii))",
    G.CONSENT: f"{PIPL}第（三）项 (PIPL art. 47(1)(iii))",
    G.UNLAWFUL: f"{PIPL}第（四）项 (PIPL art. 47(1)(iv))",
    G.COURT_ORDER: "人民法院裁判 (court order)",
    G.STATUTORY: f"{PIPL}第（五）项 (PIPL art. 47(1)(v))",
}
KIND = {"approve": "approved", "refuse": "refused", "withdraw": "withdrawn",
        "appeal": "appealed", "uphold": "upheld", "escalate": "escalated"}


# --- who may take each step -----------------------------------------------------------------


def _controller(by: common.User | None, request: ErasureRequest) -> Participant:
    """A member of the controller (a reviewer, for the data authority); the data authority
    too once the request was escalated. Never the request's own filer."""
    if by is not None and by.pk == request.filer_id:
        raise NotPermitted(_("you filed this request: another member of the controller "
                             "decides it"))
    party = capabilities.acts_for(by, request.controller)
    if party is not None and (party.kind != Kind.AUTHORITY
                              or capabilities.reviews_for(by, party)):
        return party
    if request.escalated_at is not None:
        authority = capabilities.reviewing_authority(by)
        if authority is not None:
            return authority
    raise NotPermitted(_("only %(controller)s, the controller of this data, decides this "
                         "request (the data authority too, once it is escalated)")
                       % {"controller": request.controller.name_zh})


def _authority(by: common.User | None, request: ErasureRequest) -> Participant:
    authority = capabilities.reviewing_authority(by)
    if authority is None:
        raise NotPermitted(_("only the data authority re-examines an appeal"))
    return authority


def _filer(by: common.User | None, request: ErasureRequest) -> Participant | None:
    if by is None or not by.is_authenticated or by.pk != request.filer_id:
        raise NotPermitted(_("only the filer of this erasure request may do this"))
    return request.filer_participant


def _appeal_closed(request: ErasureRequest, filer: Any) -> str | None:
    return deadlines.erasure_appeal_closed(request, common.now())


OPEN = ErasureRequest.OPEN_STATES
ERASURE: Machine[ErasureRequest] = Machine("erasure request", [
    Transition("approve", (S.FILED,), S.ERASED, _controller),
    Transition("refuse", (S.FILED,), S.REFUSED, _controller),
    Transition("withdraw", (S.FILED,), S.WITHDRAWN, _filer),
    Transition("appeal", (S.REFUSED,), S.APPEALED, _filer, _appeal_closed),
    Transition("approve", (S.APPEALED,), S.ERASED, _authority),
    Transition("uphold", (S.APPEALED,), S.CLOSED, _authority),
    Transition("escalate", OPEN, lambda r, a: r.state, platform),
])


def subject(request: ErasureRequest) -> str:
    return f"contracts/erasure/{request.pk}"


def _payload(request: ErasureRequest) -> dict[str, Any]:
    return {"request": request.pk, "controller": request.controller.code,
            "state": request.state}


RECORDED: Recorded[ErasureRequest] = Recorded(
    kind=lambda action: f"contracts.erasure.{KIND[action]}", subject=lambda r: subject(r),
    payload=lambda r: _payload(r), related=("controller", "filer", "filer_participant"))


# --- filing -------------------------------------------------------------------------------


def _text(field: str, text: str | None, required: bool) -> str:
    cleaned = (text or "").strip()
    if required and not cleaned:
        raise InvalidInput(field, _("is required"))
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput(field, _("must be at most %(n)d characters") % {"n": MAX_TEXT})
    return cleaned


def _signed_in(by: authz.User) -> Person:
    if not isinstance(by, Person) or not by.is_authenticated:
        raise NotPermitted(_("sign in first"))
    return by


def _who(by: authz.User, ground: str) -> Participant | None:
    """The data authority filing on its grounds (or None: a data subject for themselves);
    NotPermitted for anyone else."""
    _signed_in(by)
    if ground not in G.values:
        raise InvalidInput("ground", _("must be one of %(choices)s")
                           % {"choices": ", ".join(G.values)})
    if ground in SUBJECT_GROUNDS:
        return None
    authority = capabilities.reviewing_authority(by)
    if authority is None:
        raise NotPermitted(_("only the data authority asks for an erasure on a court order "
                             "or a statutory ground"))
    return authority


def open_request_of(entry: Entry) -> int | None:
    """The open erasure request that already names this payload, or whose own record it
    is (a request's reasons are not erased while it is being decided)."""
    named = (ErasureTarget.objects.filter(entry=entry, request__state__in=OPEN)
             .values_list("request_id", flat=True).first())
    if named is not None:
        return int(named)
    record = personal.record_of(entry)
    if record.startswith("contracts/erasure/"):
        own = ErasureRequest.objects.filter(pk=int(record.rsplit("/", 1)[-1]),
                                            state__in=OPEN).values_list("pk", flat=True)
        return own.first()
    return None


def _named(seq: Any, person: authz.User | None, authority: Participant | None) -> list[Entry]:
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise InvalidInput("seq", _("must be the seq of a ledger entry"))
    if authority is None:
        held = personal.held_entry(person, seq) if person else None
        if held is None:
            raise InvalidInput("seq", _("entry %(seq)d holds none of your personal "
                                        "information that is not yet erased") % {"seq": seq})
        return [held.entry]
    entry = Entry.objects.filter(seq=seq).first()
    if entry is None:
        raise InvalidInput("seq", _("there is no entry %(seq)d") % {"seq": seq})
    if is_reserved(entry.kind):
        raise InvalidInput("seq", _("entry %(seq)d is one of the ledger's own records, whose "
                                    "payload is never erased") % {"seq": seq})
    if personal.is_erased(seq):
        raise InvalidInput("seq", _("the payload of entry %(seq)d is already erased")
                           % {"seq": seq})
    return [entry]


def _targets(seq: int | None, person: authz.User | None,
             authority: Participant | None) -> list[Entry]:
    if seq is not None:
        found = _named(seq, person, authority)
        busy = open_request_of(found[0])
        if busy is not None:
            raise InvalidInput("seq", _("entry %(seq)d is already in erasure request "
                                        "#%(request)d, which is still open")
                               % {"seq": found[0].seq, "request": busy})
        return found
    if person is None:
        raise InvalidInput("person", _("name the payload, or the person whose personal "
                                       "information is to be erased"))
    held = [p.entry for p in personal.held_by(person) if open_request_of(p.entry) is None]
    if not held:
        raise InvalidInput("seq", _("no personal information of this person is left to erase "
                                    "(or all of it is in an open request)"))
    return held


def _basis(ground: str, reference: str) -> str:
    return BASIS[ground] + (f"; {reference}" if reference else "")


def request_erasure(*, by: authz.User, ground: str, seq: int | None = None,
                    reason: str = "", reference: str = "",
                    person: authz.User | None = None) -> list[ErasureRequest]:
    """Ask for the payload of entry ``seq`` (or, without it, every payload holding the
    person's personal information) to be erased; one request per controller.

    A data subject asks on one of SUBJECT_GROUNDS, for their own data (``person`` is
    themselves); the data authority on AUTHORITY_GROUNDS, with a ``reference`` (the court
    order's number, the statute) and, without ``seq``, the ``person``."""
    authority = _who(by, ground)
    filer = _signed_in(by)
    if person is not None and not isinstance(person, Person):
        raise InvalidInput("person", _("must be a person with an account"))
    if authority is None:
        if person is not None and person.pk != filer.pk:
            raise NotPermitted(_("a data subject asks only for their own personal information"))
        person = filer
    reference = reference.strip() if isinstance(reference, str) else ""
    if authority is not None and not reference:
        raise InvalidInput("reference", _("name the court order or the statutory ground"))
    if len(reference) > MAX_REFERENCE:
        raise InvalidInput("reference", _("must be at most %(n)d characters")
                           % {"n": MAX_REFERENCE})
    reason = _text("reason", reason, required=False)
    controllers: dict[int, Participant] = {}
    groups: dict[int, list[Entry]] = defaultdict(list)
    for entry in _targets(seq, person, authority):
        controller = personal.controller_of(personal.record_of(entry))
        controllers.setdefault(controller.pk, controller)
        groups[controller.pk].append(entry)
    scope = ErasureRequest.Scope.PAYLOAD if seq is not None else ErasureRequest.Scope.ALL
    with transaction.atomic():
        return [_file(filer, authority, person, controllers[pk], entries, ground, scope,
                      reference, reason) for pk, entries in groups.items()]


def _file(by: Person, authority: Participant | None, person: Person | None,
          controller: Participant, entries: list[Entry], ground: str, scope: str,
          reference: str, reason: str) -> ErasureRequest:
    request = ErasureRequest.objects.create(
        filer=by, filer_participant=authority, person=person, controller=controller,
        ground=ground, scope=scope, reference=reference, basis=_basis(ground, reference),
        reason=reason, due=deadlines.erasure_due(common.now()))
    ErasureTarget.objects.bulk_create([ErasureTarget(request=request, entry=e)
                                       for e in entries])
    entry = ledger.record(
        actor=authority.code if authority else ledger.origin(),
        kind="contracts.erasure.requested", subject=subject(request),
        payload={**_payload(request), "filer": authority.code if authority else None,
                 "ground": ground, "scope": scope, "basis": request.basis,
                 "reference": reference, "reason": reason,
                 "targets": [e.seq for e in entries], "due": common.when(request.due)},
        restricted=authority is None)
    personal.remember(entry, person if person is not None else by)
    return request


# --- decisions ----------------------------------------------------------------------------


def _filer_actor(request: ErasureRequest) -> tuple[str, bool]:
    """(actor, restricted) of the filer's own entries: a person is recorded by the platform."""
    if request.filer_participant is not None:
        return request.filer_participant.code, False
    return ledger.origin(), True


def approve_erasure(*, by: common.User, request: ErasureRequest,
                    outcome: str = "") -> ErasureRequest:
    """Erase every target payload and salt (those already erased are noted, not erased
    twice), then record the approval; all in one transaction."""

    def change(locked: ErasureRequest, actor: Participant) -> dict[str, Any]:
        locked.outcome = _text("outcome", outcome, required=False)
        erased = []
        for target in locked.targets.select_related("entry"):
            done = ledger_reads.redaction_of(target.entry_id)
            if done is None:
                redaction = personal.erase(entry=target.entry, basis=locked.basis,
                                           request=subject(locked))
                target.redaction_seq = redaction.seq
            else:
                target.redaction_seq = done[0]
            target.save(update_fields=["redaction_seq"])
            erased.append({"seq": target.entry_id, "by": target.redaction_seq})
        locked.decided_at = common.now()
        locked.decided_by = actor
        return {"erased": erased, "basis": locked.basis, "outcome": locked.outcome}

    return take(ERASURE, RECORDED, request, "approve", by=by, change=change)


def refuse_erasure(*, by: common.User, request: ErasureRequest,
                   reason: str) -> ErasureRequest:
    """Refused with the reason; the filer may appeal once within the appeal period."""

    def change(locked: ErasureRequest, actor: Participant) -> dict[str, Any]:
        locked.refusal = _text("reason", reason, required=True)
        locked.decided_at = common.now()
        locked.decided_by = actor
        locked.appeal_until = deadlines.erasure_appeal_until(locked.decided_at)
        return {"reason": locked.refusal, "appeal_until": common.when(locked.appeal_until)}

    return take(ERASURE, RECORDED, request, "refuse", by=by, change=change)


def withdraw_erasure(*, by: common.User, request: ErasureRequest,
                     reason: str = "") -> ErasureRequest:
    def change(locked: ErasureRequest, actor: Any) -> Change:
        code, restricted = _filer_actor(locked)
        return Change({"reason": _text("reason", reason, required=False)}, actor=code,
                      restricted=restricted)

    return take(ERASURE, RECORDED, request, "withdraw", by=by, change=change)


def appeal_erasure(*, by: common.User, request: ErasureRequest,
                   reason: str) -> ErasureRequest:
    """The filer appeals a refusal, once, within the appeal period; the data authority
    re-examines it within SHULIAN_ERASURE_DAYS working days."""

    def change(locked: ErasureRequest, actor: Any) -> Change:
        grounds = _text("reason", reason, required=True)
        locked.appealed = True
        locked.due = deadlines.erasure_due(common.now())
        code, restricted = _filer_actor(locked)
        return Change({"reason": grounds, "due": common.when(locked.due)}, actor=code,
                      restricted=restricted)

    def remember(locked: ErasureRequest, actor: Any, entry: Entry) -> None:
        personal.remember(entry, locked.person or locked.filer)

    return take(ERASURE, RECORDED, request, "appeal", by=by, change=change, after=remember)


def uphold_refusal(*, by: common.User, request: ErasureRequest,
                   outcome: str) -> ErasureRequest:
    """The data authority's re-examination confirms the refusal."""

    def change(locked: ErasureRequest, actor: Participant) -> dict[str, Any]:
        locked.outcome = _text("outcome", outcome, required=True)
        return {"outcome": locked.outcome}

    return take(ERASURE, RECORDED, request, "uphold", by=by, change=change)


def escalate_erasure(*, request: ErasureRequest, at: datetime | None = None) -> bool:
    """The platform escalates a missed deadline (the decision, then the re-examination),
    once each; False if there is nothing to do."""
    moment = at or common.now()
    with transaction.atomic():
        locked = lock(request, RECORDED.related)
        missed = deadlines.erasure_missed(locked, moment)
        if missed is None:
            return False

        def change(o: ErasureRequest, actor: Any) -> dict[str, Any]:
            o.escalated_at = moment
            return {"missed": missed, "due": common.when(o.due),
                    "escalated_at": common.when(moment)}

        take(ERASURE, RECORDED, locked, "escalate", by=None, change=change)
    return True

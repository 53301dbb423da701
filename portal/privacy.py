"""Personal-information pages: what the ledger holds of me, erasure requests (个人信息删除请求)
and their decisions.

The rules are ``contracts.erasure`` (who may ask, who decides, deadlines) and
``contracts.personal`` (what is personal information); what a user may see comes from
``policy.visibility`` and the buttons from ``policy.actions.available_actions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contracts import common, deadlines, erasure, objections, personal
from contracts.models import ErasureRequest, Objection
from kernel.errors import InvalidInput, NotFound
from ledger import selectors as ledger
from ledger.models import Entry
from operators import capabilities
from policy import visibility
from portal.pages import (
    Action,
    Button,
    Field,
    buttons,
    choice_field,
    dispatch,
    page_view,
    paginate,
    person,
    post_only,
    reason_field,
    run,
    timeline,
)

G = ErasureRequest.Ground
RECORD_PAGES = {"contracts/objection/": ("contracts:objection", gettext_lazy("Objection #%(n)s")),
                "contracts/sharing/": ("contracts:request",
                                       gettext_lazy("Sharing request #%(n)s")),
                "contracts/erasure/": ("privacy:erasure", gettext_lazy("Erasure request #%(n)s"))}


@dataclass(frozen=True)
class Record:
    """The workflow object a payload belongs to, as a link."""

    label: str
    url: str | None


def record_link(record: str) -> Record:
    for prefix, (name, label) in RECORD_PAGES.items():
        tail = record.removeprefix(prefix)
        if record.startswith(prefix) and tail.isdigit():
            return Record(str(label) % {"n": tail}, reverse(name, args=[int(tail)]))
    return Record(record, None)


@dataclass(frozen=True)
class Held:
    """One payload that holds the person's personal information, as the page lists it;
    ``busy`` is the open erasure request that already covers it."""

    seq: int
    kind: str
    holds: Any
    record: Record
    recorded: Any
    busy: int | None


def _held(user: Any) -> list[Held]:
    return [Held(p.entry_id, p.kind, personal.holds(p.kind), record_link(p.record),
                 p.entry.recorded, erasure.open_request_of(p.entry))
            for p in personal.held_by(user)]


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """My personal information on the ledger, and the erasure requests I may see."""
    state = request.GET.get("state", "")
    query = visibility.erasure_requests(request.user).order_by("-created")
    if state:
        query = query.filter(state=state)
    page, rest = paginate(request, query, 25)
    return render(request, "privacy/overview.html", {
        "section": "privacy", "held": _held(request.user), "page": page, "query": rest,
        "states": ErasureRequest.State.choices, "state": state,
        "authority": capabilities.reviewing_authority(request.user) is not None,
        "kinds": [(k.kind, k.holds, personal.retention_days(k.kind))
                  for k in personal.PERSONAL_KINDS.values()],
    })


class SubjectErasureForm(forms.Form):
    """A data subject's request: one of their payloads, or all of them."""

    target = forms.ChoiceField(label=gettext_lazy("What to erase"))
    ground = forms.ChoiceField(label=gettext_lazy("Ground for erasure"), choices=[
        (g, label) for g, label in G.choices if g in erasure.SUBJECT_GROUNDS])
    reason = forms.CharField(label=gettext_lazy("Your reasons (optional)"), required=False,
                             max_length=erasure.MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Also personal information: it can be "
                                                    "erased later in the same way."))

    def __init__(self, *args: Any, held: list[Held], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "target").choices = [
            ("all", _("Every payload that carries my personal information"))] + [
            (str(h.seq), _("Entry %(seq)s — %(holds)s (%(record)s)")
             % {"seq": h.seq, "holds": h.holds, "record": h.record.label})
            for h in held if h.busy is None]

    def call(self, request: HttpRequest) -> list[ErasureRequest]:
        data = self.cleaned_data
        seq = None if data["target"] == "all" else int(data["target"])
        return erasure.request_erasure(by=person(request), ground=data["ground"], seq=seq,
                                       reason=data["reason"])


class AuthorityErasureForm(forms.Form):
    """The data authority's request on a court order or a statutory ground."""

    ground = forms.ChoiceField(label=gettext_lazy("Ground for erasure"), choices=[
        (g, label) for g, label in G.choices if g in erasure.AUTHORITY_GROUNDS])
    reference = forms.CharField(label=gettext_lazy("Court order or statute"),
                                max_length=erasure.MAX_REFERENCE)
    seq = forms.IntegerField(label=gettext_lazy("Entry (seq)"), required=False, min_value=0,
                             help_text=gettext_lazy("The entry whose payload is to be erased; "
                                                    "leave empty to name a person instead."))
    person = forms.CharField(label=gettext_lazy("Data subject (user name)"), required=False,
                             max_length=150)
    reason = forms.CharField(label=gettext_lazy("Reasons"), required=False,
                             max_length=erasure.MAX_TEXT,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def call(self, request: HttpRequest) -> list[ErasureRequest]:
        data = self.cleaned_data
        subject = None
        if data["person"]:
            subject = get_user_model().objects.filter(username=data["person"]).first()
            if subject is None:
                raise InvalidInput("person", _("there is no user %(name)s")
                                   % {"name": data["person"]})
        return erasure.request_erasure(by=person(request), ground=data["ground"],
                                       seq=data["seq"], reference=data["reference"],
                                       reason=data["reason"], person=subject)


@login_required
def erasure_new(request: HttpRequest) -> HttpResponse:
    on_grounds = request.GET.get("on") == "authority" or "reference" in request.POST
    authority = on_grounds and capabilities.reviewing_authority(request.user) is not None
    held = [] if authority else _held(request.user)
    initial = {"target": request.GET.get("seq", "all")}
    form: SubjectErasureForm | AuthorityErasureForm = (
        AuthorityErasureForm(request.POST or None) if authority
        else SubjectErasureForm(request.POST or None, held=held, initial=initial))
    if request.method == "POST" and form.is_valid():
        made = run(request, lambda: form.call(request), _("Erasure request recorded on the "
                                                          "ledger; the controller must decide "
                                                          "it in time."), form)
        if made:
            if len(made) == 1:
                return redirect("privacy:erasure", made[0].pk)
            return redirect("privacy:home")
    return render(request, "privacy/erasure_form.html", {
        "section": "privacy", "form": form, "authority": authority, "held": held,
        "days": settings.SHULIAN_ERASURE_DAYS,
        "appeal_days": settings.SHULIAN_ERASURE_APPEAL_DAYS})


def _actions(request: HttpRequest, obj: ErasureRequest) -> list[Action]:
    return buttons(request.user, obj, reverse("privacy:erasure-act", args=[obj.pk]), {
        "approve": Button(_("Approve and erase"), [
            Field("outcome", _("Note (optional)"), required=False)]),
        "refuse": Button(_("Refuse"), [reason_field()], "danger"),
        "withdraw": Button(_("Withdraw request"), [reason_field(required=False)], "danger"),
        "appeal": Button(_("Appeal"), [Field("reason", _("Grounds of appeal"))]),
        "uphold": Button(_("Uphold the refusal"), [
            Field("outcome", _("Outcome of the re-examination"))], "danger"),
    })


@dataclass(frozen=True)
class Target:
    seq: int
    kind: str
    holds: Any
    record: Record
    erased: tuple[int, str] | None


def _get(request: HttpRequest, pk: int) -> ErasureRequest:
    found = visibility.erasure_requests(request.user).filter(pk=pk).first()
    if found is None:
        raise NotFound(f"no erasure request {pk}")
    return found


@login_required
@page_view
def erasure_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _get(request, pk)
    rows = list(obj.targets.select_related("entry"))
    done = ledger.redactions_of(t.entry_id for t in rows)
    targets = [Target(t.entry_id, t.entry.kind, personal.holds(t.entry.kind),
                      record_link(personal.record_of(t.entry)), done.get(t.entry_id))
               for t in rows]
    return render(request, "privacy/erasure_detail.html", {
        "section": "privacy", "obj": obj, "targets": targets,
        "actions": _actions(request, obj), "steps": timeline([erasure.subject(obj)]),
        "overdue": deadlines.erasure_overdue(obj, common.now()),
        "appeal": appeal_of(request.user, obj),
    })


@login_required
@post_only
@page_view
def erasure_act(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _get(request, pk)
    p, user = request.POST, request.user
    handlers = {
        "approve": lambda: erasure.approve_erasure(by=user, request=obj,
                                                   outcome=p.get("outcome", "")),
        "refuse": lambda: erasure.refuse_erasure(by=user, request=obj,
                                                 reason=p.get("reason", "")),
        "withdraw": lambda: erasure.withdraw_erasure(by=user, request=obj,
                                                     reason=p.get("reason", "")),
        "appeal": lambda: erasure.appeal_erasure(by=user, request=obj,
                                                 reason=p.get("reason", "")),
        "uphold": lambda: erasure.uphold_refusal(by=user, request=obj,
                                                 outcome=p.get("outcome", "")),
    }
    done = {"approve": _("Approved: the payloads and their salts are erased."),
            "refuse": _("Erasure refused."), "withdraw": _("Erasure request withdrawn."),
            "appeal": _("Appeal filed."), "uphold": _("Refusal upheld.")}
    return dispatch(request, handlers, done, reverse("privacy:erasure", args=[pk]))


# --- a personal payload as its reader sees it ------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A payload as this reader sees it: its fields, its erasure (redaction seq, basis), or
    withheld (both None)."""

    fields: dict[str, Any] | None = None
    erased: tuple[int, str] | None = None


def shown(user: Any, entry: Entry | None) -> Shown | None:
    """None when there is no such entry; withheld from a reader who may not read the
    payload (``policy.visibility``)."""
    stored = ledger.payload(entry.seq) if entry is not None else None
    if entry is None or stored is None:
        return None
    if stored.erased_by is not None:
        return Shown(erased=(stored.erased_by, stored.basis))
    access = visibility.payload_access(user, kind=entry.kind, actor=entry.actor,
                                       subject=entry.subject, restricted=stored.restricted)
    if not access.readable:
        return Shown()
    return Shown(fields=dict(stored.payload))


def contact_of(user: Any, objection: Objection) -> Shown | None:
    """The filer's contact details (name, phone, email), or None when they gave none."""
    found = shown(user, objections.contact_entry(objection))
    if found is None or found.fields is None:
        return found
    return Shown(fields={k: str(found.fields.get(k, "")) for k in objections.CONTACT_FIELDS})


def appeal_of(user: Any, request: ErasureRequest) -> Shown | None:
    """The grounds of the filer's appeal against a refusal, or None before an appeal."""
    return shown(user, Entry.objects.filter(kind="contracts.erasure.appealed",
                                            subject=erasure.subject(request)).first())


def description_erased(objection: Objection) -> tuple[int, str] | None:
    """(redaction seq, basis) once the objection's description was erased."""
    entry = objections.filing_entry(objection)
    return ledger.redaction_of(entry.seq) if entry is not None else None

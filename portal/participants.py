"""Portal pages of participants: the directory, a participant's page (keys, ledger history),
the admission application (数商入场登记) and the data authority's review."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ledger.models import Entry, LedgerKey
from operators import authz, capabilities, selectors, services
from operators.models import (
    APPLICANT_KINDS,
    Kind,
    MerchantType,
    Participant,
    Role,
    ServiceType,
    Status,
)
from policy import visibility
from portal.pages import (
    Action,
    Button,
    buttons,
    dispatch,
    page_view,
    paginate,
    person,
    post_only,
    reason_field,
    run,
)


def participant_list(request: HttpRequest) -> HttpResponse:
    """The directory: the participants this reader may see (``policy.visibility``), as the
    API lists them."""
    q = request.GET
    found = selectors.participants(visibility.participants(request.user),
                                   kind=q.get("kind") or None, status=q.get("status") or None,
                                   text=q.get("q", "").strip() or None)
    page, rest = paginate(request, found, 25)
    return render(request, "operators/list.html", {
        "section": "participants", "page": page, "query": rest,
        "kinds": Kind.choices, "statuses": Status.choices,
        "f": {"kind": q.get("kind", ""), "status": q.get("status", ""), "q": q.get("q", "")},
        "awaiting": selectors.awaiting_review().count() if capabilities.oversees(
            request.user) else 0,
    })


REVIEW_LABELS = {
    "start_review": (gettext_lazy("Start review"), False, ""),
    "admit": (gettext_lazy("Admit"), False, ""),
    "reject": (gettext_lazy("Reject"), True, "danger"),
    "suspend": (gettext_lazy("Suspend"), True, "danger"),
    "reinstate": (gettext_lazy("Reinstate"), False, ""),
    "revoke": (gettext_lazy("Revoke"), True, "danger"),
}


def _review_actions(request: HttpRequest, participant: Participant) -> list[Action]:
    looks = {name: Button(str(label), [reason_field()] if needs else [], style)
             for name, (label, needs, style) in REVIEW_LABELS.items()}
    return buttons(request.user, participant,
                   reverse("operators:review", args=[participant.code]), looks)


def _participant(request: HttpRequest, code: str) -> Participant:
    """The participant named in the URL, if this reader may see it (404 otherwise)."""
    return visibility.one(request.user, Participant, "participant",
                          code=code.upper())


@page_view
def participant_detail(request: HttpRequest, code: str) -> HttpResponse:
    participant = _participant(request, code)
    subject = services.subject(participant)
    history = Entry.objects.filter(Q(actor=participant.code) | Q(subject=subject))
    page, rest = paginate(request, history.order_by("-seq").only(
        "seq", "kind", "subject", "recorded", "key_id", "leaf_hash", "actor"), 15)
    is_admin = authz.is_member(request.user, participant, [Role.ADMIN])
    return render(request, "operators/detail.html", {
        "section": "participants", "participant": participant,
        "contacts": visibility.sees_contacts(request.user, participant),
        "status_reason": visibility.sees_status_reason(request.user, participant),
        "keys": LedgerKey.objects.filter(owner=participant.code).select_related("end")
        .order_by("-registered_seq"),
        "page": page, "query": rest, "is_admin": is_admin,
        "members": participant.memberships.select_related("user") if is_admin or
        visibility.sees_contacts(request.user, participant) else [],
        "actions": _review_actions(request, participant),
        "key_form": KeyUploadForm(),
    })


@login_required
@post_only
@page_view
def participant_review(request: HttpRequest, code: str) -> HttpResponse:
    participant = _participant(request, code)
    reason = request.POST.get("reason", "")
    def review(action: str) -> Callable[[], Participant]:
        return lambda: services.review_registration(participant=participant, action=action,
                                                    by=request.user, reason=reason)

    handlers = {name: review(name) for name in REVIEW_LABELS}
    done = {"start_review": _("Review started."), "admit": _("Participant admitted."),
            "reject": _("Application rejected."), "suspend": _("Participant suspended."),
            "reinstate": _("Participant reinstated."), "revoke": _("Admission revoked.")}
    return dispatch(request, handlers, done, reverse("operators:detail", args=[participant.code]))


class KeyUploadForm(forms.Form):
    pem = forms.CharField(label=gettext_lazy("Public key (PEM)"), widget=forms.Textarea,
                          help_text=gettext_lazy(
                              "An SM2 SubjectPublicKeyInfo; you keep the private key and sign "
                              "statements yourself."))


@login_required
@post_only
@page_view
def participant_keys(request: HttpRequest, code: str) -> HttpResponse:
    participant = _participant(request, code)
    if request.POST.get("action") == "upload":
        form = KeyUploadForm(request.POST)
        if form.is_valid():
            run(request, lambda: services.upload_key(participant=participant,
                                                     pem=form.cleaned_data["pem"],
                                                     by=request.user),
                _("Public key registered."))
        else:
            messages.error(request, _("Paste an SM2 public key in PEM form."))
    else:
        run(request, lambda: services.issue_key(participant=participant, by=request.user),
            _("A new custodial key was issued; the old one stays valid for what it signed."))
    return redirect(reverse("operators:detail", args=[participant.code]))


APPLY_KINDS = [(k.value, k.label) for k in Kind if k in APPLICANT_KINDS]


class ApplicationForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Unified social credit code"), max_length=18,
                           help_text=gettext_lazy("18 characters, as on the business licence."))
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=200)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200, required=False)
    kind = forms.ChoiceField(label=gettext_lazy("Applying as"), choices=APPLY_KINDS)
    merchant_type = forms.ChoiceField(
        label=gettext_lazy("Merchant type"), required=False,
        choices=[("", "—")] + list(MerchantType.choices),
        help_text=gettext_lazy("Data merchants only."))
    service_type = forms.ChoiceField(
        label=gettext_lazy("Service type"), required=False,
        choices=[("", "—")] + list(ServiceType.choices),
        help_text=gettext_lazy("Third-party services only."))
    contact_name = forms.CharField(label=gettext_lazy("Contact person"), max_length=100)
    contact_phone = forms.CharField(label=gettext_lazy("Contact phone"), max_length=40)
    contact_email = forms.EmailField(label=gettext_lazy("Contact e-mail"))
    address = forms.CharField(label=gettext_lazy("Address"), max_length=300, required=False)


class AccountForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"), widget=forms.PasswordInput, strip=False,
        help_text=gettext_lazy("At least 12 characters, not a common password, not all "
                               "digits. You will sign in with the company's unified social "
                               "credit code as your username."))


def apply(request: HttpRequest) -> HttpResponse:
    """A company applies for admission; a visitor opens the account that acts for it (its
    username is the company's code: ``operators.services.apply_with_account``)."""
    form = ApplicationForm(request.POST or None)
    account = None if request.user.is_authenticated else AccountForm(
        request.POST or None, prefix="account")
    if request.method == "POST" and form.is_valid() and (account is None or account.is_valid()):
        data = dict(form.cleaned_data)
        done = _("Application recorded on the ledger. The data authority will review it.")
        if account is None:
            participant = run(request, lambda: services.apply_for_admission(
                applicant=person(request), **data), done, form)
        else:
            password = account.cleaned_data["password"]
            participant = run(request, lambda: services.apply_with_account(
                password=password, **data), done, form, account)
            if participant is not None:
                login(request, participant.memberships.get().user,
                      backend="django.contrib.auth.backends.ModelBackend")
        if participant is not None:
            return redirect(reverse("operators:detail", args=[participant.code]))
    return render(request, "operators/apply.html", {
        "section": "participants", "form": form, "account": account,
    })

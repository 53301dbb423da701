"""Workflow pages: sharing requests, agreements, grants and deliveries, objections, orders.

Each detail page shows the object's facts, the actions this user may take now
(``policy.actions.available_actions``: the state machine's table, which the service applies
too) and its timeline of ledger entries. What a user may see comes from
``policy.visibility``. Every POST goes to one service function.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog import access
from catalog import selectors as catalog
from catalog.models import DataResource, Desensitisation, ProductStatus, ResourceStatus
from contracts import agreements, common, deadlines, grants, objections, orders, services, sharing
from contracts.deliveries import MAX_DELIVERY, MAX_DOCUMENT
from contracts.models import Grant, Objection, OperationAgreement, Order, SharingRequest
from kernel.money import money_text
from kernel.uploads import read_upload, table_encoding
from operators import authz, capabilities
from operators.models import Kind, Participant
from policy import visibility
from portal import privacy
from portal.pages import (
    Action,
    Button,
    Field,
    buttons,
    choice_field,
    date_input,
    dispatch,
    model_field,
    page_view,
    paginate,
    post_only,
    reason_field,
    run,
    timeline,
)
from portal.tables import Column, columns, sorted_by


def _list(request: HttpRequest, query: Any, states: Any, template: str,
          section: str, heads: list[Column], sorts: dict[str, str],
          **extra: Any) -> HttpResponse:
    """A workflow list: filtered by state, sorted by a column (newest first by default),
    in pages; each row links to its page."""
    state = request.GET.get("state", "")
    if state:
        query = query.filter(state=state)
    query, chosen = sorted_by(request, query, {"created": "created", **sorts}, "-created")
    page, rest = paginate(request, query, 25)
    return render(request, template, {"section": section, "page": page, "query": rest,
                                      "states": states, "state": state,
                                      "heads": columns(request, chosen, heads), **extra})


def _get(query: Any, what: str, **lookup: Any) -> Any:
    found = query.filter(**lookup).first()
    if found is None:
        raise visibility.not_found(what, next(iter(lookup.values())))
    return found



# --- sharing requests ---------------------------------------------------------------------


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    query = visibility.sharing_requests(request.user)
    heads = [Column("#", "id", numeric=True), Column(_("Resource"), "resource"),
             Column(_("Requester"), "requester"), Column(_("Provider")),
             Column(_("State"), "state"), Column(_("Due"), "due"), Column(_("Filed"), "created")]
    return _list(request, query, SharingRequest.State.choices, "contracts/requests.html",
                 "requests", heads, {"id": "pk", "resource": "resource__name",
                                     "requester": "requester__name_zh", "state": "state",
                                     "due": "due"},
                 can_request=capabilities.has_kind(request.user, capabilities.REQUESTER_KINDS))


class SharingRequestForm(forms.Form):
    resource = forms.ModelChoiceField(label=gettext_lazy("Resource"), to_field_name="code",
                                      queryset=DataResource.objects.none())
    items = forms.MultipleChoiceField(
        label=gettext_lazy("Data items"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Leave all unticked to request every item."))
    purpose = forms.CharField(label=gettext_lazy("Purpose"),
                              widget=forms.Textarea(attrs={"rows": 3}))
    scenario = forms.CharField(label=gettext_lazy("Scenario"), max_length=200)
    legal_basis = forms.CharField(label=gettext_lazy("Legal basis"),
                                  widget=forms.Textarea(attrs={"rows": 2}))
    period_from = forms.DateField(label=gettext_lazy("From"), widget=date_input())
    period_until = forms.DateField(label=gettext_lazy("Until"), widget=date_input())

    def __init__(self, *args: Any, user: Any, resource: DataResource | None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field(self, "resource").queryset = visibility.resources(user).filter(
            status=ResourceStatus.PUBLISHED).exclude(
            provider__in=authz.participants_of(user)).order_by("code")
        if resource is not None:
            choice_field(self, "items").choices = [(i.name, i.name) for i in resource.items.all()]
        else:
            del self.fields["items"]


def _resource_param(request: HttpRequest) -> DataResource | None:
    code = request.POST.get("resource") or request.GET.get("resource")
    if not code:
        return None
    return visibility.resources(request.user).filter(code=code).first()


@login_required
def request_new(request: HttpRequest) -> HttpResponse:
    if not capabilities.has_kind(request.user, capabilities.REQUESTER_KINDS):
        raise PermissionDenied(_("Departments and authorised operators request sharing."))
    resource = _resource_param(request)
    initial = {"resource": resource.code} if resource else {}
    form = SharingRequestForm(request.POST or None, user=request.user, resource=resource,
                              initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        made = run(request, lambda: services.request_sharing(
            by=request.user, resource=data["resource"], purpose=data["purpose"],
            scenario=data["scenario"], legal_basis=data["legal_basis"],
            period_from=data["period_from"], period_until=data["period_until"],
            items=data.get("items") or []), _("Request recorded on the ledger."), form)
        if made:
            return redirect("contracts:request", made.pk)
    return render(request, "contracts/request_form.html", {
        "section": "requests", "form": form, "resource": resource})


def _request_actions(request: HttpRequest, obj: SharingRequest) -> list[Action]:
    return buttons(request.user, obj, reverse("contracts:request-act", args=[obj.pk]), {
        "approve": Button(_("Approve"), [Field("conditions", _("Conditions (optional)"),
                                               required=False)]),
        "refuse": Button(_("Refuse"), [reason_field()], "danger"),
        "withdraw": Button(_("Withdraw request"), [reason_field(required=False)], "danger"),
    })


@login_required
@page_view
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _get(visibility.sharing_requests(request.user), "sharing request", pk=pk)
    grant = Grant.objects.filter(sharing_request=obj).first()
    subjects = [sharing.subject(obj)] + ([grants.subject(grant)] if grant else [])
    return render(request, "contracts/request_detail.html", {
        "section": "requests", "obj": obj, "grant": grant, "items": obj.items.all(),
        "actions": _request_actions(request, obj), "steps": timeline(subjects),
        "overdue": deadlines.request_overdue(obj, common.now()),
    })


@login_required
@post_only
@page_view
def request_act(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _get(visibility.sharing_requests(request.user), "sharing request", pk=pk)
    p, user = request.POST, request.user
    handlers = {
        "approve": lambda: services.approve_request(by=user, request=obj,
                                                    conditions=p.get("conditions", "")),
        "refuse": lambda: services.refuse_request(by=user, request=obj,
                                                  reason=p.get("reason", "")),
        "withdraw": lambda: services.withdraw_request(by=user, request=obj,
                                                      reason=p.get("reason", "")),
    }
    done = {"approve": _("Approved: the grant is in force."), "refuse": _("Request refused."),
            "withdraw": _("Request withdrawn.")}
    return dispatch(request, handlers, done, reverse("contracts:request", args=[pk]))


# --- agreements ---------------------------------------------------------------------------


@login_required
def agreement_list(request: HttpRequest) -> HttpResponse:
    query = visibility.agreements(request.user)
    heads = [Column(_("Code"), "code"), Column(_("Operator"), "operator"),
             Column(_("Term"), "term"), Column(_("Signatures")), Column(_("State"), "state")]
    return _list(request, query, OperationAgreement.State.choices,
                 "contracts/agreements.html", "agreements", heads,
                 {"code": "code", "operator": "operator__name_zh", "term": "term_end",
                  "state": "state"},
                 can_create=capabilities.reviewing_authority(request.user) is not None)


class AgreementForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=64, required=False,
                           help_text=gettext_lazy("Leave empty to number it automatically."))
    operator = forms.ModelChoiceField(label=gettext_lazy("Authorised operator"),
                                      queryset=Participant.objects.none(), to_field_name="code")
    resources = forms.ModelMultipleChoiceField(label=gettext_lazy("Resources in scope"),
                                               queryset=DataResource.objects.none(),
                                               to_field_name="code")
    scenarios = forms.CharField(label=gettext_lazy("Scenarios and industries"),
                                widget=forms.Textarea(attrs={"rows": 2}))
    security_obligations = forms.CharField(label=gettext_lazy("Security obligations"),
                                           widget=forms.Textarea(attrs={"rows": 3}))
    desensitisation_rules = forms.CharField(label=gettext_lazy("Desensitisation rules"),
                                            widget=forms.Textarea(attrs={"rows": 3}))
    term_start = forms.DateField(label=gettext_lazy("Term starts"), widget=date_input())
    term_end = forms.DateField(label=gettext_lazy("Term ends"), widget=date_input())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field(self, "operator").queryset = Participant.objects.filter(
            kind=Kind.OPERATOR, status="admitted").order_by("code")
        model_field(self, "resources").queryset = DataResource.objects.filter(
            status=ResourceStatus.PUBLISHED).order_by("code")


@login_required
def agreement_new(request: HttpRequest) -> HttpResponse:
    if capabilities.reviewing_authority(request.user) is None:
        raise PermissionDenied(_("The data authority drafts agreements."))
    form = AgreementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        made = run(request, lambda: services.create_agreement(
            by=request.user, resources=list(data.pop("resources")), **data),
            _("Agreement drafted; it awaits both signatures."), form)
        if made:
            return redirect("contracts:agreement", made.code)
    return render(request, "contracts/agreement_form.html", {"section": "agreements",
                                                             "form": form})


def _agreement_actions(request: HttpRequest, obj: OperationAgreement) -> list[Action]:
    sign = (_("Sign as the data authority") if capabilities.reviews_for(
        request.user, obj.authority) else _("Sign as the operator"))
    return buttons(request.user, obj, reverse("contracts:agreement-act", args=[obj.code]), {
        "sign": Button(sign),
        "suspend": Button(_("Suspend"), [reason_field()], "danger"),
        "resume": Button(_("Resume"), [reason_field(required=False)]),
        "terminate": Button(_("Terminate"), [reason_field()], "danger"),
    })


@login_required
@page_view
def agreement_detail(request: HttpRequest, code: str) -> HttpResponse:
    obj = _get(visibility.agreements(request.user), "agreement", code=code)
    held = obj.grants.select_related("resource", "grantee").order_by("pk")
    subjects = [agreements.subject(obj)] + [grants.subject(g) for g in held]
    return render(request, "contracts/agreement_detail.html", {
        "section": "agreements", "obj": obj, "grants": held,
        "resources": obj.resources.order_by("code"), "items": obj.items.select_related(
            "resource"), "terms_sm3": agreements.terms_sm3(obj),
        "actions": _agreement_actions(request, obj), "steps": timeline(subjects),
    })


@login_required
@post_only
@page_view
def agreement_act(request: HttpRequest, code: str) -> HttpResponse:
    obj = _get(visibility.agreements(request.user), "agreement", code=code)
    reason, user = request.POST.get("reason", ""), request.user
    handlers = {
        "sign": lambda: services.sign_agreement(by=user, agreement=obj),
        "suspend": lambda: services.suspend_agreement(by=user, agreement=obj, reason=reason),
        "resume": lambda: services.resume_agreement(by=user, agreement=obj, reason=reason),
        "terminate": lambda: services.terminate_agreement(by=user, agreement=obj,
                                                          reason=reason),
    }
    done = {"sign": _("Signed with your key."), "suspend": _("Agreement suspended."),
            "resume": _("Agreement resumed."), "terminate": _("Agreement terminated.")}
    return dispatch(request, handlers, done, reverse("contracts:agreement", args=[code]))


# --- grants and deliveries ------------------------------------------------------------------


@login_required
def grant_list(request: HttpRequest) -> HttpResponse:
    query = visibility.grants(request.user)
    heads = [Column("#", "id", numeric=True), Column(_("Resource"), "resource"),
             Column(_("Grantee"), "grantee"), Column(_("Valid"), "valid_until"),
             Column(_("From")), Column(_("State"), "state")]
    return _list(request, query, Grant.State.choices, "contracts/grants.html", "requests",
                 heads, {"id": "pk", "resource": "resource__name",
                         "grantee": "grantee__name_zh", "valid_until": "valid_until",
                         "state": "state"})


class DeliveryForm(forms.Form):
    rows = forms.IntegerField(label=gettext_lazy("Rows delivered"), min_value=0)
    data = forms.FileField(label=gettext_lazy("Delivered file"),  # type: ignore[assignment]
                           required=False,
                           help_text=gettext_lazy("Hashed with SM3 here; only the digest is kept."))
    digest = forms.CharField(label=gettext_lazy("…or its SM3 digest"), required=False,
                             max_length=64)

    def __init__(self, *args: Any, grant: Grant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scope = list(grant.items.all()) or list(grant.resource.items.all())
        self.item_names = []
        for item in scope:
            name = f"rule_{item.name}"
            self.item_names.append((name, item.name))
            self.fields[name] = forms.ChoiceField(
                label=_("Desensitisation of %(item)s") % {"item": item.name},
                choices=Desensitisation.choices, initial=item.desensitisation,
                help_text=_("Personal information: only %(rule)s, as the catalogue "
                            "declares.") % {"rule": item.get_desensitisation_display()}
                if item.personal_information else "")

    def rules(self) -> dict[str, str]:
        return {item: self.cleaned_data[name] for name, item in self.item_names}


def _grant_actions(request: HttpRequest, grant: Grant) -> list[Action]:
    return buttons(request.user, grant, reverse("contracts:grant-act", args=[grant.pk]), {
        "revoke": Button(_("Revoke grant"), [reason_field()], "danger")})


def _delivers(request: HttpRequest, grant: Grant) -> bool:
    return bool(capabilities.acts_for(request.user, grant.resource.provider)
                and access.can_manage(request.user, grant.resource)
                and grant.state == Grant.State.ACTIVE)


@login_required
@page_view
def grant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _get(visibility.grants(request.user), "grant", pk=pk)
    form = DeliveryForm(grant=grant)
    if request.method == "POST":
        form = DeliveryForm(request.POST, request.FILES, grant=grant)
        if form.is_valid():
            upload = form.cleaned_data["data"]
            data = read_upload(upload, MAX_DELIVERY)
            digest = form.cleaned_data["digest"].strip() or None
            if run(request, lambda: services.record_delivery(
                    by=request.user, grant=grant, rows=form.cleaned_data["rows"],
                    desensitisation=form.rules(), data=data,
                    digest=None if data is not None else digest,
                    data_name=upload.name if upload is not None else ""),
                    _("Delivery recorded on the ledger."), form):
                encoding = table_encoding(upload.name, data) if upload and data else None
                if encoding:
                    messages.info(request, _("The file was read as %(encoding)s.")
                                  % {"encoding": encoding})
                return redirect("contracts:grant", pk)
    return render(request, "contracts/grant_detail.html", {
        "section": "requests", "grant": grant, "items": grant.items.all(),
        "deliveries": grant.deliveries.all(), "form": form,
        "delivers": _delivers(request, grant), "actions": _grant_actions(request, grant),
        "steps": timeline(_grant_subjects(grant)),
        "near_expiry": deadlines.grant_near_expiry(grant, common.now()),
    })


def _grant_subjects(grant: Grant) -> list[str]:
    """The grant's own entries, and those of the approval or agreement that created it."""
    origin = ""
    if grant.sharing_request is not None:
        origin = sharing.subject(grant.sharing_request)
    elif grant.agreement is not None:
        origin = agreements.subject(grant.agreement)
    return [origin, grants.subject(grant)]


@login_required
@post_only
@page_view
def grant_act(request: HttpRequest, pk: int) -> HttpResponse:
    grant = _get(visibility.grants(request.user), "grant", pk=pk)
    handlers = {"revoke": lambda: services.revoke_grant(by=request.user, grant=grant,
                                                        reason=request.POST.get("reason", ""))}
    return dispatch(request, handlers, {"revoke": _("Grant revoked; its permission is gone.")},
                    reverse("contracts:grant", args=[pk]))


# --- objections -----------------------------------------------------------------------------


@login_required
def objection_list(request: HttpRequest) -> HttpResponse:
    query = visibility.objections(request.user)
    heads = [Column("#", "id", numeric=True), Column(_("Resource"), "resource"),
             Column(_("Ground"), "ground"), Column(_("Filed by")), Column(_("State"), "state"),
             Column(_("Next deadline"), "created")]
    return _list(request, query, Objection.State.choices, "contracts/objections.html",
                 "objections", heads, {"id": "pk", "resource": "resource__name",
                                       "ground": "ground", "state": "state"})


class GrantChoiceField(forms.ModelChoiceField):
    """A grant by its number; its grantee and purpose only for those who may read it."""

    readable: frozenset[int] = frozenset()

    def label_from_instance(self, obj: Any) -> str:
        if obj.pk not in self.readable:
            return f"#{obj.pk}"
        return f"#{obj.pk} {obj.grantee.name_zh} — {obj.purpose[:40]}"


class ObjectionForm(forms.Form):
    resource = forms.ModelChoiceField(label=gettext_lazy("Resource"), to_field_name="code",
                                      queryset=DataResource.objects.none())
    ground = forms.ChoiceField(label=gettext_lazy("Ground"), choices=Objection.Ground.choices)
    grant = GrantChoiceField(
        label=gettext_lazy("Grant objected to"), required=False, queryset=Grant.objects.none(),
        help_text=gettext_lazy("Only for an objection to the legitimacy of an authorisation."))
    description = forms.CharField(label=gettext_lazy("What is wrong"), widget=forms.Textarea)
    contact_name = forms.CharField(label=gettext_lazy("Your name (optional)"), required=False,
                                   max_length=100)
    contact_phone = forms.CharField(
        label=gettext_lazy("Telephone"), required=False, max_length=32,
        help_text=gettext_lazy("A telephone number or an e-mail address lets the provider "
                               "reach you. They are kept in a payload of their own, which you "
                               "may have erased later; the objection stays on record."))
    contact_email = forms.CharField(label=gettext_lazy("E-mail"), required=False,
                                    max_length=254)

    def contact(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(f"contact_{name}", "")
                for name in objections.CONTACT_FIELDS}

    def __init__(self, *args: Any, user: Any, resource: DataResource | None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field(self, "resource").queryset = visibility.resources(user).filter(
            status=ResourceStatus.PUBLISHED).order_by("code")
        if resource is not None:
            field = model_field(self, "grant")
            field.queryset = Grant.objects.filter(resource=resource).select_related(
                "grantee").order_by("-pk")
            if isinstance(field, GrantChoiceField):
                field.readable = frozenset(visibility.grants(user).filter(
                    resource=resource).values_list("pk", flat=True))
        else:
            del self.fields["grant"]


@login_required
def objection_new(request: HttpRequest) -> HttpResponse:
    resource = _resource_param(request)
    form = ObjectionForm(request.POST or None, user=request.user, resource=resource,
                         initial={"resource": resource.code} if resource else {})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        made = run(request, lambda: services.file_objection(
            by=request.user, resource=data["resource"], ground=data["ground"],
            description=data["description"], grant=data.get("grant"),
            contact=form.contact()),
            _("Objection filed on the ledger; the provider must answer it in time."), form)
        if made:
            return redirect("contracts:objection", made.pk)
    return render(request, "contracts/objection_form.html", {
        "section": "objections", "form": form, "resource": resource})


OBJECTION_ACTIONS: list[tuple[str, Any, str, list[tuple[str, Any]]]] = [
    ("accept", gettext_lazy("Accept (受理)"), "", []),
    ("not_accept", gettext_lazy("Do not accept"), "danger", [("reason", gettext_lazy("Reason"))]),
    ("start_verification", gettext_lazy("Start verification"), "", []),
    ("correct", gettext_lazy("Resolve: corrected"), "",
     [("correction", gettext_lazy("Correction record"))]),
    ("uphold", gettext_lazy("Resolve: data is correct"), "",
     [("reason", gettext_lazy("Explanation"))]),
    ("dismiss", gettext_lazy("Dismiss"), "danger", [("reason", gettext_lazy("Reason"))]),
    ("appeal", gettext_lazy("Appeal"), "", [("reason", gettext_lazy("Grounds of appeal"))]),
    ("close", gettext_lazy("Close after re-examination"), "",
     [("outcome", gettext_lazy("Outcome of the re-examination"))]),
]


def _objection_actions(request: HttpRequest, obj: Objection) -> list[Action]:
    looks = {name: Button(str(label), [Field(f, str(lab)) for f, lab in fields], style)
             for name, label, style, fields in OBJECTION_ACTIONS}
    return buttons(request.user, obj, reverse("contracts:objection-act", args=[obj.pk]),
                   looks)


@login_required
@page_view
def objection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _get(visibility.objections(request.user), "objection", pk=pk)
    now = common.now()
    return render(request, "contracts/objection_detail.html", {
        "section": "objections", "obj": obj, "actions": _objection_actions(request, obj),
        "steps": timeline([objections.subject(obj)]),
        "contact": privacy.contact_of(request.user, obj),
        "description_erased": privacy.description_erased(obj),
        "is_filer": obj.filer_id == request.user.pk,
        "accept_overdue": obj.state == Objection.State.FILED
        and deadlines.objection_overdue(obj, now),
        "resolve_overdue": obj.state != Objection.State.FILED
        and deadlines.objection_overdue(obj, now),
    })


@login_required
@post_only
@page_view
def objection_act(request: HttpRequest, pk: int) -> HttpResponse:
    obj = _get(visibility.objections(request.user), "objection", pk=pk)
    p, user = request.POST, request.user
    handlers = {
        "accept": lambda: services.accept_objection(by=user, objection=obj),
        "not_accept": lambda: services.reject_objection(by=user, objection=obj,
                                                        reason=p.get("reason", "")),
        "start_verification": lambda: services.start_verification(by=user, objection=obj),
        "correct": lambda: services.correct_objection(by=user, objection=obj,
                                                      correction=p.get("correction", "")),
        "uphold": lambda: services.uphold_objection(by=user, objection=obj,
                                                    reason=p.get("reason", "")),
        "dismiss": lambda: services.dismiss_objection(by=user, objection=obj,
                                                      reason=p.get("reason", "")),
        "appeal": lambda: services.appeal_objection(by=user, objection=obj,
                                                    reason=p.get("reason", "")),
        "close": lambda: services.close_objection(by=user, objection=obj,
                                                  outcome=p.get("outcome", "")),
    }
    done = {"accept": _("Objection accepted."), "not_accept": _("Objection not accepted."),
            "start_verification": _("Verification started."),
            "correct": _("Resolved as corrected."), "uphold": _("Resolved: data upheld."),
            "dismiss": _("Objection dismissed."), "appeal": _("Appeal filed."),
            "close": _("Objection closed.")}
    return dispatch(request, handlers, done, reverse("contracts:objection", args=[pk]))


# --- orders ---------------------------------------------------------------------------------


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    query = visibility.orders(request.user)
    heads = [Column(_("Order"), "code"), Column(_("Product"), "product"),
             Column(_("Buyer"), "buyer"), Column(_("Seller"), "seller"),
             Column(_("Amount"), "amount", numeric=True), Column(_("State"), "state"),
             Column(_("Placed"), "created")]
    return _list(request, query, Order.State.choices, "contracts/orders.html", "market",
                 heads, {"code": "code", "product": "product__name",
                         "buyer": "buyer__name_zh", "seller": "seller__name_zh",
                         "amount": "amount", "state": "state"})


@login_required
@page_view
def order_new(request: HttpRequest) -> HttpResponse:
    code = request.POST.get("product") or request.GET.get("product", "")
    product = catalog.product(request.user, code)
    if request.method == "POST":
        made = run(request, lambda: services.place_order(by=request.user, product=product),
                   _("Order placed; both parties now sign the contract."))
        if made:
            return redirect("contracts:order", made.code)
    return render(request, "contracts/order_form.html", {
        "section": "market", "product": product,
        "listed": product.status == ProductStatus.LISTED})


def _order_actions(request: HttpRequest, order: Order) -> list[Action]:
    return buttons(request.user, order, reverse("contracts:order-act", args=[order.code]), {
        "sign": Button(_("Sign the contract")),
        "notarise": Button(_("Notarise the contract"), [
            Field("document", _("Notarial certificate (optional)"), False, "file")]),
        "deliver": Button(_("Deliver"), [
            Field("data", _("Delivered file"), False, "file"),
            Field("digest", _("…or its SM3 digest"), False, "text")]),
        "accept": Button(_("Accept delivery")),
        "dispute": Button(_("Dispute delivery"), [reason_field()], "danger"),
        "settle": Button(_("Record settlement"), [
            Field("amount", _("Amount"), True, "text", money_text(order.amount)),
            Field("currency", _("Currency"), True, "text", order.currency)]),
        "close": Button(_("Close")),
        "cancel": Button(_("Cancel order"), [reason_field()], "danger"),
    })


@login_required
@page_view
def order_detail(request: HttpRequest, code: str) -> HttpResponse:
    order = _get(visibility.orders(request.user), "order", code=code)
    return render(request, "contracts/order_detail.html", {
        "section": "market", "order": order, "contract_sm3": orders.contract_sm3(order),
        "contract_text": orders.contract_text(order),

        "actions": _order_actions(request, order), "steps": timeline([orders.subject(order)]),
    })


@login_required
@post_only
@page_view
def order_act(request: HttpRequest, code: str) -> HttpResponse:
    order = _get(visibility.orders(request.user), "order", code=code)
    p, user = request.POST, request.user

    def upload(name: str, limit: int) -> bytes | None:
        return read_upload(request.FILES.get(name), limit)

    def deliver() -> Order:
        data = upload("data", MAX_DELIVERY)
        digest = None if data is not None else (p.get("digest", "").strip() or None)
        return services.deliver_order(by=user, order=order, data=data, digest=digest)

    handlers = {
        "sign": lambda: services.sign_order(by=user, order=order),
        "notarise": lambda: services.notarise_order(by=user, order=order,
                                                    document=upload("document",
                                                                    MAX_DOCUMENT)),
        "deliver": deliver,
        "accept": lambda: services.accept_delivery(by=user, order=order),
        "dispute": lambda: services.dispute_delivery(by=user, order=order,
                                                     reason=p.get("reason", "")),
        "settle": lambda: services.settle_order(by=user, order=order,
                                                amount=p.get("amount", ""),
                                                currency=p.get("currency", "")),
        "close": lambda: services.close_order(by=user, order=order),
        "cancel": lambda: services.cancel_order(by=user, order=order,
                                                reason=p.get("reason", "")),
    }
    done = {"sign": _("Signed with your key."), "notarise": _("Contract notarised."),
            "deliver": _("Delivery recorded (SM3 digest on the ledger)."),
            "accept": _("Delivery accepted."), "dispute": _("Delivery disputed."),
            "settle": _("Settlement recorded."), "close": _("Order closed."),
            "cancel": _("Order cancelled.")}
    return dispatch(request, handlers, done, reverse("contracts:order", args=[code]))


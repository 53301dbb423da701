"""Portal pages of the catalogue: search and filters, resource pages, products."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog import access, quality, selectors, services, versions
from catalog.models import (
    Category,
    DataProduct,
    DataResource,
    Desensitisation,
    Frequency,
    Grade,
    Opening,
    ProductStatus,
    QualityRule,
    ResourceStatus,
    Sharing,
)
from contracts import products
from contracts.selectors import disputed_resources
from kernel.errors import DomainError, InvalidInput
from kernel.uploads import read_upload
from operators import authz, capabilities
from operators.models import Kind
from operators.selectors import participants
from policy import visibility
from portal.pages import (
    Action,
    Button,
    buttons,
    choice_field,
    dispatch,
    model_field,
    page_view,
    paginate,
    post_only,
    reason_field,
    run,
    timeline,
)


def _filter_from(request: HttpRequest) -> selectors.ResourceFilter:
    q = request.GET
    failing = {"1": True, "0": False}.get(q.get("quality_failing", ""))
    return selectors.ResourceFilter(
        text=q.get("q", "").strip(), category=q.get("category", ""), grade=q.get("grade", ""),
        sharing=q.get("sharing", ""), opening=q.get("opening", ""),
        provider=q.get("provider", ""), quality_failing=failing,
    )


def resource_list(request: HttpRequest) -> HttpResponse:
    criteria = _filter_from(request)
    page = Paginator(selectors.search(request.user, criteria), 20).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "catalog/list.html", {
        "section": "catalog", "page": page, "criteria": criteria, "query": query.urlencode(),
        "categories": selectors.categories(), "grades": Grade.choices,
        "sharings": Sharing.choices, "openings": Opening.choices,
        "providers": participants(visibility.participants(request.user), kind="provider"),
        "can_create": authz.has_kind(request.user, Kind.PROVIDER),
        "disputed": _disputed_codes([r.pk for r in page.object_list]),
    })


def _disputed_codes(resource_ids: list[int]) -> set[int]:
    """Which of these resources have an open objection (有异议)."""
    return set(disputed_resources().filter(pk__in=resource_ids).values_list("pk", flat=True))


@page_view
def resource_detail(request: HttpRequest, code: str) -> HttpResponse:
    resource = selectors.resource(request.user, code)
    history = list(selectors.versions_of(resource))
    can_manage = access.can_manage(request.user, resource)
    return render(request, "catalog/detail.html", {
        "section": "catalog", "resource": resource, "versions": history,
        "matches": {v.number: versions.matches_entry(v) for v in history},
        "restricted_visible": visibility.sees_restricted(request.user, resource),
        "can_manage": can_manage,
        "items": resource.items.all(),
        "checks": resource.quality_checks.all()[:5],
        "disputed": bool(_disputed_codes([resource.pk])),
        "actions": resource_actions(request, resource),
        "steps": timeline([versions.subject(resource)]),
        "can_request": capabilities.has_kind(request.user, capabilities.REQUESTER_KINDS),
        "objections": _objections_of(request, resource),
    })


def _objections_of(request: HttpRequest, resource: DataResource) -> list[Any]:
    """The objections about the resource that this user may see."""
    return list(visibility.objections(request.user).filter(resource=resource)
                .order_by("-created")[:10])


# --- resource management (provider managers) ---------------------------------------------

class ResourceForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=64,
                           help_text=gettext_lazy("The catalogue code, e.g. 350100-SCJG-0001."))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200, required=False)
    category = forms.ModelChoiceField(label=gettext_lazy("Category"),
                                      queryset=Category.objects.none(), to_field_name="code")
    description = forms.CharField(label=gettext_lazy("Description"), widget=forms.Textarea,
                                  required=False)
    grade = forms.ChoiceField(label=gettext_lazy("Grade"), choices=Grade.choices)
    sensitivity = forms.TypedChoiceField(label=gettext_lazy("Sensitivity level"), coerce=int,
                                         choices=[(n, f"L{n}") for n in (1, 2, 3, 4)])
    sharing = forms.ChoiceField(label=gettext_lazy("Sharing"), choices=Sharing.choices)
    sharing_basis = forms.CharField(
        label=gettext_lazy("Legal basis"), widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text=gettext_lazy("Required for conditional sharing and for no sharing."))
    opening = forms.ChoiceField(label=gettext_lazy("Opening"), choices=Opening.choices)
    update_frequency = forms.ChoiceField(label=gettext_lazy("Update frequency"),
                                         choices=Frequency.choices)
    source_system = forms.CharField(label=gettext_lazy("Source system"), max_length=200,
                                    required=False)
    data_format = forms.CharField(label=gettext_lazy("Format"), max_length=64, required=False)
    responsible_person = forms.CharField(label=gettext_lazy("Responsible person"), max_length=100,
                                         required=False)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field(self, "category").queryset = selectors.categories()
        if editing:
            del self.fields["code"]
            del self.fields["category"]


class ItemForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Item"), max_length=100, required=False)
    data_type = forms.CharField(label=gettext_lazy("Type"), max_length=32, required=False)
    standard_code = forms.CharField(label=gettext_lazy("Standard"), max_length=64, required=False)
    authoritative = forms.BooleanField(label=gettext_lazy("One source"), required=False)
    sensitivity = forms.TypedChoiceField(label=gettext_lazy("Sensitivity"), coerce=int,
                                         choices=[(n, f"L{n}") for n in (1, 2, 3, 4)])
    personal_information = forms.BooleanField(label=gettext_lazy("Personal"), required=False)
    desensitisation = forms.ChoiceField(label=gettext_lazy("Desensitisation"),
                                        choices=Desensitisation.choices)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=300, required=False)


ItemFormSet = forms.formset_factory(ItemForm, extra=3)


def _items_from(formset: Any) -> list[dict[str, Any]]:
    """The filled rows of the items table; a row without a name is left out."""
    return [dict(f.cleaned_data) for f in formset.forms
            if f.cleaned_data and str(f.cleaned_data.get("name", "")).strip()]


def _save_resource(request: HttpRequest, form: ResourceForm, formset: Any,
                   call: Any, done: str) -> DataResource | None:
    """Call the create/revise service; an item error lands on its row of the table."""
    try:
        resource = call()
    except InvalidInput as exc:
        match = re.match(r"items\[(\d+)\]\.(\w+)", exc.field)
        filled = [f for f in formset.forms
                  if f.cleaned_data and str(f.cleaned_data.get("name", "")).strip()]
        if match and int(match.group(1)) < len(filled):
            row = filled[int(match.group(1))]
            field = match.group(2) if match.group(2) in row.fields else None
            row.add_error(field, exc.reason)
            form.add_error(None, _("Check the data items table: %(reason)s")
                           % {"reason": exc.reason})
        elif exc.field in form.fields:
            form.add_error(exc.field, exc.reason)
        else:
            form.add_error(None, exc.message)
        return None
    except DomainError as exc:
        form.add_error(None, exc.message)
        return None
    messages.success(request, done)
    return resource


@login_required
def resource_new(request: HttpRequest) -> HttpResponse:
    if not authz.has_kind(request.user, Kind.PROVIDER):
        raise PermissionDenied(_("Only provider departments create catalogue entries."))
    form = ResourceForm(request.POST or None)
    formset = ItemFormSet(request.POST or None, prefix="items")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = dict(form.cleaned_data)
        code, category = data.pop("code"), data.pop("category")
        resource = _save_resource(request, form, formset, lambda: services.create_resource(
            by=request.user, code=code, category=category, items=_items_from(formset),
            **data), _("Draft saved. Publish it to put version 1 on the ledger."))
        if resource is not None:
            return redirect("catalog:detail", resource.code)
    return render(request, "catalog/resource_form.html", {
        "section": "catalog", "form": form, "formset": formset, "resource": None,
    })


def _managed(request: HttpRequest, code: str) -> DataResource:
    resource = selectors.resource(request.user, code)
    if not access.can_manage(request.user, resource):
        raise PermissionDenied(_("You do not manage this resource."))
    return resource


@login_required
@page_view
def resource_edit(request: HttpRequest, code: str) -> HttpResponse:
    resource = _managed(request, code)
    initial = {f: getattr(resource, f) for f in services.RESOURCE_FIELDS}
    items = [{f: getattr(i, f) for f in services.ITEM_FIELDS} for i in resource.items.all()]
    form = ResourceForm(request.POST or None, initial=initial, editing=True)
    formset = ItemFormSet(request.POST or None, prefix="items", initial=items)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        done = (_("Revised: a new version is on the ledger.")
                if resource.status == ResourceStatus.PUBLISHED else _("Draft saved."))
        saved = _save_resource(request, form, formset, lambda: services.revise_resource(
            by=request.user, resource=resource, items=_items_from(formset),
            **form.cleaned_data), done)
        if saved is not None:
            return redirect("catalog:detail", saved.code)
    return render(request, "catalog/resource_form.html", {
        "section": "catalog", "form": form, "formset": formset, "resource": resource,
    })


@login_required
@post_only
@page_view
def resource_act(request: HttpRequest, code: str) -> HttpResponse:
    resource = selectors.resource(request.user, code)
    handlers = {
        "publish": lambda: services.publish_resource(by=request.user, resource=resource),
        "withdraw": lambda: services.withdraw_resource(
            by=request.user, resource=resource, reason=request.POST.get("reason", "")),
    }
    done = {"publish": _("Published: the new version is on the ledger."),
            "withdraw": _("Withdrawn from the catalogue.")}
    return dispatch(request, handlers, done, reverse("catalog:detail", args=[code]))


def resource_actions(request: HttpRequest, resource: DataResource) -> list[Action]:
    return buttons(request.user, resource, reverse("catalog:act", args=[resource.code]), {
        "publish": Button(str(gettext_lazy("Publish"))),
        "withdraw": Button(str(gettext_lazy("Withdraw")), [reason_field()], "danger"),
    })


class RuleForm(forms.Form):
    item = forms.ChoiceField(label=gettext_lazy("Data item"))
    check = forms.ChoiceField(label=gettext_lazy("Check"), choices=QualityRule.Check.choices)
    parameters = forms.CharField(
        label=gettext_lazy("Parameters (JSON)"), required=False,
        widget=forms.TextInput(attrs={"placeholder": '{"pattern": "[0-9]{6}"}'}),
        help_text=gettext_lazy('pattern: {"pattern": …}; range: {"min": …, "max": …}; '
                        'enumeration: {"values": […]}'))
    threshold = forms.IntegerField(label=gettext_lazy("Pass rate required (%)"), initial=100)

    def __init__(self, *args: Any, resource: DataResource, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "item").choices = [(i.name, i.name) for i in resource.items.all()]

    def clean_parameters(self) -> Any:
        """Parsed only; the service checks what the rule's parameters must be."""
        text = str(self.cleaned_data.get("parameters") or "").strip()
        if not text:
            return {}
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise forms.ValidationError(_("Not valid JSON.")) from None


class SampleForm(forms.Form):
    sample = forms.FileField(label=gettext_lazy("Sample file"),
                             help_text=gettext_lazy("CSV with a header row, or a JSON array of "
                                             "objects; at most 20 MiB."))


@login_required
@page_view
def resource_quality(request: HttpRequest, code: str) -> HttpResponse:
    resource = _managed(request, code)
    rule_form = RuleForm(resource=resource)
    sample_form = SampleForm()
    if request.method == "POST" and request.POST.get("form") == "rule":
        rule_form = RuleForm(request.POST, resource=resource)
        if rule_form.is_valid() and run(request, lambda: quality.add_rule(
                by=request.user, resource=resource, item_name=rule_form.cleaned_data["item"],
                check=rule_form.cleaned_data["check"],
                parameters=rule_form.cleaned_data["parameters"],
                threshold=rule_form.cleaned_data["threshold"]), _("Rule added."), rule_form):
            return redirect("catalog:quality", code)
    elif request.method == "POST" and request.POST.get("form") == "sample":
        sample_form = SampleForm(request.POST, request.FILES)
        if sample_form.is_valid():
            upload = sample_form.cleaned_data["sample"]
            check = run(request, lambda: quality.run_quality_check(
                by=request.user, resource=resource, sample_name=upload.name,
                sample=read_upload(upload, quality.MAX_SAMPLE) or b""),
                _("Quality check recorded on the ledger."), sample_form)
            if check:
                return redirect("catalog:quality", code)
    return render(request, "catalog/quality.html", {
        "section": "catalog", "resource": resource, "rule_form": rule_form,
        "sample_form": sample_form,
        "rules": QualityRule.objects.filter(item__resource=resource).select_related("item"),
        "checks": resource.quality_checks.all()[:20],
    })


# --- products and the market (挂牌) --------------------------------------------------------

def product_list(request: HttpRequest) -> HttpResponse:
    q = request.GET
    found = selectors.products(request.user).order_by("-updated")
    if q.get("status"):
        found = found.filter(status=q["status"])
    if q.get("q", "").strip():
        text = q["q"].strip()
        found = found.filter(Q(name__icontains=text) | Q(code__icontains=text)
                             | Q(description__icontains=text))
    page, rest = paginate(request, found, 20)
    return render(request, "catalog/products.html", {
        "section": "market", "page": page, "query": rest, "statuses": ProductStatus.choices,
        "f": {"status": q.get("status", ""), "q": q.get("q", "")},
        "can_create": capabilities.has_kind(request.user, capabilities.MARKET_KINDS),
    })


PRODUCT_ACTIONS = {
    "submit": Button(gettext_lazy("Submit for compliance review")),
    "list": Button(gettext_lazy("List (挂牌)")),
    "reject": Button(gettext_lazy("Reject"), [reason_field()], "danger"),
    "delist": Button(gettext_lazy("Delist"), [reason_field()], "danger"),
}


def _product_actions(request: HttpRequest, product: DataProduct) -> list[Action]:
    looks = {name: Button(str(look.label), look.fields, look.style)
             for name, look in PRODUCT_ACTIONS.items()}
    return buttons(request.user, product, reverse("catalog:product-act", args=[product.code]),
                   looks)


class CertificateForm(forms.Form):
    document = forms.FileField(label=gettext_lazy("Document"),
                               help_text=gettext_lazy("Only its SM3 digest goes on the ledger."))
    summary = forms.CharField(label=gettext_lazy("Summary"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


@page_view
def product_detail(request: HttpRequest, code: str) -> HttpResponse:
    product = selectors.product(request.user, code)
    party = capabilities.third_party(request.user)
    form = CertificateForm()
    if request.method == "POST" and party is not None:
        form = CertificateForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["document"]
            if run(request, lambda: products.attach_certificate(
                    by=request.user, product=product, kind=party.service_type,
                    document_name=upload.name,
                    document=read_upload(upload, products.MAX_CERTIFICATE) or b"",
                    summary=form.cleaned_data["summary"]),
                    _("Certificate recorded on the ledger."), form):
                return redirect("catalog:product", code)
    buyer = capabilities.has_kind(request.user, capabilities.MARKET_KINDS) and not \
        authz.is_member(request.user, product.owner)
    return render(request, "catalog/product.html", {
        "section": "market", "product": product,
        "resources": product.resources.select_related("provider"),
        "certificates": product.certificates.select_related("issuer"),
        "actions": _product_actions(request, product),
        "steps": timeline([products.product_subject(product)]),
        "certify": party is not None and party.is_admitted, "form": form,
        "can_order": buyer and product.status == ProductStatus.LISTED,
        "orders": _orders_of(request, product),
    })


def _orders_of(request: HttpRequest, product: DataProduct) -> list[Any]:
    """The orders of the product that this user may see."""
    return list(visibility.orders(request.user).filter(product=product)
                .order_by("-created")[:20])


@login_required
@post_only
@page_view
def product_act(request: HttpRequest, code: str) -> HttpResponse:
    product = selectors.product(request.user, code)
    reason = request.POST.get("reason", "")

    def review(action: str) -> Any:
        return lambda: products.review_product(by=request.user, product=product,
                                               action=action, reason=reason)

    handlers = {"submit": lambda: products.submit_product(by=request.user, product=product),
                "list": review("list"), "reject": review("reject"), "delist": review("delist")}
    done = {"submit": _("Submitted for compliance review."), "list": _("Product listed."),
            "reject": _("Product rejected."), "delist": _("Product delisted.")}
    return dispatch(request, handlers, done, reverse("catalog:product", args=[code]))


class ProductForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=64)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    description = forms.CharField(label=gettext_lazy("Description"), widget=forms.Textarea,
                                  required=False)
    resources = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Built on resources"), queryset=DataResource.objects.none(),
        to_field_name="code", help_text=gettext_lazy("Resources you hold a valid grant for."))
    price = forms.CharField(label=gettext_lazy("Price"), max_length=32,
                            help_text=gettext_lazy("A decimal amount such as 1250.00."))
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, initial="CNY")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field(self, "resources").queryset = visibility.resources(user).filter(
            status=ResourceStatus.PUBLISHED).order_by("code")


@login_required
def product_new(request: HttpRequest) -> HttpResponse:
    if not capabilities.has_kind(request.user, capabilities.MARKET_KINDS):
        raise PermissionDenied(_("Only authorised operators and data merchants make products."))
    form = ProductForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        product = run(request, lambda: products.create_product(
            by=request.user, code=data["code"], name=data["name"],
            resources=list(data["resources"]), price=data["price"],
            currency=data["currency"], description=data["description"]),
            _("Draft product saved. Submit it for compliance review to list it."), form)
        if product:
            return redirect("catalog:product", product.code)
    return render(request, "catalog/product_form.html", {"section": "market", "form": form})

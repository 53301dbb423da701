"""Portal pages of the catalogue: search and filters, resource pages, products."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog import access, quality, selectors, services, versions
from catalog.models import (
    Category,
    DataProduct,
    DataResource,
    DataType,
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
from crypto.canonical import canonical
from crypto.sm3 import sm3_hex
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
    int_or_none,
    model_field,
    page_view,
    paginate,
    post_only,
    reason_field,
    run,
    timeline,
)
from portal.tables import Column, columns, sorted_by


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
    found, chosen = sorted_by(request, selectors.search(request.user, criteria), {
        "code": "code", "name": "name", "provider": "provider__name_zh", "grade": "grade",
        "sharing": "sharing", "opening": "opening", "status": "status"}, "code")
    page = Paginator(found, 20).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "catalog/list.html", {
        "section": "catalog", "page": page, "criteria": criteria, "query": query.urlencode(),
        "categories": selectors.categories(), "grades": Grade.choices,
        "sharings": Sharing.choices, "openings": Opening.choices,
        "providers": participants(visibility.participants(request.user), kind="provider"),
        "can_create": authz.has_kind(request.user, Kind.PROVIDER),
        "disputed": _disputed_codes([r.pk for r in page.object_list]),
        "heads": columns(request, chosen, [
            Column(_("Code"), "code"), Column(_("Name"), "name"),
            Column(_("Provider"), "provider"), Column(_("Grade"), "grade"),
            Column(_("Sharing"), "sharing"), Column(_("Opening"), "opening"),
            Column(_("Status"), "status")]),
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
    data_type = forms.ChoiceField(label=gettext_lazy("Type"), choices=DataType.choices,
                                  initial=DataType.STRING, required=False)
    standard_code = forms.CharField(label=gettext_lazy("Standard"), max_length=64, required=False)
    authoritative = forms.BooleanField(label=gettext_lazy("One source"), required=False)
    sensitivity = forms.TypedChoiceField(label=gettext_lazy("Sensitivity"), coerce=int,
                                         choices=[(n, f"L{n}") for n in (1, 2, 3, 4)])
    personal_information = forms.BooleanField(label=gettext_lazy("Personal"), required=False)
    desensitisation = forms.ChoiceField(label=gettext_lazy("Desensitisation"),
                                        choices=Desensitisation.choices)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=300, required=False)


ItemFormSet = forms.formset_factory(ItemForm, extra=0, can_delete=True)
NO_ITEMS: list[dict[str, Any]] = [{}]  # a new resource starts with one empty row


def _kept(formset: Any) -> list[Any]:
    """The rows of the items table that stay: named and not marked for removal."""
    return [f for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")
            and str(f.cleaned_data.get("name", "")).strip()]


def _items_from(formset: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.cleaned_data.items() if k != "DELETE"}
            for f in _kept(formset)]


def _item_formset(request: HttpRequest, initial: list[dict[str, Any]]) -> Any:
    """The items table; "add a row" posts the table back with one more empty row."""
    if request.method != "POST":
        return ItemFormSet(prefix="items", initial=initial)
    data = request.POST.copy()
    if "add_row" in data:
        total = int(data.get("items-TOTAL_FORMS") or 0)
        data["items-TOTAL_FORMS"] = str(total + 1)
    return ItemFormSet(data, prefix="items", initial=initial)


def _field_labels() -> dict[str, str]:
    """What the resource form calls each field of a version document (for the diff)."""
    labels = {name: str(field.label) for name, field in ItemForm.base_fields.items()}
    labels.update({name: str(field.label) for name, field in ResourceForm.base_fields.items()})
    return labels


def _digest(document: dict[str, Any]) -> str:
    """What a preview showed, so that "publish" publishes exactly that."""
    return sm3_hex(canonical(document))


def _saving(request: HttpRequest) -> bool:
    """A POST that means to save (not one that only adds a row or previews)."""
    return request.method == "POST" and "add_row" not in request.POST


def _save_resource(request: HttpRequest, form: ResourceForm, formset: Any,
                   call: Any, done: str) -> Any:
    """Call the create/revise service; an item error lands on its row of the table."""
    try:
        resource = call()
    except InvalidInput as exc:
        match = re.match(r"items\[(\d+)\]\.(\w+)", exc.field)
        filled = _kept(formset)
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
    if done:
        messages.success(request, done)
    return resource


@login_required
def resource_new(request: HttpRequest) -> HttpResponse:
    if not authz.has_kind(request.user, Kind.PROVIDER):
        raise PermissionDenied(_("Only provider departments create catalogue entries."))
    form = ResourceForm(request.POST or None)
    formset = _item_formset(request, NO_ITEMS)
    if _saving(request) and form.is_valid() and formset.is_valid():
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
    formset = _item_formset(request, items)
    published = resource.status == ResourceStatus.PUBLISHED
    changes, digest = None, ""
    if _saving(request) and form.is_valid() and formset.is_valid():
        def revise() -> Any:
            return services.revise_resource(by=request.user, resource=resource,
                                            items=_items_from(formset), **form.cleaned_data)

        def preview() -> Any:
            return services.preview_revision(by=request.user, resource=resource,
                                             items=_items_from(formset), **form.cleaned_data)

        proposed = _save_resource(request, form, formset, preview, "") if published else None
        previewed = request.POST.get("previewed", "")
        if proposed is not None and ("confirm" not in request.POST
                                     or previewed != _digest(proposed)):
            latest = resource.versions.order_by("-number").first()
            changes = versions.diff(versions.document(latest) if latest else None, proposed)
            digest = _digest(proposed)
            if "confirm" in request.POST:
                messages.warning(request, _("The form changed after the preview: check the "
                                            "changes again before publishing."))
        elif proposed is not None or not published:
            done = (_("Revised: a new version is on the ledger.") if published
                    else _("Draft saved."))
            saved = _save_resource(request, form, formset, revise, done)
            if saved is not None:
                return redirect("catalog:detail", saved.code)
    return render(request, "catalog/resource_form.html", {
        "section": "catalog", "form": form, "formset": formset, "resource": resource,
        "changes": changes, "next_version": resource.version + 1, "previewed": digest,
        "labels": _field_labels(),
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


RULE_HELP = {
    "not_null": gettext_lazy("Every row has a value."),
    "pattern": gettext_lazy("Every value matches a regular expression in full (RE2 syntax)."),
    "range": gettext_lazy("Every value is a number within the bounds (either may be left "
                          "open)."),
    "enumeration": gettext_lazy("Every value is one of the allowed values."),
    "uniqueness": gettext_lazy("No value appears twice."),
    "freshness": gettext_lazy("Dates are no older than the update frequency allows."),
}


class RuleForm(forms.Form):
    """A rule of one check type: the fields its parameters need, nothing else. The form
    only gathers them; ``catalog.rules`` (through the service) decides what is valid."""

    item = forms.ChoiceField(label=gettext_lazy("Data item"))
    threshold = forms.IntegerField(label=gettext_lazy("Pass rate required (%)"), initial=100)
    check_type = ""

    def __init__(self, *args: Any, resource: DataResource, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "item").choices = [(i.name, i.name) for i in resource.items.all()]

    def parameters(self) -> dict[str, Any]:
        return {}

    @classmethod
    def initial_of(cls, rule: QualityRule) -> dict[str, Any]:
        return {"item": rule.item.name, "threshold": rule.threshold}


class PatternRuleForm(RuleForm):
    check_type = "pattern"
    pattern = forms.CharField(label=gettext_lazy("Pattern"), required=False, max_length=600,
                              widget=forms.TextInput(attrs={"placeholder": "[0-9A-Z]{18}",
                                                            "class": "mono"}))

    def parameters(self) -> dict[str, Any]:
        return {"pattern": self.cleaned_data.get("pattern") or ""}

    @classmethod
    def initial_of(cls, rule: QualityRule) -> dict[str, Any]:
        return {**super().initial_of(rule), "pattern": rule.parameters.get("pattern", "")}


def _number(value: Any) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


class RangeRuleForm(RuleForm):
    check_type = "range"
    min = forms.FloatField(label=gettext_lazy("At least"), required=False)
    max = forms.FloatField(label=gettext_lazy("At most"), required=False)

    def parameters(self) -> dict[str, Any]:
        return {name: _number(self.cleaned_data[name]) for name in ("min", "max")
                if self.cleaned_data.get(name) is not None}

    @classmethod
    def initial_of(cls, rule: QualityRule) -> dict[str, Any]:
        return {**super().initial_of(rule), **{k: v for k, v in rule.parameters.items()
                                               if k in ("min", "max")}}


class EnumerationRuleForm(RuleForm):
    check_type = "enumeration"
    values = forms.CharField(label=gettext_lazy("Allowed values, one a line"), required=False,
                             widget=forms.Textarea(attrs={"rows": 4}))

    def parameters(self) -> dict[str, Any]:
        lines = str(self.cleaned_data.get("values") or "").splitlines()
        return {"values": [line.strip() for line in lines if line.strip()]}

    @classmethod
    def initial_of(cls, rule: QualityRule) -> dict[str, Any]:
        return {**super().initial_of(rule),
                "values": "\n".join(rule.parameters.get("values", []))}


class NotNullRuleForm(RuleForm):
    check_type = "not_null"


class UniquenessRuleForm(RuleForm):
    check_type = "uniqueness"


class FreshnessRuleForm(RuleForm):
    check_type = "freshness"


RULE_FORMS: dict[str, type[RuleForm]] = {form.check_type: form for form in (
    NotNullRuleForm, PatternRuleForm, RangeRuleForm, EnumerationRuleForm, UniquenessRuleForm,
    FreshnessRuleForm)}


def rule_form(check: str, resource: DataResource, data: Any = None,
              initial: dict[str, Any] | None = None) -> RuleForm:
    found = RULE_FORMS[check](data, resource=resource, prefix=check, initial=initial)
    found.check_type = check
    return found


def describe(rule: QualityRule) -> str:
    """A rule's parameters as a person reads them."""
    p = rule.parameters or {}
    if rule.rule == QualityRule.Check.PATTERN:
        return _("matches %(pattern)s") % {"pattern": p.get("pattern", "")}
    if rule.rule == QualityRule.Check.RANGE:
        bounds = []
        if "min" in p:
            bounds.append(_("at least %(n)s") % {"n": p["min"]})
        if "max" in p:
            bounds.append(_("at most %(n)s") % {"n": p["max"]})
        return ", ".join(bounds)
    if rule.rule == QualityRule.Check.ENUMERATION:
        return _("one of: %(values)s") % {"values": "、".join(p.get("values", []))}
    return "—"


def _rule_call(request: HttpRequest, form: RuleForm, call: Any, done: str) -> bool:
    """Run a rule service; a parameter's error lands on its field of the rule's form."""
    try:
        call()
    except InvalidInput as exc:
        name = exc.field.removeprefix("parameters.").split("[")[0]
        if name in form.fields:
            form.add_error(name, exc.reason)
        else:
            form.add_error(None, exc.reason if exc.field == "parameters" else exc.message)
        return False
    except DomainError as exc:
        form.add_error(None, exc.message)
        return False
    messages.success(request, done)
    return True


class SampleForm(forms.Form):
    sample = forms.FileField(label=gettext_lazy("Sample file"),
                             help_text=gettext_lazy("CSV with a header row, or a JSON array of "
                                                    "objects; UTF-8, GB18030/GBK or UTF-16; "
                                                    "at most 20 MiB."))


def _quality_post(request: HttpRequest, resource: DataResource,
                  forms_by_check: dict[str, RuleForm], editing: QualityRule | None) -> bool:
    """Handle one POST of the quality page; True when it succeeded (then redirect)."""
    posted = request.POST.get("form", "")
    if posted == "remove":
        return bool(run(request, lambda: quality.remove_rule(
            by=request.user, resource=resource, rule_id=int_or_none(
                request.POST.get("rule")) or 0), _("Rule removed.")))
    check = request.POST.get("check", "")
    if posted != "rule" or check not in RULE_FORMS:
        return False
    form = rule_form(check, resource, request.POST)
    forms_by_check[check] = form
    if not form.is_valid():
        return False
    data = form.cleaned_data
    if editing is not None:
        return _rule_call(request, form, lambda: quality.update_rule(
            by=request.user, resource=resource, rule_id=editing.pk, item_name=data["item"],
            check=check, parameters=form.parameters(), threshold=data["threshold"]),
            _("Rule changed."))
    return _rule_call(request, form, lambda: quality.add_rule(
        by=request.user, resource=resource, item_name=data["item"], check=check,
        parameters=form.parameters(), threshold=data["threshold"]), _("Rule added."))


@login_required
@page_view
def resource_quality(request: HttpRequest, code: str) -> HttpResponse:
    resource = _managed(request, code)
    rules = QualityRule.objects.filter(item__resource=resource).select_related("item")
    editing = rules.filter(pk=int_or_none(request.GET.get("edit")) or 0).first()
    forms_by_check = {check: rule_form(check, resource) for check in RULE_FORMS}
    if editing is not None:
        forms_by_check = {editing.rule: rule_form(editing.rule, resource, initial=RULE_FORMS[
            editing.rule].initial_of(editing))}
    sample_form = SampleForm()
    if request.method == "POST" and request.POST.get("form") == "sample":
        sample_form = SampleForm(request.POST, request.FILES)
        if sample_form.is_valid():
            upload = sample_form.cleaned_data["sample"]
            check = run(request, lambda: quality.run_quality_check(
                by=request.user, resource=resource, sample_name=upload.name,
                sample=read_upload(upload, quality.MAX_SAMPLE) or b""),
                _("Quality check recorded on the ledger."), sample_form)
            if check:
                messages.info(request, _("The sample was read as %(encoding)s.")
                              % {"encoding": check.sample_encoding})
                return redirect("catalog:quality", code)
    elif request.method == "POST" and _quality_post(request, resource, forms_by_check,
                                                    editing):
        return redirect("catalog:quality", code)
    labels = dict(QualityRule.Check.choices)
    return render(request, "catalog/quality.html", {
        "section": "catalog", "resource": resource, "sample_form": sample_form,
        "rule_forms": [{"check": check, "label": labels[check], "help": RULE_HELP[check],
                        "form": form} for check, form in forms_by_check.items()],
        "editing": editing,
        "rules": [{"rule": r, "text": describe(r)} for r in rules.order_by("item_id", "id")],
        "checks": resource.quality_checks.all()[:20],
        "check_labels": labels,
    })


# --- products and the market (挂牌) --------------------------------------------------------

def product_list(request: HttpRequest) -> HttpResponse:
    q = request.GET
    found = selectors.products(request.user)
    if q.get("status"):
        found = found.filter(status=q["status"])
    if q.get("q", "").strip():
        text = q["q"].strip()
        found = found.filter(Q(name__icontains=text) | Q(code__icontains=text)
                             | Q(description__icontains=text))
    found, chosen = sorted_by(request, found, {
        "code": "code", "name": "name", "owner": "owner__name_zh", "price": "price",
        "status": "status", "updated": "updated"}, "-updated")
    page, rest = paginate(request, found, 20)
    return render(request, "catalog/products.html", {
        "heads": columns(request, chosen, [
            Column(_("Code"), "code"), Column(_("Product"), "name"),
            Column(_("Owner"), "owner"), Column(_("Price"), "price", numeric=True),
            Column(_("Status"), "status")]),
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
    if not products.is_certified(product):
        looks["list"] = Button(str(PRODUCT_ACTIONS["list"].label), [reason_field(
            _("No compliance certificate yet: why list it now?"))])
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
        "certified": products.is_certified(product),
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


@page_view
def resource_version(request: HttpRequest, code: str, number: int) -> HttpResponse:
    """One published version, as it was: its document (when the reader may read it), what it
    changed from the version before, and its ledger entry."""
    resource = selectors.resource(request.user, code)
    version = resource.versions.filter(number=number).first()
    if version is None:
        raise Http404(_("resource %(code)s has no version %(n)s") % {"code": code, "n": number})
    readable = visibility.reads_version_content(request.user, resource, version.entry_seq)
    document = versions.document(version) if readable else None
    before = resource.versions.filter(number=number - 1).first()
    changes = (versions.diff(versions.document(before) if before else None, document)
               if document is not None else [])
    return render(request, "catalog/version.html", {
        "section": "catalog", "resource": resource, "version": version, "document": document,
        "changes": changes, "previous": before, "matches": versions.matches_entry(version),
        "later": resource.versions.filter(number=number + 1).first(),
        "labels": _field_labels(),
        "categories": dict(Category.objects.values_list("code", "name")),
    })

"""The auditor's page (verification with progress, attestations, bundle download) and the
regulator's dashboard (volume, states, overdue items, anomalies; charts and CSV)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit import selectors, services
from audit.models import Verification
from contracts import deadlines
from contracts.models import Objection, SharingRequest
from crypto.canonical import parse
from kernel.errors import DomainError, InvalidInput
from kernel.spreadsheet import csv_text
from kernel.times import local
from ledger import selectors as ledger
from operators import authz, capabilities
from operators.models import Participant
from policy.visibility import PayloadPolicy
from portal import vocabulary
from portal.pages import date_input, paginate, person, run
from portal.tables import Column, columns, sorted_by

AUDIT_KINDS = capabilities.AUDIT_KINDS
REGULATOR_KINDS = capabilities.REGULATOR_KINDS


def _require(request: HttpRequest, kinds: Iterable[str], message: str) -> None:
    if not authz.has_kind(request.user, *kinds):
        raise PermissionDenied(message)


class RangeForm(forms.Form):
    first = forms.IntegerField(label=gettext_lazy("From seq"), min_value=0, required=False)
    last = forms.IntegerField(label=gettext_lazy("To seq"), min_value=0, required=False,
                              help_text=gettext_lazy("Empty: the whole ledger."))


@login_required
def auditor(request: HttpRequest) -> HttpResponse:
    _require(request, AUDIT_KINDS, _("The audit page is for auditors, regulators and the "
                                     "data authority."))
    form = RangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        started = run(request, lambda: services.start_verification(
            by=person(request), first=data["first"], last=data["last"]),
            _("Verification started."), form)
        if started:
            return redirect(f"{request.path}?run={started.pk}")
    current = None
    if request.GET.get("run", "").isdigit():
        current = Verification.objects.filter(pk=int(request.GET["run"])).first()
    rows = []
    for entry in selectors.attestations()[:20]:
        payload = parse(entry.payload_row.data) if hasattr(entry, "payload_row") else {}
        rows.append({"entry": entry, "payload": payload})
    return render(request, "audit/auditor.html", {
        "section": "audit", "form": form, "current": current, "attestations": rows,
        "runs": Verification.objects.order_by("-created")[:10],
        "status": ledger.status(), "bundle_form": RangeForm(prefix="bundle"),
    })


@login_required
def run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment an htmx poll refreshes until the run ends."""
    _require(request, AUDIT_KINDS, _("Not allowed."))
    found = get_object_or_404(Verification, pk=pk)
    return render(request, "audit/_run.html", {"run": found})


@login_required
def bundle(request: HttpRequest) -> HttpResponseBase:
    """Download an audit bundle (ZIP) with every payload this reader may see."""
    _require(request, AUDIT_KINDS, _("Bundles are for auditors, regulators and the data "
                                     "authority."))
    form = RangeForm(request.GET, prefix="bundle")
    if not form.is_valid():
        raise PermissionDenied(_("Bad range."))
    try:
        reader = services.bundle_reader(by=person(request))
        buffer = io.BytesIO()
        services.export_bundle(buffer, first=form.cleaned_data["first"],
                                          last=form.cleaned_data["last"], as_code=reader)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect("audit:auditor")
    except DomainError as exc:
        raise PermissionDenied(exc.message) from None
    buffer.seek(0)
    name = "bundle.zip"  # what the README calls it
    return FileResponse(buffer, as_attachment=True, filename=name,
                        content_type="application/zip")


# --- the regulator's dashboard ---------------------------------------------------------------


@dataclass
class Table:
    """One table of the dashboard, also downloadable as CSV; ``link`` gives the page each
    row is about (rows are links); ``alert`` says whether its rows call for the regulator's
    attention (default: any row)."""

    name: str
    title: str
    headers: list[str]
    rows: Callable[[], list[list[Any]]]
    link: Callable[[list[Any]], str] = lambda row: ""
    numeric: tuple[int, ...] = ()
    alert: Callable[[list[list[Any]]], bool] = bool


def _local(moment: Any) -> str:
    return local(moment)


def _to(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _tables(who: Any) -> dict[str, Table]:
    """The dashboard's tables over what ``who`` may see (``policy.visibility``)."""
    def overdue_requests() -> list[list[Any]]:
        found = selectors.overdue_requests(who).select_related("requester", "resource__provider")
        return [[r.pk, r.resource.code, r.requester.name_zh, r.resource.provider.name_zh,
                 _local(r.due), _local(r.escalated_at)] for r in found]

    def overdue_objections() -> list[list[Any]]:
        return [[o.pk, o.resource.code, o.resource.provider.name_zh, o.get_state_display(),
                 _local(o.accept_due if o.state == Objection.State.FILED else o.resolve_due),
                 _local(o.escalated_at)] for o in selectors.overdue_objections(who)]

    def erasures() -> list[list[Any]]:
        moment = timezone.now()
        return [[r.pk, r.controller.name_zh, r.get_ground_display(), r.targets.count(),
                 r.get_state_display(), _local(r.due),
                 _("overdue") if deadlines.erasure_overdue(r, moment) else "",
                 _local(r.escalated_at)] for r in selectors.open_erasures(who)]

    def near_expiry() -> list[list[Any]]:
        return [[d.pk, d.grant_id, d.grant.resource.code, d.grant.grantee.name_zh,
                 _local(d.delivered), _local(d.grant.valid_until), d.rows]
                for d in selectors.deliveries_near_expiry(who)]

    def refusals() -> list[list[Any]]:
        return [[r["requester__code"], r["requester__name_zh"], r["refusals"],
                 r["providers"]] for r in selectors.repeated_refusals(who)]

    def unsettled() -> list[list[Any]]:
        return [[c.size, c.root, _local(c.created), c.cosignatures.count(), ledger.witness_k()]
                for c in ledger.unsettled_checkpoints()]

    def split_views() -> list[list[Any]]:
        return [[e.witness, e.checkpoint_size, e.kind, e.reason, _local(e.created)]
                for e in ledger.split_view_evidence()]

    def turnover() -> list[list[Any]]:
        names = dict(Participant.objects.values_list("code", "name_zh"))
        return [[row["seller__code"], names.get(row["seller__code"], ""), row["currency"],
                 row["orders"], f"{row['total']:.2f}"]
                for row in selectors.order_totals(who, by="seller")]

    return {t.name: t for t in [
        Table("overdue-requests", str(gettext_lazy("Overdue sharing requests")),
              [_("Request"), _("Resource"), _("Requester"), _("Provider"), _("Due"),
               _("Escalated")], overdue_requests,
              lambda row: _to("contracts:request", row[0])),
        Table("overdue-objections", str(gettext_lazy("Overdue or escalated objections")),
              [_("Objection"), _("Resource"), _("Provider"), _("State"), _("Due"),
               _("Escalated")], overdue_objections,
              lambda row: _to("contracts:objection", row[0])),
        Table("erasures", str(gettext_lazy("Erasure requests awaiting a decision")),
              [_("Request"), _("Controller"), _("Ground for erasure"), _("Payloads"), _("State"),
               _("Due"), _("Overdue"), _("Escalated")], erasures,
              lambda row: _to("privacy:erasure", row[0]), numeric=(3,),
              alert=lambda rows: any(row[6] for row in rows)),
        Table("near-expiry", str(gettext_lazy("Deliveries within 3 days of grant expiry")),
              [_("Delivery"), _("Grant"), _("Resource"), _("Grantee"), _("Delivered"),
               _("Grant ends"), _("Rows")], near_expiry,
              lambda row: _to("contracts:grant", row[1]), numeric=(6,)),
        Table("refusals", str(gettext_lazy("Repeated refusals (3 or more to one requester)")),
              [_("Requester code"), _("Requester"), _("Refusals"), _("Providers")], refusals,
              lambda row: _to("operators:detail", row[0]), numeric=(2, 3)),
        Table("unsettled", str(gettext_lazy("Unsettled checkpoints older than the threshold")),
              [_("Size"), _("Root"), _("Sealed"), _("Cosignatures"), _("Needed (k)")],
              unsettled, lambda row: _to("ledger:checkpoints"), numeric=(0, 3, 4)),
        Table("split-view", str(gettext_lazy("Witness split-view evidence")),
              [_("Witness"), _("Checkpoint size"), _("Kind"), _("Reason"), _("Reported")],
              split_views, lambda row: _to("ledger:checkpoints"), numeric=(1,)),
        Table("turnover", str(gettext_lazy("Settled turnover by seller")),
              [_("Seller code"), _("Seller"), _("Currency"), _("Orders"), _("Total")],
              turnover, lambda row: _to("operators:detail", row[0]), numeric=(3, 4),
              alert=lambda rows: False),
    ]}


def _charts(who: Any, since_day: date, today: date) -> dict[str, Any]:
    since = timezone.make_aware(datetime.combine(since_day, time.min))
    until = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    deliveries = selectors.daily_series(selectors.deliveries_per_day(who, since).filter(
        delivered__lt=until), since_day, today, "deliveries", "rows")
    orders = selectors.daily_series(selectors.orders_per_day(who, since).filter(
        created__lt=until), since_day, today, "orders")
    settled = selectors.daily_series(selectors.settlements_per_day(who, since).filter(
        currency="CNY", settled_at__lt=until), since_day, today, "settled", "amount")
    requests = selectors.by_state(who, SharingRequest)
    objections = selectors.by_state(who, Objection)
    return {
        "volume": {
            "title": _("Exchange volume per day"), "x": _("Day"), "y": _("Count"),
            "labels": deliveries["days"],
            "series": [{"label": _("Deliveries"), "data": deliveries["deliveries"]},
                       {"label": _("Orders placed"), "data": orders["orders"]}],
        },
        "transactions": {
            "title": _("Settled transactions per day (CNY)"), "x": _("Day"),
            "y": _("Amount (CNY)"), "labels": settled["days"],
            "series": [{"label": _("Settled amount"),
                        "data": [float(v) for v in settled["amount"]]}],
        },
        "requests": {
            "title": _("Sharing requests by state"), "x": _("State"), "y": _("Requests"),
            "labels": [str(label) for value, label in SharingRequest.State.choices],
            "series": [{"label": _("Requests"), "data": [
                requests.get(value, 0) for value, _label in SharingRequest.State.choices]}],
        },
        "objections": {
            "title": _("Objections by state"), "x": _("State"), "y": _("Objections"),
            "labels": [str(label) for value, label in Objection.State.choices],
            "series": [{"label": _("Objections"), "data": [
                objections.get(value, 0) for value, _label in Objection.State.choices]}],
        },
    }


DEFAULT_DAYS = 30
MAX_DAYS = 366


class PeriodForm(forms.Form):
    """The dashboard's date range (Asia/Shanghai days, both included)."""

    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=date_input())
    until = forms.DateField(label=gettext_lazy("Until"), required=False, widget=date_input())

    def period(self) -> tuple[date, date]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        until = data.get("until") or today
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        return since, until

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("is before the start of the period"))
        elif since and until and (until - since).days >= MAX_DAYS:
            self.add_error("until", _("the period is at most %(n)s days") % {"n": MAX_DAYS})
        return data


@login_required
def regulator(request: HttpRequest) -> HttpResponse:
    _require(request, REGULATOR_KINDS, _("The dashboard is for regulators and the data "
                                         "authority."))
    period = PeriodForm(request.GET or None)
    since, until = period.period()
    if not period.is_bound:
        period = PeriodForm(initial={"since": since, "until": until})
    tables: list[dict[str, Any]] = []
    for table in _tables(request.user).values():
        rows = table.rows()
        tables.append({"table": table, "alerting": table.alert(rows), "rows": [
            {"cells": [{"value": cell, "numeric": n in table.numeric}
                       for n, cell in enumerate(row)], "url": table.link(row)}
            for row in rows]})
    return render(request, "audit/regulator.html", {
        "section": "regulator", "totals": selectors.totals(request.user), "tables": tables,
        "charts": _charts(request.user, since, until), "period": period, "since": since,
        "until": until, "days": (until - since).days + 1, "status": ledger.status(),
        "alerts": sum(1 for t in tables if t["alerting"]),
    })


class ExchangeFilter(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What"), required=False, choices=[
        ("", gettext_lazy("Deliveries and orders")), ("delivery", gettext_lazy("Deliveries")),
        ("order", gettext_lazy("Order events"))])
    participant = forms.ModelChoiceField(label=gettext_lazy("Participant"), required=False,
                                         queryset=Participant.objects.none(),
                                         to_field_name="code")
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=date_input())
    until = forms.DateField(label=gettext_lazy("Until"), required=False, widget=date_input())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = self.fields["participant"]
        assert isinstance(found, forms.ModelChoiceField)
        found.queryset = Participant.objects.order_by("name_zh")


@dataclass(frozen=True)
class ExchangeRow:
    entry: Any
    label: Any
    actor_name: str
    subject_url: str
    payload: dict[str, Any] | None


@login_required
def exchange_log(request: HttpRequest) -> HttpResponse:
    """The exchange log (deliveries and order events on the ledger) as the regulator's API
    serves it, as a page: filterable, sortable, each row a link to its entry."""
    _require(request, AUDIT_KINDS, _("The exchange log is for regulators, auditors and the "
                                     "data authority."))
    form = ExchangeFilter(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}

    def day_start(day: date | None, plus: int = 0) -> datetime | None:
        return None if day is None else timezone.make_aware(
            datetime.combine(day + timedelta(days=plus), time.min))

    query = selectors.exchange_log(kind=data.get("kind", ""), since=day_start(
        data.get("since")), until=day_start(data.get("until"), 1),
        participant=data.get("participant"))
    query, chosen = sorted_by(request, query, {"seq": "seq", "kind": "kind"}, "-seq")
    page, rest = paginate(request, query, 30)
    shown = list(page.object_list)
    names = vocabulary.names(e.actor for e in shown)
    policy = PayloadPolicy(request.user)
    rows = []
    for e in shown:
        readable = hasattr(e, "payload_row") and policy.readable(
            kind=e.kind, actor=e.actor, subject=e.subject, restricted=e.payload_row.restricted)
        payload = parse(e.payload_row.data) if readable and e.payload_row.data else None
        rows.append(ExchangeRow(e, vocabulary.kind_label(e.kind), names.get(e.actor, ""),
                                vocabulary.subject_url(e.subject),
                                payload if isinstance(payload, dict) else None))
    heads = columns(request, chosen, [
        Column(_("Seq"), "seq", numeric=True), Column(_("Recorded")),
        Column(_("What happened"), "kind"), Column(_("Actor")), Column(_("About")),
        Column(_("Rows / amount"), numeric=True)])
    return render(request, "audit/exchange_log.html", {
        "section": "regulator", "form": form, "rows": rows, "page": page, "query": rest,
        "heads": heads,
    })


@login_required
def regulator_csv(request: HttpRequest, name: str) -> HttpResponse:
    _require(request, REGULATOR_KINDS, _("Not allowed."))
    table = _tables(request.user).get(name)
    if table is None:
        raise Http404(name)
    response = HttpResponse(csv_text(table.headers, table.rows()),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shulian-{name}.csv"'
    return response


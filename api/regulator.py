"""REST API of the regulator's views: workflow states and totals, overdue and escalated items,
anomalies and the exchange log. For regulators, auditors and the data authority (403 for
anyone else, 401 without credentials)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiListView, ApiView
from audit import selectors
from contracts import deadlines
from contracts.models import Grant, Objection, OperationAgreement, Order, SharingRequest
from crypto.canonical import parse
from kernel.api import errors, order_by, orderings
from kernel.errors import InvalidInput
from ledger import selectors as ledger
from ledger.models import Entry
from operators import authz
from operators.capabilities import AUDIT_KINDS
from operators.models import Participant
from policy.visibility import PayloadPolicy


def regulator(request: Request) -> Participant:
    return authz.acting_for(request.user, kinds=AUDIT_KINDS)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


_COUNTS = serializers.DictField(child=serializers.IntegerField(),
                                help_text="state -> count")
SUMMARY = inline_serializer("RegulatorSummary", {
    "sharing_requests": _COUNTS, "objections": _COUNTS, "orders": _COUNTS,
    "agreements": _COUNTS, "grants": _COUNTS,
    "totals": inline_serializer("RegulatorTotals", {
        "deliveries": serializers.IntegerField(), "rows": serializers.IntegerField(),
        "orders": serializers.IntegerField(), "open_objections": serializers.IntegerField(),
        "pending_requests": serializers.IntegerField(),
        "settled": inline_serializer("SettledTotal", {
            "currency": serializers.CharField(), "orders": serializers.IntegerField(),
            "amount": serializers.CharField()}, many=True),
    }),
})


class SummaryView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="regulator_summary",
                   summary="Requests, objections, orders, agreements and grants by state; "
                           "totals",
                   responses={200: SUMMARY, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        regulator(request)
        totals = selectors.totals(request.user)
        totals["settled"] = [{"currency": row["currency"], "orders": row["n"],
                              "amount": _money(row["amount"])} for row in totals["settled"]]
        return Response({
            "sharing_requests": selectors.by_state(request.user, SharingRequest),
            "objections": selectors.by_state(request.user, Objection),
            "orders": selectors.by_state(request.user, Order),
            "agreements": selectors.by_state(request.user, OperationAgreement),
            "grants": selectors.by_state(request.user, Grant), "totals": totals,
        })


_OVERDUE_ROW: dict[str, serializers.Field[Any, Any, Any, Any]] = {
    "id": serializers.IntegerField(), "resource": serializers.CharField(),
    "provider": serializers.CharField(), "state": serializers.CharField(),
    "due": serializers.DateTimeField(allow_null=True),
    "escalated_at": serializers.DateTimeField(allow_null=True),
}
OVERDUE = inline_serializer("RegulatorOverdue", {
    "sharing_requests": inline_serializer("OverdueRequest", {
        **_OVERDUE_ROW, "requester": serializers.CharField()}, many=True),
    "objections": inline_serializer("OverdueObjection", _OVERDUE_ROW, many=True),
})


class OverdueView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="regulator_overdue",
                   summary="Overdue or escalated sharing requests and objections",
                   responses={200: OVERDUE, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        regulator(request)
        requests = selectors.overdue_or_escalated_requests(request.user)
        requests = requests.select_related("resource__provider", "requester").order_by("due",
                                                                                     "pk")
        return Response({
            "sharing_requests": [
                {"id": r.pk, "resource": r.resource.code, "provider": r.resource.provider.code,
                 "requester": r.requester.code, "state": r.state, "due": r.due,
                 "escalated_at": r.escalated_at} for r in requests[:500]],
            "objections": [
                {"id": o.pk, "resource": o.resource.code, "provider": o.resource.provider.code,
                 "state": o.state,
                 "due": o.accept_due if o.state == Objection.State.FILED else o.resolve_due,
                 "escalated_at": o.escalated_at}
                for o in selectors.overdue_objections(request.user)[:500]],
        })


ERASURES = inline_serializer("RegulatorErasure", {
    "id": serializers.IntegerField(), "controller": serializers.CharField(),
    "ground": serializers.CharField(), "state": serializers.CharField(),
    "payloads": serializers.IntegerField(), "due": serializers.DateTimeField(),
    "overdue": serializers.BooleanField(),
    "escalated_at": serializers.DateTimeField(allow_null=True)}, many=True)


class ErasuresView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="regulator_erasures",
                   summary="Erasure requests awaiting a decision or a re-examination, with "
                           "their deadlines (soonest first)",
                   responses={200: ERASURES, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        regulator(request)
        moment, when = timezone.now(), serializers.DateTimeField()  # Asia/Shanghai
        return Response([
            {"id": r.pk, "controller": r.controller.code, "ground": r.ground,
             "state": r.state, "payloads": r.targets.count(), "due": when.to_representation(r.due),
             "overdue": deadlines.erasure_overdue(r, moment),
             "escalated_at": when.to_representation(r.escalated_at) if r.escalated_at else None}
            for r in selectors.open_erasures(request.user)[:500]])


ANOMALIES = inline_serializer("RegulatorAnomalies", {
    "deliveries_near_expiry": inline_serializer("NearExpiryDelivery", {
        "delivery": serializers.IntegerField(), "grant": serializers.IntegerField(),
        "resource": serializers.CharField(), "grantee": serializers.CharField(),
        "delivered": serializers.DateTimeField(),
        "grant_valid_until": serializers.DateTimeField(),
        "rows": serializers.IntegerField()}, many=True),
    "repeated_refusals": inline_serializer("RepeatedRefusal", {
        "requester": serializers.CharField(), "name": serializers.CharField(),
        "refusals": serializers.IntegerField(), "providers": serializers.IntegerField()},
        many=True),
    "unsettled_checkpoints": inline_serializer("UnsettledCheckpoint", {
        "size": serializers.IntegerField(), "root": serializers.CharField(),
        "sealed": serializers.DateTimeField(), "cosignatures": serializers.IntegerField(),
        "needed": serializers.IntegerField()}, many=True),
    "split_views": inline_serializer("SplitViewEvidence", {
        "witness": serializers.CharField(), "checkpoint_size": serializers.IntegerField(),
        "kind": serializers.CharField(), "reason": serializers.CharField(),
        "reported": serializers.DateTimeField()}, many=True),
})


class AnomaliesView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="regulator_anomalies",
                   summary="Deliveries near grant expiry, repeated refusals, unsettled "
                           "checkpoints and witness split-view evidence",
                   responses={200: ANOMALIES, **errors(401, 403)})
    def get(self, request: Request) -> Response:
        regulator(request)
        k = ledger.witness_k()
        return Response({
            "deliveries_near_expiry": [
                {"delivery": d.pk, "grant": d.grant_id, "resource": d.grant.resource.code,
                 "grantee": d.grant.grantee.code, "delivered": d.delivered,
                 "grant_valid_until": d.grant.valid_until, "rows": d.rows}
                for d in selectors.deliveries_near_expiry(request.user)[:500]],
            "repeated_refusals": [
                {"requester": r["requester__code"], "name": r["requester__name_zh"],
                 "refusals": r["refusals"], "providers": r["providers"]}
                for r in selectors.repeated_refusals(request.user)[:500]],
            "unsettled_checkpoints": [
                {"size": c.size, "root": c.root, "sealed": c.created,
                 "cosignatures": cast(Any, c).cosigner_count, "needed": k}
                for c in ledger.unsettled_checkpoints()[:500]],
            "split_views": [
                {"witness": e.witness, "checkpoint_size": e.checkpoint_size, "kind": e.kind,
                 "reason": e.reason, "reported": e.created}
                for e in ledger.split_view_evidence()[:500]],
        })


class ExchangeQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="recorded at or after")
    until = serializers.DateTimeField(required=False, help_text="recorded before")
    participant = serializers.CharField(required=False, max_length=32,
                                        help_text="a party: seller, buyer, provider or "
                                                  "grantee (USCC)")
    kind = serializers.ChoiceField(["delivery", "order"], required=False, allow_blank=True)
    ordering = serializers.ChoiceField(orderings("seq"), required=False,
                                       help_text="default: newest first")


class ExchangeEventSerializer(serializers.ModelSerializer):
    payload = serializers.SerializerMethodField()

    class Meta:
        model = Entry
        fields = ["seq", "kind", "actor", "subject", "leaf_hash", "statement_time",
                  "recorded", "payload"]

    def get_payload(self, entry: Entry) -> dict[str, Any] | None:
        """The entry's payload, when the visibility policy lets you read it (regulators
        and the data authority read every payload)."""
        policy = self.context.get("payloads")
        restricted = getattr(getattr(entry, "payload_row", None), "restricted", False)
        if policy is None or not policy.readable(kind=entry.kind, actor=entry.actor,
                                                 subject=entry.subject,
                                                 restricted=restricted):
            return None
        try:
            value = parse(entry.payload_row.data.encode())
        except Exception:  # noqa: BLE001 - a missing or odd payload is shown as none
            return None
        return value if isinstance(value, dict) else None


class ExchangeLogView(ApiListView):
    """Deliveries and order events as recorded on the ledger, newest first."""

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(),
                "payloads": PayloadPolicy(self.request.user)}

    serializer_class = ExchangeEventSerializer
    query_serializer = ExchangeQuery
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[Entry]:
        regulator(self.request)
        query = self.query()
        party = None
        if query.get("participant"):
            code = query["participant"].upper()
            party = Participant.objects.filter(code=code).first()
            if party is None:
                raise InvalidInput("participant", _("no participant %(code)s"), code=code)
        found = selectors.exchange_log(kind=query.get("kind", ""), since=query.get("since"),
                                       until=query.get("until"), participant=party)
        return order_by(found, query.get("ordering"), {"seq": "seq"}, "-seq")

    @extend_schema(operation_id="regulator_exchange_log", parameters=[ExchangeQuery],
                   responses={200: ExchangeEventSerializer(many=True),
                              **errors(400, 401, 403)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


"""REST API of the workflows: sharing requests, operation agreements, grants and deliveries,
objections and orders.

Every transition is its own endpoint calling one service (never a PATCH of ``state``); a
write answers with the object and the ledger entry it appended. Objects the user may not
see answer 404 as if missing; an action the user may not take 403; an action illegal from
the current state 409, and nothing changes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import (
    AS_PARTICIPANT,
    WRITE_ERRORS,
    ApiListView,
    ApiView,
    EntryRefSerializer,
    Input,
    MoneyField,
    acting_participant,
    entry_ref,
    latest_entry,
    permit,
    with_actions,
)
from catalog.models import DataItem, DataProduct, DataResource
from contracts import agreements, grants, objections, orders, services, sharing
from contracts.deliveries import MAX_DELIVERY, MAX_DOCUMENT
from contracts.models import (
    Delivery,
    Grant,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from kernel.api import errors, order_by, orderings
from kernel.drf import JSONParser, MultiPartParser
from kernel.errors import InvalidInput
from kernel.uploads import read_upload
from ledger import services as ledger
from ledger.models import Entry
from operators.models import Participant
from policy import visibility

MAX_ID = 2**63 - 1

# --- helpers -------------------------------------------------------------------------------


def by_id(query: QuerySet[Any], pk: Any, what: str) -> Any:
    """The object with id ``pk`` among those visible; NotFound for any other (or a bad id)."""
    try:
        number = int(pk)
    except (TypeError, ValueError):
        number = -1
    found = query.filter(pk=number).first() if 0 < number <= MAX_ID else None
    if found is None:
        raise visibility.not_found(what, pk)
    return found


def by_code(query: QuerySet[Any], code: str, what: str) -> Any:
    found = query.filter(code=code).first()
    if found is None:
        raise visibility.not_found(what, code)
    return found


def participant_field(code: str | None, field: str) -> Participant | None:
    if not code:
        return None
    found = Participant.objects.filter(code=code.upper()).first()
    if found is None:
        raise InvalidInput(field, _("no participant %(code)s"), code=code)
    return found


def resource_field(user: Any, code: str, field: str = "resource") -> DataResource:
    found = visibility.resources(user).filter(code=code).first()
    if found is None:
        raise InvalidInput(field, _("no resource %(code)s"), code=code)
    return found


def with_entry(serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``serializer`` plus the ledger entry a write appended (its own OpenAPI component)."""
    name = serializer.__name__.replace("Serializer", "WrittenSerializer")
    parent: Any = serializer.Meta  # type: ignore[attr-defined]
    meta = type("Meta", (parent,), {"fields": [*parent.fields, "entry"]})
    return type(name, (serializer,), {
        "entry": EntryRefSerializer(allow_null=True,
                                    help_text="the ledger entry this write appended"),
        "Meta": meta, "__module__": __name__,
    })


def respond(serializer: type[serializers.Serializer], instance: Any,
            request: Request, entry: dict[str, Any] | None, status: int = 200) -> Response:
    data = dict(serializer(instance, context={"request": request}).data)
    data["entry"] = entry
    return Response(data, status=status)


Code = serializers.SlugRelatedField


def _code(source: str | None = None, many: bool = False, null: bool = False) -> Any:
    kwargs: dict[str, Any] = {"slug_field": "code", "read_only": True, "many": many}
    if null:
        kwargs["allow_null"] = True
    if source:
        kwargs["source"] = source
    return Code(**kwargs)


def _names(many: bool = True) -> Any:
    return serializers.SlugRelatedField(slug_field="name", read_only=True, many=many)


# --- serializers ---------------------------------------------------------------------------


class SharingRequestSerializer(serializers.ModelSerializer):
    requester = _code()
    resource = _code()
    items = _names()
    decided_by = _code(null=True)

    class Meta:
        model = SharingRequest
        fields = ["id", "requester", "resource", "items", "purpose", "scenario", "legal_basis",
                  "period_from", "period_until", "state", "due", "escalated_at", "conditions",
                  "reason", "decided_at", "decided_by", "created"]


class AgreementSerializer(serializers.ModelSerializer):
    authority = _code()
    operator = _code()
    resources = _code(many=True)
    items = serializers.SerializerMethodField()

    class Meta:
        model = OperationAgreement
        fields = ["code", "authority", "operator", "resources", "items", "scenarios",
                  "security_obligations", "desensitisation_rules", "term_start", "term_end",
                  "state", "authority_signed_seq", "operator_signed_seq", "reason", "created"]

    def get_items(self, agreement: OperationAgreement) -> list[str]:
        """Items in scope as RESOURCE/item (none: every item)."""
        return sorted(f"{i.resource.code}/{i.name}" for i in agreement.items.all())


class GrantSerializer(serializers.ModelSerializer):
    grantee = _code()
    resource = _code()
    items = _names()
    agreement = _code(null=True)
    conditions = serializers.CharField(read_only=True, help_text=(
        "What the grant was approved with: the provider's conditions, or the agreement's "
        "security obligations and desensitisation rules."))

    class Meta:
        model = Grant
        fields = ["id", "grantee", "resource", "items", "purpose", "conditions", "valid_from",
                  "valid_until", "sharing_request", "agreement", "state", "reason", "created"]


class DeliverySerializer(serializers.ModelSerializer):
    resource = serializers.CharField(source="grant.resource.code", read_only=True)
    grantee = serializers.CharField(source="grant.grantee.code", read_only=True)
    desensitisation = serializers.DictField(child=serializers.CharField())

    class Meta:
        model = Delivery
        fields = ["id", "grant", "resource", "grantee", "digest", "rows", "desensitisation",
                  "disputed", "entry_seq", "delivered"]


class ObjectionSerializer(serializers.ModelSerializer):
    filer_participant = _code(null=True)
    resource = _code()

    class Meta:
        model = Objection
        fields = ["id", "filer_participant", "resource", "grant", "ground", "description",
                  "state", "accept_due", "resolve_due", "appeal_until", "escalated_at",
                  "reason", "correction", "corrected_version", "appealed", "appeal_grounds",
                  "resolved_at", "outcome", "created"]


class OrderSerializer(serializers.ModelSerializer):
    product = _code()
    buyer = _code()
    seller = _code()
    notary = _code(null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    settled_amount = serializers.DecimalField(max_digits=14, decimal_places=2,
                                              coerce_to_string=True, allow_null=True)

    class Meta:
        model = Order
        fields = ["code", "product", "buyer", "seller", "amount", "currency", "state",
                  "buyer_signed_seq", "seller_signed_seq", "notary", "notarised_seq",
                  "delivery_digest", "settled_amount", "settled_at", "reason", "created",
                  "updated"]


SharingRequestWritten = with_entry(SharingRequestSerializer)
AgreementWritten = with_entry(AgreementSerializer)
GrantWritten = with_entry(GrantSerializer)
DeliveryWritten = with_entry(DeliverySerializer)
ObjectionWritten = with_entry(ObjectionSerializer)
OrderWritten = with_entry(OrderSerializer)

# --- inputs --------------------------------------------------------------------------------

TEXT = 4000


def _text(required: bool = True, **kwargs: Any) -> serializers.CharField:
    if not required:
        kwargs.update(required=False, allow_blank=True, default="")
    return serializers.CharField(max_length=TEXT, **kwargs)


class ReasonInput(Input):
    reason = _text(help_text="why (required)")


class OptionalReasonInput(Input):
    reason = _text(required=False)


class ConditionsInput(Input):
    conditions = _text(required=False, help_text="conditions of use attached to the grant")


class CorrectionInput(Input):
    correction = _text(help_text="the correction note (更正记录)")


class OutcomeInput(Input):
    outcome = _text(help_text="the outcome of the re-examination")


class SharingRequestInput(Input):
    resource = serializers.CharField(max_length=64)
    items = serializers.ListField(child=serializers.CharField(max_length=200), required=False,
                                  default=list, max_length=500,
                                  help_text="data item names (none: every item)")
    purpose = _text()
    scenario = serializers.CharField(max_length=200)
    legal_basis = _text()
    period_from = serializers.DateField()
    period_until = serializers.DateField()


class ItemRef(Input):
    resource = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)


class AgreementInput(Input):
    code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    operator = serializers.CharField(max_length=32, help_text="the operator's USCC")
    resources = serializers.ListField(child=serializers.CharField(max_length=64),
                                      max_length=500)
    items = ItemRef(many=True, required=False, default=list)
    scenarios = _text()
    security_obligations = _text()
    desensitisation_rules = _text()
    term_start = serializers.DateField()
    term_end = serializers.DateField()


class DeliveryInput(Input):
    digest = serializers.CharField(max_length=64, help_text="SM3 of the delivered data (hex)")
    rows = serializers.IntegerField(min_value=0, max_value=2**53 - 1)
    desensitisation = serializers.DictField(child=serializers.CharField(max_length=200),
                                            help_text="each delivered item -> the rule "
                                                      "applied (none, mask, ...)")


class DeliveryUpload(Input):
    file = serializers.FileField(help_text="the delivered data (only its SM3 is kept)")
    rows = serializers.IntegerField(min_value=0, max_value=2**53 - 1)
    desensitisation = serializers.CharField(max_length=TEXT,
                                            help_text="JSON object: each delivered item "
                                                      "-> the rule applied")


class ObjectionInput(Input):
    resource = serializers.CharField(max_length=64)
    ground = serializers.ChoiceField(Objection.Ground.choices)
    description = _text()
    grant = serializers.IntegerField(required=False, allow_null=True, default=None,
                                     min_value=1, max_value=MAX_ID,
                                     help_text="the grant objected to (ground legitimacy)")
    contact = serializers.DictField(
        child=serializers.CharField(max_length=254, allow_blank=True), required=False,
        allow_null=True, default=None,
        help_text="{name, phone, email}: how the provider reaches you, recorded in a "
                  "restricted payload of its own that you may have erased later")


class SignedObjectionInput(Input):
    """A filing the client signed with its own registered SM2 key: ``statement`` (format v2,
    kind contracts.objection.filed, actor its participant code, subject
    catalog/resource/<code>, payload the commitment SM3(salt || canonical payload)),
    ``signature`` (base64 DER), ``payload`` {resource, ground, description, filer, grant} and
    ``salt`` (base64 of the 16 random bytes the client chose for this statement)."""

    statement = serializers.DictField()
    signature = serializers.CharField(max_length=400)
    payload = serializers.DictField()
    salt = serializers.CharField(max_length=64, help_text="base64 of 16 random bytes")


class OrderInput(Input):
    product = serializers.CharField(max_length=64, help_text="a listed product's code")


class OrderDeliveryInput(Input):
    digest = serializers.CharField(max_length=64, help_text="SM3 of the delivered data (hex)")


class SettleInput(Input):
    amount = MoneyField(help_text="decimal string, e.g. '1250.00' (never a float)")
    currency = serializers.CharField(max_length=8, default="CNY")


# --- queries -------------------------------------------------------------------------------



def _flag() -> serializers.BooleanField:
    """An optional true/false filter (absent: no filter)."""
    return serializers.BooleanField(required=False, allow_null=True, default=None)


class SharingQuery(serializers.Serializer):
    state = serializers.ChoiceField(SharingRequest.State.choices, required=False,
                                    allow_blank=True)
    resource = serializers.CharField(required=False, max_length=64)
    requester = serializers.CharField(required=False, max_length=32)
    escalated = _flag()
    ordering = serializers.ChoiceField(orderings("created", "due", "state"), required=False,
                                       help_text="default: newest first")


class AgreementQuery(serializers.Serializer):
    state = serializers.ChoiceField(OperationAgreement.State.choices, required=False,
                                    allow_blank=True)
    operator = serializers.CharField(required=False, max_length=32)
    ordering = serializers.ChoiceField(orderings("created", "code", "term_end"),
                                       required=False)


class GrantQuery(serializers.Serializer):
    state = serializers.ChoiceField(Grant.State.choices, required=False, allow_blank=True)
    grantee = serializers.CharField(required=False, max_length=32)
    resource = serializers.CharField(required=False, max_length=64)
    ordering = serializers.ChoiceField(orderings("created", "valid_until"), required=False)


class DeliveryQuery(serializers.Serializer):
    resource = serializers.CharField(required=False, max_length=64)
    grantee = serializers.CharField(required=False, max_length=32)
    disputed = _flag()
    ordering = serializers.ChoiceField(orderings("delivered", "rows"), required=False)


class ObjectionQuery(serializers.Serializer):
    state = serializers.ChoiceField(Objection.State.choices, required=False, allow_blank=True)
    ground = serializers.ChoiceField(Objection.Ground.choices, required=False,
                                     allow_blank=True)
    resource = serializers.CharField(required=False, max_length=64)
    escalated = _flag()
    ordering = serializers.ChoiceField(orderings("created", "accept_due", "state"),
                                       required=False)


class OrderQuery(serializers.Serializer):
    state = serializers.ChoiceField(Order.State.choices, required=False, allow_blank=True)
    buyer = serializers.CharField(required=False, max_length=32)
    seller = serializers.CharField(required=False, max_length=32)
    product = serializers.CharField(required=False, max_length=64)
    ordering = serializers.ChoiceField(orderings("created", "amount", "state"),
                                       required=False)


PARTICIPANT_FIELDS = {"requester__code", "grantee__code", "grant__grantee__code",
                      "buyer__code", "seller__code", "operator__code"}


def _filter(query: QuerySet[Any], checked: dict[str, Any], fields: dict[str, str]
            ) -> QuerySet[Any]:
    for name, field in fields.items():
        value = checked.get(name)
        if value is None or value == "":
            continue
        if name == "escalated":
            query = query.filter(escalated_at__isnull=not value)
        else:
            upper = field in PARTICIPANT_FIELDS and isinstance(value, str)
            query = query.filter(**{field: value.upper() if upper else value})
    return query


# --- list views ----------------------------------------------------------------------------


def _list_view(name: str, serializer: type[serializers.Serializer],
               query_serializer: type[serializers.Serializer],
               visible: Callable[[Any], QuerySet[Any]], filters: dict[str, str],
               orders: dict[str, str], operation_id: str, doc: str,
               scoped: Callable[[Any, QuerySet[Any]], QuerySet[Any]] | None = None,
               ) -> type[ApiListView]:
    class ListView(ApiListView):
        serializer_class = serializer

        def get_queryset(self) -> QuerySet[Any]:
            checked = self.query()
            found = visible(self.request.user)
            if scoped is not None:
                found = scoped(self, found)
            found = _filter(found, checked, filters)
            return order_by(found, checked.get("ordering"), orders, "-created")

        @extend_schema(operation_id=operation_id, description=doc,
                       parameters=[query_serializer],
                       responses={200: serializer(many=True), **errors(400, 404)})
        def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
            return super().get(request, *args, **kwargs)

    ListView.query_serializer = query_serializer
    ListView.__name__ = ListView.__qualname__ = name
    return ListView


# --- action views --------------------------------------------------------------------------

Lookup = Callable[[Request, str], Model]
Call = Callable[[Request, Any, dict[str, Any]], Model]


def _action(name: str, *, operation_id: str, summary: str, description: str,
            lookup: Lookup, form: type[serializers.Serializer] | None,
            call: Call, out: type[serializers.Serializer],
            subject: Callable[[Any], str], param: str = "pk") -> type[ApiView]:
    class ActionView(ApiView):
        @extend_schema(operation_id=operation_id, summary=summary,
                       description=description + " Illegal from the current state: 409, "
                       "nothing changes.",
                       request=form, responses={200: with_entry_of(out), **WRITE_ERRORS})
        def post(self, request: Request, **kwargs: Any) -> Response:
            target = lookup(request, kwargs[param])
            permit(request, target, step)  # who and when first: 403 or 409 before any 400
            data: dict[str, Any] = {}
            if form is not None:
                checked = form(data=request.data)
                checked.is_valid(raise_exception=True)
                data = dict(checked.validated_data)
            changed = call(request, target, data)
            return respond(out, changed, request, latest_entry(subject(changed)))

    step = next(operation_id.removeprefix(prefix) for prefix in ACTION_PREFIXES
                if operation_id.startswith(prefix))
    ActionView.__name__ = ActionView.__qualname__ = name
    return ActionView


ACTION_PREFIXES = ("sharing_requests_", "agreements_", "grants_", "objections_", "orders_",
                   "erasure_requests_")


WRITTEN: dict[type[Any], type[Any]] = {
    SharingRequestSerializer: SharingRequestWritten, AgreementSerializer: AgreementWritten,
    GrantSerializer: GrantWritten, DeliverySerializer: DeliveryWritten,
    ObjectionSerializer: ObjectionWritten, OrderSerializer: OrderWritten,
}


def with_entry_of(serializer: type[Any]) -> type[Any]:
    """``serializer`` with the entry a write appended (made once per serializer)."""
    if serializer not in WRITTEN:
        WRITTEN[serializer] = with_entry(serializer)
    return WRITTEN[serializer]


def _detail(name: str, serializer: type[serializers.Serializer],
            lookup: Lookup, operation_id: str, doc: str, param: str = "pk") -> type[ApiView]:
    detailed = with_actions(serializer)

    class DetailView(ApiView):
        @extend_schema(operation_id=operation_id, description=doc,
                       responses={200: detailed, **errors(404)})
        def get(self, request: Request, **kwargs: Any) -> Response:
            target = lookup(request, kwargs[param])
            return Response(detailed(target, context={"request": request}).data)

    DetailView.__name__ = DetailView.__qualname__ = name
    return DetailView


# --- sharing requests ----------------------------------------------------------------------


def sharing_request(request: Request, pk: str) -> SharingRequest:
    return by_id(visibility.sharing_requests(request.user), pk,
                 "sharing request")


SharingRequestListBase = _list_view(
    "SharingRequestListBase", SharingRequestSerializer, SharingQuery, visibility.sharing_requests,
    {"state": "state", "resource": "resource__code", "requester": "requester__code",
     "escalated": "escalated"},
    {"created": "created", "due": "due", "state": "state"}, "sharing_requests_list",
    "Sharing requests you make or receive (all for the data authority and regulators).")


class SharingRequestListView(SharingRequestListBase):  # type: ignore[valid-type,misc]
    @extend_schema(
        operation_id="sharing_requests_create",
        summary="Request sharing of a resource (departments and operators)",
        description="Unconditional resources are granted at once, not-shareable ones refused "
                    "at once (citing the recorded basis); conditional ones await the "
                    "provider's review.",
        parameters=[AS_PARTICIPANT], request=SharingRequestInput,
        examples=[OpenApiExample("A department asks", request_only=True, value={
            "resource": "RS-COND", "items": ["legal_person"], "purpose": "监管核查",
            "scenario": "市场监管", "legal_basis": "《公共数据共享管理办法》第十条",
            "period_from": "2026-01-01", "period_until": "2026-12-31"})],
        responses={201: SharingRequestWritten, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        sharing.requester_acting(request.user, acting_participant(request))
        form = SharingRequestInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        resource = resource_field(request.user, data.pop("resource"))
        made = services.request_sharing(by=request.user, resource=resource,
                                        requester=acting_participant(request), **data)
        return respond(SharingRequestSerializer, made, request,
                       entry_ref(Entry.objects.filter(subject=sharing.subject(made))
                                 .order_by("seq").first()), 201)


SharingRequestDetailView = _detail("SharingRequestDetailView", SharingRequestSerializer,
                                   sharing_request, "sharing_requests_retrieve",
                                   "A sharing request you make or receive.")
_SHARING: dict[str, Any] = {"lookup": sharing_request, "out": SharingRequestSerializer,
            "subject": sharing.subject}
SharingApproveView = _action(
    "SharingApproveView", operation_id="sharing_requests_approve",
    summary="Approve a pending request (the provider; the authority once escalated)",
    description="Creates the grant.", form=ConditionsInput,
    call=lambda r, o, d: services.approve_request(by=r.user, request=o, **d), **_SHARING)
SharingRefuseView = _action(
    "SharingRefuseView", operation_id="sharing_requests_refuse",
    summary="Refuse a pending request (reason required)", description="",
    form=ReasonInput, call=lambda r, o, d: services.refuse_request(by=r.user, request=o, **d),
    **_SHARING)
SharingWithdrawView = _action(
    "SharingWithdrawView", operation_id="sharing_requests_withdraw",
    summary="Withdraw your pending request", description="", form=OptionalReasonInput,
    call=lambda r, o, d: services.withdraw_request(by=r.user, request=o, **d), **_SHARING)

# --- agreements ----------------------------------------------------------------------------


def agreement(request: Request, code: str) -> OperationAgreement:
    return by_code(visibility.agreements(request.user), code,
                   "agreement")


AgreementListBase = _list_view(
    "AgreementListBase", AgreementSerializer, AgreementQuery, visibility.agreements,
    {"state": "state", "operator": "operator__code"},
    {"created": "created", "code": "code", "term_end": "term_end"}, "agreements_list",
    "Operation agreements (授权运营协议) you are party to (all for regulators).")


class AgreementListView(AgreementListBase):  # type: ignore[valid-type,misc]
    @extend_schema(
        operation_id="agreements_create",
        summary="Draft an operation agreement (the data authority)",
        description="It awaits the signatures of the authority and the operator.",
        request=AgreementInput,
        responses={201: AgreementWritten, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        agreements.drafter(request.user)
        form = AgreementInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        operator = participant_field(data.pop("operator"), "operator")
        if operator is None:
            raise InvalidInput("operator", _("is required"))
        resources = [resource_field(request.user, code, f"resources[{n}]")
                     for n, code in enumerate(data.pop("resources"))]
        items = []
        for n, ref in enumerate(data.pop("items")):
            item = DataItem.objects.filter(resource__code=ref["resource"],
                                           name=ref["name"]).first()
            if item is None:
                raise InvalidInput(f"items[{n}]", _("no such data item"))
            items.append(item)
        made = services.create_agreement(by=request.user, operator=operator,
                                         resources=resources, items=items, **data)
        return respond(AgreementSerializer, made, request,
                       latest_entry(agreements.subject(made)), 201)


AgreementDetailView = _detail("AgreementDetailView", AgreementSerializer, agreement,
                              "agreements_retrieve", "An operation agreement.", "code")
_AGREEMENT: dict[str, Any] = {"lookup": agreement, "out": AgreementSerializer,
              "subject": agreements.subject, "param": "code"}
AgreementSignView = _action(
    "AgreementSignView", operation_id="agreements_sign",
    summary="Sign for your side (the authority or the operator)",
    description="Effective once both have signed; the grants it carries are then created.",
    form=None, call=lambda r, o, d: services.sign_agreement(by=r.user, agreement=o),
    **_AGREEMENT)
AgreementSuspendView = _action(
    "AgreementSuspendView", operation_id="agreements_suspend",
    summary="Suspend an effective agreement (the authority; reason required)",
    description="Its grants are suspended with it.", form=ReasonInput,
    call=lambda r, o, d: services.suspend_agreement(by=r.user, agreement=o, **d), **_AGREEMENT)
AgreementResumeView = _action(
    "AgreementResumeView", operation_id="agreements_resume",
    summary="Resume a suspended agreement (the authority)", description="",
    form=OptionalReasonInput,
    call=lambda r, o, d: services.resume_agreement(by=r.user, agreement=o, **d), **_AGREEMENT)
AgreementTerminateView = _action(
    "AgreementTerminateView", operation_id="agreements_terminate",
    summary="Terminate an agreement (the authority; reason required)",
    description="Its grants are revoked.", form=ReasonInput,
    call=lambda r, o, d: services.terminate_agreement(by=r.user, agreement=o, **d),
    **_AGREEMENT)

# --- grants and deliveries -----------------------------------------------------------------


def grant(request: Request, pk: str) -> Grant:
    return by_id(visibility.grants(request.user), pk, "grant")


GrantListView = _list_view(
    "GrantListView", GrantSerializer, GrantQuery, visibility.grants,
    {"state": "state", "grantee": "grantee__code", "resource": "resource__code"},
    {"created": "created", "valid_until": "valid_until"}, "grants_list",
    "Grants you hold or gave (all for the data authority and regulators).")
GrantDetailView = _detail("GrantDetailView", GrantSerializer, grant, "grants_retrieve",
                          "A grant you hold or gave.")
GrantRevokeView = _action(
    "GrantRevokeView", operation_id="grants_revoke",
    summary="Revoke a grant (the provider or the data authority; reason required)",
    description="The next delivery under it is refused.", form=ReasonInput,
    call=lambda r, o, d: services.revoke_grant(by=r.user, grant=o, **d), lookup=grant,
    out=GrantSerializer, subject=grants.subject)


def _of_grant(view: Any, found: QuerySet[Delivery]) -> QuerySet[Delivery]:
    if "pk" not in view.kwargs:
        return found
    return found.filter(grant=grant(view.request, view.kwargs["pk"]))


_DELIVERY_FILTERS = {"resource": "grant__resource__code", "grantee": "grant__grantee__code",
                     "disputed": "disputed"}
_DELIVERY_ORDERS = {"delivered": "delivered", "rows": "rows", "created": "delivered"}
DeliveryListView = _list_view(
    "DeliveryListView", DeliverySerializer, DeliveryQuery, visibility.deliveries,
    _DELIVERY_FILTERS, _DELIVERY_ORDERS, "deliveries_list",
    "Deliveries (usage records) under grants you hold or gave.")
GrantDeliveryListBase = _list_view(
    "GrantDeliveryListBase", DeliverySerializer, DeliveryQuery, visibility.deliveries,
    _DELIVERY_FILTERS, _DELIVERY_ORDERS, "grants_deliveries_list",
    "The deliveries under one grant.", scoped=_of_grant)


def _desensitisation(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("desensitisation", _("must be a JSON object")) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput("desensitisation", _("must be a JSON object of item -> rule"))
    return value


class GrantDeliveryListView(GrantDeliveryListBase):  # type: ignore[valid-type,misc]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="grants_deliveries_record",
        summary="Record a delivery under a grant (the provider)",
        description="Send the delivered file (multipart; only its SM3 is kept) or, as JSON, "
                    "its SM3 digest; with the row count and the desensitisation per item. "
                    "A revoked, suspended or expired grant: 409.",
        request={"application/json": DeliveryInput, "multipart/form-data": DeliveryUpload},
        responses={201: DeliveryWritten, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: str) -> Response:
        target = grant(request, pk)
        grants.deliverer(request.user, target)
        if request.content_type.startswith("multipart/"):
            upload = DeliveryUpload(data=request.data)
            upload.is_valid(raise_exception=True)
            file = upload.validated_data["file"]
            made = services.record_delivery(
                by=request.user, grant=target, rows=upload.validated_data["rows"],
                desensitisation=_desensitisation(upload.validated_data["desensitisation"]),
                data=read_upload(file, MAX_DELIVERY), data_name=file.name or "")

        else:
            form = DeliveryInput(data=request.data)
            form.is_valid(raise_exception=True)
            made = services.record_delivery(by=request.user, grant=target,
                                            **form.validated_data)
        return respond(DeliverySerializer, made, request,
                       entry_ref(Entry.objects.filter(seq=made.entry_seq).first()), 201)


# --- objections ----------------------------------------------------------------------------


def objection(request: Request, pk: str) -> Objection:
    return by_id(visibility.objections(request.user), pk, "objection")


ObjectionListBase = _list_view(
    "ObjectionListBase", ObjectionSerializer, ObjectionQuery, visibility.objections,
    {"state": "state", "ground": "ground", "resource": "resource__code",
     "escalated": "escalated"},
    {"created": "created", "accept_due": "accept_due", "state": "state"}, "objections_list",
    "Objections you filed or that concern your resources (all for the authority and "
    "regulators).")

FILING = PolymorphicProxySerializer(
    component_name="ObjectionFiling",
    serializers=[ObjectionInput, SignedObjectionInput], resource_type_field_name=None)


class ObjectionListView(ObjectionListBase):  # type: ignore[valid-type,misc]
    @extend_schema(
        operation_id="objections_file",
        summary="File an objection (异议) — server-signed, or signed by your own key",
        description="Either the fields (the entry is signed with your participant's custodial "
                    "key, or the platform's for a person acting for no participant), or a "
                    "statement you signed with your registered SM2 key (see "
                    "docs/examples/file_objection.py); its subject is "
                    "catalog/resource/<code> and its payload {resource, ground, description, "
                    "filer, grant} must describe exactly the objection filed.",
        parameters=[AS_PARTICIPANT], request=FILING,
        examples=[OpenApiExample("Server-signed", request_only=True, value={
            "resource": "RS-OPEN", "ground": "accuracy",
            "description": "注册资本与营业执照不一致"})],
        responses={201: ObjectionWritten, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        submission = None
        if isinstance(data, dict) and "statement" in data:
            signed = SignedObjectionInput(data=data)
            signed.is_valid(raise_exception=True)
            payload = signed.validated_data["payload"]
            submission = ledger.Submission(signed.validated_data["statement"],
                                           signed.validated_data["signature"], payload,
                                           signed.validated_data["salt"])
            data = {key: payload.get(key) for key in ("resource", "ground", "description",
                                                       "grant")}
            if not data.get("grant"):
                data.pop("grant")
        form = ObjectionInput(data=data)
        if not form.is_valid():
            prefix = "payload." if submission is not None else ""
            raise serializers.ValidationError(
                {f"{prefix}{k}": v for k, v in form.errors.items()})
        checked = dict(form.validated_data)
        resource = resource_field(request.user, checked.pop("resource"))
        chosen = None
        if checked.get("grant") is not None:
            chosen = Grant.objects.filter(pk=checked["grant"], resource=resource).first()
            if chosen is None:
                raise InvalidInput("grant", _("no grant %(grant)s on %(code)s"),
                                   grant=checked["grant"], code=resource.code)
        participant = acting_participant(request)
        if submission is not None and participant is None:
            participant = participant_field(str(submission.statement.get("actor") or ""),
                                            "statement.actor")
        made = services.file_objection(by=request.user, resource=resource,
                                       ground=checked["ground"],
                                       description=checked["description"], grant=chosen,
                                       participant=participant, submission=submission,
                                       contact=checked.get("contact"))
        subject = (objections.resource_subject(resource) if submission is not None
                   else objections.subject(made))
        return respond(ObjectionSerializer, made, request, latest_entry(subject), 201)


ObjectionDetailView = _detail("ObjectionDetailView", ObjectionSerializer, objection,
                              "objections_retrieve", "An objection you may see.")
_OBJ: dict[str, Any] = {"lookup": objection, "out": ObjectionSerializer,
                        "subject": objections.subject}
ObjectionAcceptView = _action(
    "ObjectionAcceptView", operation_id="objections_accept", summary="Accept (受理)",
    description="The provider (the authority once escalated).", form=None,
    call=lambda r, o, d: services.accept_objection(by=r.user, objection=o), **_OBJ)
ObjectionNotAcceptView = _action(
    "ObjectionNotAcceptView", operation_id="objections_not_accept",
    summary="Not accept (不予受理), with the reason", description="", form=ReasonInput,
    call=lambda r, o, d: services.reject_objection(by=r.user, objection=o, **d), **_OBJ)
ObjectionVerifyView = _action(
    "ObjectionVerifyView", operation_id="objections_start_verification",
    summary="Start verifying (核实) an accepted objection", description="", form=None,
    call=lambda r, o, d: services.start_verification(by=r.user, objection=o), **_OBJ)
ObjectionCorrectView = _action(
    "ObjectionCorrectView", operation_id="objections_correct",
    summary="Resolve as corrected, with the correction note", description="",
    form=CorrectionInput,
    call=lambda r, o, d: services.correct_objection(by=r.user, objection=o, **d), **_OBJ)
ObjectionUpholdView = _action(
    "ObjectionUpholdView", operation_id="objections_uphold",
    summary="Resolve: the data is correct (reason required)", description="",
    form=ReasonInput,
    call=lambda r, o, d: services.uphold_objection(by=r.user, objection=o, **d), **_OBJ)
ObjectionDismissView = _action(
    "ObjectionDismissView", operation_id="objections_dismiss",
    summary="Dismiss (reason required)", description="", form=ReasonInput,
    call=lambda r, o, d: services.dismiss_objection(by=r.user, objection=o, **d), **_OBJ)
ObjectionAppealView = _action(
    "ObjectionAppealView", operation_id="objections_appeal",
    summary="Appeal the resolution, once (the filer)", description="", form=ReasonInput,
    call=lambda r, o, d: services.appeal_objection(by=r.user, objection=o, **d), **_OBJ)
ObjectionCloseView = _action(
    "ObjectionCloseView", operation_id="objections_close",
    summary="Close an appeal with the re-examination's outcome (the data authority)",
    description="", form=OutcomeInput,
    call=lambda r, o, d: services.close_objection(by=r.user, objection=o, **d), **_OBJ)

# --- orders --------------------------------------------------------------------------------


def order(request: Request, code: str) -> Order:
    return by_code(visibility.orders(request.user), code, "order")


OrderListBase = _list_view(
    "OrderListBase", OrderSerializer, OrderQuery, visibility.orders,
    {"state": "state", "buyer": "buyer__code", "seller": "seller__code",
     "product": "product__code"},
    {"created": "created", "amount": "amount", "state": "state"}, "orders_list",
    "Orders you buy, sell or notarise (all for the data authority and regulators).")


class OrderListView(OrderListBase):  # type: ignore[valid-type,misc]
    @extend_schema(
        operation_id="orders_place",
        summary="Order a listed product at its listed price (operators and merchants)",
        description="A product that is not listed: 409.",
        parameters=[AS_PARTICIPANT], request=OrderInput,
        responses={201: OrderWritten, **errors(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        orders.buyer_acting(request.user, acting_participant(request))
        form = OrderInput(data=request.data)
        form.is_valid(raise_exception=True)
        code = form.validated_data["product"]
        product = DataProduct.objects.filter(code=code).first()
        if product is None:
            raise InvalidInput("product", _("no product %(code)s"), code=code)

        made = services.place_order(by=request.user, product=product,
                                    buyer=acting_participant(request))
        return respond(OrderSerializer, made, request, latest_entry(orders.subject(made)), 201)


def _document(data: dict[str, Any]) -> bytes | None:
    text = data.get("document") or ""
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("document", _("must be base64")) from None


class NotariseInput(Input):
    document = serializers.CharField(required=False, allow_blank=True, default="",
                                     max_length=4 * MAX_DOCUMENT // 3 + 4,
                                     help_text="the notarial document, base64 (only its "
                                               "SM3 is recorded)")


OrderDetailView = _detail("OrderDetailView", OrderSerializer, order, "orders_retrieve",
                          "An order you are party to.", "code")
_ORDER: dict[str, Any] = {"lookup": order, "out": OrderSerializer, "subject": orders.subject,
                          "param": "code"}
OrderSignView = _action(
    "OrderSignView", operation_id="orders_sign",
    summary="Sign the contract for your side (buyer or seller)",
    description="Contracted once both have signed.", form=None,
    call=lambda r, o, d: services.sign_order(by=r.user, order=o), **_ORDER)
OrderNotariseView = _action(
    "OrderNotariseView", operation_id="orders_notarise",
    summary="Notarise a contracted order, once (a notarisation service)", description="",
    form=NotariseInput,
    call=lambda r, o, d: services.notarise_order(by=r.user, order=o, document=_document(d)),
    **_ORDER)
OrderDeliverView = _action(
    "OrderDeliverView", operation_id="orders_deliver",
    summary="Deliver (the seller): the SM3 digest of what was delivered", description="",
    form=OrderDeliveryInput,
    call=lambda r, o, d: services.deliver_order(by=r.user, order=o, digest=d["digest"]),
    **_ORDER)
OrderAcceptView = _action(
    "OrderAcceptView", operation_id="orders_accept", summary="Accept the delivery (the buyer)",
    description="", form=None,
    call=lambda r, o, d: services.accept_delivery(by=r.user, order=o), **_ORDER)
OrderDisputeView = _action(
    "OrderDisputeView", operation_id="orders_dispute",
    summary="Dispute the delivery (the buyer; reason required)", description="",
    form=ReasonInput, call=lambda r, o, d: services.dispute_delivery(by=r.user, order=o, **d),
    **_ORDER)
OrderSettleView = _action(
    "OrderSettleView", operation_id="orders_settle",
    summary="Record settlement (the seller; the authority for a disputed order)",
    description="Amount as a decimal string, at most the contract amount.", form=SettleInput,
    call=lambda r, o, d: services.settle_order(by=r.user, order=o, **d), **_ORDER)
OrderCloseView = _action(
    "OrderCloseView", operation_id="orders_close", summary="Close a settled order",
    description="", form=None,
    call=lambda r, o, d: services.close_order(by=r.user, order=o), **_ORDER)
OrderCancelView = _action(
    "OrderCancelView", operation_id="orders_cancel",
    summary="Cancel before delivery (either party; reason required)", description="",
    form=ReasonInput, call=lambda r, o, d: services.cancel_order(by=r.user, order=o, **d),
    **_ORDER)

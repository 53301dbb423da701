"""REST API of personal information: what the ledger holds of me, and erasure requests
(个人信息删除请求) with their decisions. The rules are ``contracts.erasure`` and
``contracts.personal``; like every workflow, each step is its own endpoint (403 before 409
before 400) and a write answers with the entry it appended."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, Input, latest_entry
from api.workflows import (
    MAX_ID,
    OptionalReasonInput,
    OutcomeInput,
    ReasonInput,
    _action,
    _code,
    _detail,
    _list_view,
    _text,
    by_id,
    with_entry_of,
)
from contracts import erasure, personal
from contracts.models import ErasureRequest, ErasureTarget
from kernel.api import errors, orderings
from kernel.errors import InvalidInput
from policy import visibility

TEXT = 4000


class ErasureTargetSerializer(serializers.ModelSerializer):
    seq = serializers.IntegerField(source="entry_id", read_only=True)
    kind = serializers.CharField(source="entry.kind", read_only=True)
    redaction_seq = serializers.IntegerField(
        allow_null=True, read_only=True,
        help_text="the ledger.payload.redacted entry that erased it (null: not erased)")

    class Meta:
        model = ErasureTarget
        fields = ["seq", "kind", "redaction_seq"]


class ErasureRequestSerializer(serializers.ModelSerializer):
    filer_participant = _code(null=True)
    controller = _code()
    decided_by = _code(null=True)
    targets = ErasureTargetSerializer(many=True, read_only=True)

    class Meta:
        model = ErasureRequest
        fields = ["id", "filer_participant", "controller", "ground", "scope", "reference",
                  "basis", "reason", "targets", "state", "due", "escalated_at", "decided_at",
                  "decided_by", "refusal", "appeal_until", "appealed", "outcome", "created"]


class ErasureInput(Input):
    ground = serializers.ChoiceField(ErasureRequest.Ground.choices, help_text=(
        "a data subject: purpose, retention, consent or unlawful (PIPL art. 47(1)); the data "
        "authority: court_order or statutory"))
    seq = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=MAX_ID,
        help_text="the entry whose payload is to be erased; absent: every payload holding "
                  "the person's personal information")
    reason = serializers.CharField(max_length=TEXT, required=False, allow_blank=True,
                                   default="")
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                      default="", help_text="the court order or statute "
                                                            "(the data authority)")
    person = serializers.CharField(max_length=150, required=False, allow_blank=True,
                                   default="", help_text="the data subject's user name (the "
                                                         "data authority, without seq)")


class OptionalOutcomeInput(Input):
    outcome = _text(required=False, help_text="the outcome of the re-examination")


class ErasureQuery(serializers.Serializer):
    state = serializers.ChoiceField(ErasureRequest.State.choices, required=False,
                                    allow_blank=True)
    ground = serializers.ChoiceField(ErasureRequest.Ground.choices, required=False,
                                     allow_blank=True)
    escalated = serializers.BooleanField(required=False, allow_null=True, default=None)
    ordering = serializers.ChoiceField(orderings("created", "due", "state"), required=False)


def erasure_request(request: Request, pk: str) -> ErasureRequest:
    return by_id(visibility.erasure_requests(request.user), pk, "erasure request")


ErasureListBase = _list_view(
    "ErasureListBase", ErasureRequestSerializer, ErasureQuery, visibility.erasure_requests,
    {"state": "state", "ground": "ground", "escalated": "escalated"},
    {"created": "created", "due": "due", "state": "state"}, "erasure_requests_list",
    "Erasure requests you filed, that are about you, or that you decide as controller "
    "(all for the data authority, auditors and regulators).")
FILED = inline_serializer("ErasureFiled", {
    "requests": with_entry_of(ErasureRequestSerializer)(many=True)})


class ErasureListView(ErasureListBase):  # type: ignore[valid-type,misc]
    @extend_schema(
        operation_id="erasure_requests_file",
        summary="Ask for personal information to be erased (个人信息删除请求)",
        description="A data subject asks for one of their payloads (seq) or all of them; "
                    "the data authority on a court order or statutory ground (reference), "
                    "for any payload or a named person's. One request per controller.",
        request=ErasureInput,
        examples=[OpenApiExample("A data subject", request_only=True, value={
            "ground": "consent", "seq": 42, "reason": "不再需要联系我"})],
        responses={201: FILED, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        form = ErasureInput(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        name = data.pop("person")
        subject = None
        if name:
            subject = get_user_model().objects.filter(username=name).first()
            if subject is None:
                raise InvalidInput("person", f"there is no user {name}")
        made = erasure.request_erasure(by=request.user, person=subject, **data)
        body = []
        for item in made:
            row = dict(ErasureRequestSerializer(item, context={"request": request}).data)
            row["entry"] = latest_entry(erasure.subject(item))
            body.append(row)
        return Response({"requests": body}, status=201)


ErasureDetailView = _detail("ErasureDetailView", ErasureRequestSerializer, erasure_request,
                            "erasure_requests_retrieve", "An erasure request you may see.")
_ERASURE: dict[str, Any] = {"lookup": erasure_request, "out": ErasureRequestSerializer,
                            "subject": erasure.subject}
ErasureApproveView = _action(
    "ErasureApproveView", operation_id="erasure_requests_approve",
    summary="Approve: erase the payloads and their salts (the controller; the data authority "
            "on appeal or once escalated)",
    description="Each payload is erased by a ledger.payload.redacted entry recording the "
                "legal basis, in the same transaction as the approval.",
    form=OptionalOutcomeInput,
    call=lambda r, o, d: erasure.approve_erasure(by=r.user, request=o, **d), **_ERASURE)
ErasureRefuseView = _action(
    "ErasureRefuseView", operation_id="erasure_requests_refuse",
    summary="Refuse, with the reason (the controller)", description="", form=ReasonInput,
    call=lambda r, o, d: erasure.refuse_erasure(by=r.user, request=o, **d), **_ERASURE)
ErasureWithdrawView = _action(
    "ErasureWithdrawView", operation_id="erasure_requests_withdraw",
    summary="Withdraw your request while it awaits a decision", description="",
    form=OptionalReasonInput,
    call=lambda r, o, d: erasure.withdraw_erasure(by=r.user, request=o, **d), **_ERASURE)
ErasureAppealView = _action(
    "ErasureAppealView", operation_id="erasure_requests_appeal",
    summary="Appeal a refusal, once, within the appeal period (the filer)", description="",
    form=ReasonInput,
    call=lambda r, o, d: erasure.appeal_erasure(by=r.user, request=o, **d), **_ERASURE)
ErasureUpholdView = _action(
    "ErasureUpholdView", operation_id="erasure_requests_uphold",
    summary="Uphold the refusal on appeal (the data authority)", description="",
    form=OutcomeInput,
    call=lambda r, o, d: erasure.uphold_refusal(by=r.user, request=o, **d), **_ERASURE)


HELD = inline_serializer("PersonalPayload", {
    "seq": serializers.IntegerField(), "kind": serializers.CharField(),
    "holds": serializers.CharField(help_text="what personal information it holds"),
    "record": serializers.CharField(help_text="the workflow object it belongs to"),
    "recorded": serializers.DateTimeField()}, many=True)


class PersonalInformationView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="personal_information_list",
                   summary="The ledger payloads that hold your personal information",
                   description="Those not yet erased: what an erasure request may name.",
                   responses={200: HELD, **errors(401)})
    def get(self, request: Request) -> Response:
        when = serializers.DateTimeField()  # Asia/Shanghai, like every serializer's times
        return Response([
            {"seq": p.entry_id, "kind": p.kind, "holds": str(personal.holds(p.kind)),
             "record": p.record, "recorded": when.to_representation(p.entry.recorded)}
            for p in personal.held_by(request.user)])

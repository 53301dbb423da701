"""REST API of participants: the directory, admission (数商入场登记), members and keys.

Every action is its own endpoint calling one service; a write answers with the object and
the ledger entry it appended. Anonymous reads are allowed; anonymous writes get 401.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as Person
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
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
    acting_participant,
    entry_ref,
    latest_entry,
    permit,
    with_actions,
    written,
)
from kernel.api import errors, order_by, orderings
from kernel.errors import InvalidInput, NotPermitted
from ledger import keystore
from ledger.api import KeySerializer
from ledger.models import Entry, LedgerKey
from operators import authz, capabilities, selectors, services
from operators.models import (
    APPLICANT_KINDS,
    DEPARTMENT_KINDS,
    Kind,
    Membership,
    MerchantType,
    Participant,
    Role,
    ServiceType,
    Status,
)
from policy import visibility


def key_entry(key: LedgerKey) -> dict[str, Any] | None:
    if key.registered_seq is None:
        return None
    return entry_ref(Entry.objects.filter(seq=key.registered_seq).first())


# --- serializers ---------------------------------------------------------------------------


class ParticipantSummarySerializer(serializers.ModelSerializer):
    """A participant's public facts (the directory); ``status_reason`` only for the
    participant itself and oversight (empty for anyone else)."""

    status_reason = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = ["code", "name_zh", "name_en", "kind", "merchant_type", "service_type",
                  "status", "status_reason", "created", "updated"]

    def get_status_reason(self, participant: Participant) -> str:
        """Why the status was given, for the participant itself and oversight."""
        request = self.context.get("request")
        user = request.user if request is not None else None
        return participant.status_reason if visibility.sees_status_reason(
            user, participant) else ""


CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email", "address")


class ParticipantSerializer(ParticipantSummarySerializer):
    """Public facts, plus contacts for its members, the data authority and regulators;
    for anyone else the contacts are omitted and ``restricted`` is true."""

    restricted = serializers.SerializerMethodField()

    class Meta(ParticipantSummarySerializer.Meta):
        fields = [*ParticipantSummarySerializer.Meta.fields, *CONTACT_FIELDS, "restricted"]
        extra_kwargs = {name: {"required": False} for name in CONTACT_FIELDS}

    def _sees(self, participant: Participant) -> bool:
        request = self.context.get("request")
        return request is not None and visibility.sees_contacts(request.user, participant)

    def get_restricted(self, participant: Participant) -> bool:
        """True when the contacts are withheld from you."""
        return not self._sees(participant)

    def to_representation(self, instance: Participant) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data["restricted"]:
            for name in CONTACT_FIELDS:
                data.pop(name, None)
        return data


class ParticipantWrittenSerializer(ParticipantSerializer):
    entry = EntryRefSerializer(allow_null=True, help_text="the ledger entry this write appended")

    class Meta(ParticipantSerializer.Meta):
        fields = [*ParticipantSerializer.Meta.fields, "entry"]


class ParticipantQuery(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200,
                              help_text="text in the code or either name")
    kind = serializers.ChoiceField(Kind.choices, required=False, allow_blank=True)
    status = serializers.ChoiceField(Status.choices, required=False, allow_blank=True)
    ordering = serializers.ChoiceField(orderings("code", "name", "kind", "status", "created"),
                                       required=False, help_text="default: kind, then code")


class ContactsInput(Input):
    contact_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                         default="")
    contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                          default="")
    contact_email = serializers.EmailField(required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                    default="")


class ApplicationSerializer(ContactsInput):
    """A company's application for admission (数商入场登记)."""

    code = serializers.CharField(max_length=32, help_text="unified social credit code "
                                                          "(统一社会信用代码, GB 32100-2015)")
    name_zh = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                    default="")
    kind = serializers.ChoiceField(sorted(APPLICANT_KINDS))
    merchant_type = serializers.ChoiceField(MerchantType.choices, required=False,
                                            allow_blank=True, default="",
                                            help_text="data merchants only")
    service_type = serializers.ChoiceField(ServiceType.choices, required=False,
                                           allow_blank=True, default="",
                                           help_text="third-party services only")


class DepartmentSerializer(ContactsInput):
    """A government body the data authority registers (admitted at once)."""

    code = serializers.CharField(max_length=32)
    name_zh = serializers.CharField(max_length=200)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                    default="")
    kind = serializers.ChoiceField(sorted(DEPARTMENT_KINDS))


class ReasonSerializer(Input):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True,
                                   default="", help_text="required to reject, suspend, revoke")


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    participant = serializers.CharField(source="participant.code")

    class Meta:
        model = Membership
        fields = ["username", "participant", "role"]


class MembershipWrittenSerializer(MembershipSerializer):
    entry = EntryRefSerializer(allow_null=True)

    class Meta(MembershipSerializer.Meta):
        fields = [*MembershipSerializer.Meta.fields, "entry"]


class AddMemberSerializer(Input):
    username = serializers.CharField(max_length=150, help_text="an existing user account")
    role = serializers.ChoiceField(Role.choices, default=Role.STAFF)


class KeyWrittenSerializer(KeySerializer):
    entry = EntryRefSerializer(allow_null=True)

    class Meta(KeySerializer.Meta):
        fields = [*KeySerializer.Meta.fields, "entry"]


class KeyQuery(serializers.Serializer):
    use = serializers.ChoiceField(["statement", "ledger", "witness"], required=False,
                                  allow_blank=True)
    current = serializers.BooleanField(required=False, allow_null=True, default=None,
                                       help_text="true: only keys neither expired nor revoked")
    ordering = serializers.ChoiceField(orderings("valid_from", "registered_seq"),
                                       required=False)


class MemberQuery(serializers.Serializer):
    role = serializers.ChoiceField(Role.choices, required=False, allow_blank=True)
    ordering = serializers.ChoiceField(orderings("username", "role"), required=False,
                                       help_text="default: username")


class UploadKeySerializer(Input):
    pem = serializers.CharField(max_length=10000, help_text="SM2 SubjectPublicKeyInfo, PEM")


# --- views ---------------------------------------------------------------------------------


def participant_of(request: Request, code: str) -> Participant:
    """The participant named in the URL, if the reader may see it (404 otherwise)."""
    return visibility.one(request.user, Participant, "participant",
                          code=code.upper())


def participant_written(request: Request, participant: Participant,
                        status: int = 200) -> Response:
    return written(ParticipantSerializer, participant, request,
                   latest_entry(services.subject(participant)), status)


APPLY_EXAMPLE = OpenApiExample(
    "A data merchant applies",
    value={"code": "91110108MA01XY2K3L", "name_zh": "数智科技有限公司",
           "name_en": "Shuzhi Technology Co.", "kind": "merchant",
           "merchant_type": "technical", "contact_name": "王芳",
           "contact_email": "wang@example.com"},
    request_only=True,
)


class ParticipantListView(ApiListView):
    """The participant directory (public facts; contacts only on the detail)."""

    serializer_class = ParticipantSummarySerializer
    query_serializer = ParticipantQuery

    def get_queryset(self) -> QuerySet[Participant]:
        query = self.query()
        found = selectors.participants(visibility.participants(self.request.user),
                                       kind=query.get("kind"), status=query.get("status"),
                                       text=query.get("q"))
        return order_by(found, query.get("ordering"),
                        {"code": "code", "name": "name_zh", "kind": "kind",
                         "status": "status", "created": "created"}, "kind")

    @extend_schema(operation_id="participants_list", parameters=[ParticipantQuery],
                   responses={200: ParticipantSummarySerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="participants_apply",
        summary="Apply for admission (数商入场登记)",
        description="A signed-in user applies for a company (operator, data merchant, "
                    "third-party service or auditor); they become its administrator. The "
                    "application is signed with the company's new custodial key.",
        request=ApplicationSerializer, examples=[APPLY_EXAMPLE],
        responses={201: ParticipantWrittenSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        form = ApplicationSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        assert isinstance(request.user, Person)  # writes need a signed-in user
        participant = services.apply_for_admission(applicant=request.user, **form.validated_data)
        return participant_written(request, participant, 201)


class DepartmentView(ApiView):
    """The data authority registers a provider department, another authority, a regulator
    or an auditor; it is admitted at once and gets a custodial key."""

    @extend_schema(
        operation_id="participants_register_department",
        summary="Register a government department (data authority only)",
        parameters=[AS_PARTICIPANT], request=DepartmentSerializer,
        responses={201: ParticipantWrittenSerializer, **errors(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        authority = authz.acting_for(request.user, acting_participant(request),
                                     kinds=[Kind.AUTHORITY], roles=capabilities.REVIEW_ROLES)
        form = DepartmentSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        participant = services.register_department(by=authority, **form.validated_data)
        return participant_written(request, participant, 201)


PARTICIPANT_DETAIL = with_actions(ParticipantSerializer)


class ParticipantDetailView(ApiView):
    """A participant; contacts only for its members, the data authority and regulators."""

    @extend_schema(operation_id="participants_retrieve",
                   responses={200: PARTICIPANT_DETAIL, **errors(404)})
    def get(self, request: Request, code: str) -> Response:
        participant = participant_of(self.request, code)
        return Response(PARTICIPANT_DETAIL(participant, context={"request": request}).data)


def _review_view(action: str, summary: str) -> type[ApiView]:
    class ReviewView(ApiView):
        @extend_schema(
            operation_id=f"participants_{action}",
            summary=summary,
            description=f"Registration step '{action}' by the data authority (an admin or "
                        "reviewer of it). Illegal from the current status: 409, nothing "
                        "changes.",
            request=ReasonSerializer,
            responses={200: ParticipantWrittenSerializer, **WRITE_ERRORS},
        )
        def post(self, request: Request, code: str) -> Response:
            participant = participant_of(self.request, code)
            permit(request, participant, action)
            form = ReasonSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            participant = services.review_registration(
                participant=participant, action=action, by=request.user,
                reason=form.validated_data["reason"])
            return participant_written(request, participant)

    ReviewView.__name__ = f"Participant{action.title().replace('_', '')}View"
    ReviewView.__qualname__ = ReviewView.__name__
    return ReviewView


StartReviewView = _review_view("start_review", "Start reviewing an application")
AdmitView = _review_view("admit", "Admit an applicant")
RejectView = _review_view("reject", "Reject an application (reason required)")
SuspendView = _review_view("suspend", "Suspend an admitted participant (reason required)")
ReinstateView = _review_view("reinstate", "Reinstate a suspended participant")
RevokeView = _review_view("revoke", "Revoke a suspended participant (reason required)")


class MemberListView(ApiListView):
    """The people who act for a participant: visible to those who see its contacts."""

    serializer_class = MembershipSerializer
    query_serializer = MemberQuery

    def get_queryset(self) -> QuerySet[Membership]:
        participant = participant_of(self.request, self.kwargs["code"])
        if not visibility.sees_contacts(self.request.user, participant):
            raise NotPermitted(_("the members of %(name)s are not public"),
                               name=participant.name_zh)

        query = self.query()
        members = participant.memberships.select_related("user", "participant")
        if query.get("role"):
            members = members.filter(role=query["role"])
        return order_by(members, query.get("ordering"),
                        {"username": "user__username", "role": "role"}, "username")

    @extend_schema(operation_id="participants_members_list", parameters=[MemberQuery],
                   responses={200: MembershipSerializer(many=True), **errors(400, 403, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="participants_members_add",
        summary="Let a user act for the participant (its administrators only)",
        description="Records operators.member.added (restricted payload; the username only "
                    "as its SM3).",
        request=AddMemberSerializer,
        responses={201: MembershipWrittenSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, code: str) -> Response:
        participant = participant_of(self.request, code)
        services.require_admin(by=request.user, participant=participant)
        form = AddMemberSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(username=form.validated_data["username"]).first()
        if user is None:
            raise InvalidInput("username", _("no such user"))
        membership = services.add_member(participant=participant, user=user,
                                         role=form.validated_data["role"], by=request.user)
        return written(MembershipSerializer, membership, request,
                       latest_entry(services.subject(participant)), 201)


class KeyListView(ApiListView):
    """The participant's registered public keys (current and past)."""

    serializer_class = KeySerializer
    query_serializer = KeyQuery

    def get_queryset(self) -> QuerySet[LedgerKey]:
        participant = participant_of(self.request, self.kwargs["code"])
        query = self.query()
        keys = LedgerKey.objects.filter(owner=participant.code)
        if query.get("use"):
            keys = keys.filter(use=query["use"])
        if query.get("current") is True:
            keys = keystore.current(keys)
        elif query.get("current") is False:
            keys = keys.exclude(pk__in=keystore.current(keys).values("pk"))
        return order_by(keys, query.get("ordering"),
                        {"valid_from": "valid_from", "registered_seq": "registered_seq"},
                        "valid_from")

    @extend_schema(operation_id="participants_keys_list", parameters=[KeyQuery],
                   responses={200: KeySerializer(many=True), **errors(400, 404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class IssueKeyView(ApiView):
    @extend_schema(
        operation_id="participants_keys_issue",
        summary="Issue a new custodial key (the current one is rotated out)",
        description="The server generates an SM2 key pair and keeps the private half sealed. "
                    "Entries the old key signed stay valid. Administrators only.",
        request=None,
        responses={201: KeyWrittenSerializer, **errors(401, 403, 404)},
    )
    def post(self, request: Request, code: str) -> Response:
        participant = participant_of(self.request, code)
        key = services.issue_key(participant=participant, by=request.user)
        return written(KeySerializer, key, request, key_entry(key), 201)


class UploadKeyView(ApiView):
    """Register a public SM2 key for client-signed statements (administrators only);
    recorded as ledger.key.registered."""

    @extend_schema(
        operation_id="participants_keys_upload",
        summary="Register a public key whose private half you keep (client signing)",
        request=UploadKeySerializer,
        examples=[OpenApiExample("PEM", request_only=True, value={
            "pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE...\n"
                   "-----END PUBLIC KEY-----\n"})],
        responses={201: KeyWrittenSerializer,
                   400: OpenApiResponse(errors(400)[400],
                                        description="not an SM2 public key, or already "
                                                    "registered"),
                   **errors(401, 403, 404)},
    )
    def post(self, request: Request, code: str) -> Response:
        participant = participant_of(self.request, code)
        services.require_admin(by=request.user, participant=participant, keys=True)
        form = UploadKeySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        key = services.upload_key(participant=participant, pem=form.validated_data["pem"],
                                  by=request.user)
        return written(KeySerializer, key, request, key_entry(key), 201)


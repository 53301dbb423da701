"""What every view of the REST API shares: the base views, the acting participant, the
ledger entry reference that every write returns, and input serializers that refuse
fields they do not know.

The generic pieces (error mapping, ordering, query parameters) are in ``kernel.api``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.views import APIView

from accounts.authentication import TokenAuthentication
from kernel.api import errors
from kernel.drf import JSONParser
from kernel.errors import InvalidInput
from ledger.models import Entry
from operators.models import Participant
from policy.actions import available_actions, machine_of

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass


class Input(serializers.Serializer):
    """A request body's shape. It only parses: a field it does not know is refused with its
    name (never silently dropped); the rules are the services'."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("unknown field")] for name in unknown})
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.ANY)
class AsSentField(serializers.Field):
    """A value passed to the service exactly as the client sent it: the service checks it,
    so that every interface refuses it the same way, with the same reason."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(AsSentField):
    """An amount, parsed by the service (``kernel.money``): a float or "Infinity" is
    refused the same way on every interface."""

    def to_representation(self, value: Any) -> Any:
        return str(value)


class EntryRefSerializer(serializers.Serializer):
    """The ledger entry a write appended."""

    seq = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    kind = serializers.CharField()
    actor = serializers.CharField()


def entry_ref(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"seq": entry.seq, "leaf_hash": entry.leaf_hash, "kind": entry.kind,
            "actor": entry.actor}


def latest_entry(subject: str) -> dict[str, Any] | None:
    """The newest entry about ``subject`` (what a write just appended)."""
    return entry_ref(Entry.objects.filter(subject=subject).order_by("-seq").first())


AS_PARTICIPANT = OpenApiParameter(
    "X-Participant", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="USCC of the participant you act for, if you act for several.",
)


def acting_participant(request: Request) -> Participant | None:
    """The participant named by the X-Participant header (or ?as=), if any."""
    code = request.headers.get("X-Participant") or request.query_params.get("as")
    if not code:
        return None
    found = Participant.objects.filter(code=code.strip().upper()).first()
    if found is None:
        raise InvalidInput("X-Participant", _("no participant %(code)s"), code=code)

    return found


# --- base views, ordering and the write response every app's API shares ------------------


TAGS = {"api.participants": "participants", "api.catalogue.resources": "catalogue",
        "api.catalogue.products": "products", "api.workflows": "workflows",
        "api.audit": "audit", "api.regulator": "regulator", "api.ledger": "ledger",
        "api.erasure": "personal information", "api.usage": "workflows"}


class TaggedSchema(AutoSchema):
    """Operations grouped by the module that defines them (participants, catalogue,
    products, workflows, audit, regulator) rather than by the URL's first segment."""

    def get_tags(self) -> list[str]:
        module = type(self.view).__module__
        return [TAGS[module]] if module in TAGS else super().get_tags()


class ApiDefaults:
    # Token first, so that a client without credentials is told 401 (and how to sign in);
    # reads are open, writes need a signed-in user; bodies are JSON unless a view says
    # otherwise. (No docstring: OpenAPI takes an operation's description from its view.)

    authentication_classes: Sequence[type[BaseAuthentication]] = [TokenAuthentication,
                                                                  SessionAuthentication]
    permission_classes: Sequence[_PermissionClass] = [IsAuthenticatedOrReadOnly]
    parser_classes: Sequence[type[BaseParser]] = [JSONParser]
    schema: ViewInspector | None = TaggedSchema()


class ApiView(ApiDefaults, APIView):
    pass


class ApiListView(ApiDefaults, generics.ListAPIView):
    # A paginated list whose query parameters ``query_serializer`` checks.

    query_serializer: type[serializers.Serializer] | None = None

    def query(self) -> dict[str, Any]:
        """The list's query parameters, checked by ``query_serializer`` (400 names each)."""
        if self.query_serializer is None:
            return {}
        checked = self.query_serializer(data=self.request.query_params)
        checked.is_valid(raise_exception=True)
        return dict(checked.validated_data)


class ActionsField(serializers.ListField):
    """The transitions the requesting user may take on the object now
    (``policy.actions.available_actions``): exactly what its action endpoints accept."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), read_only=True, source="*",
                         help_text="the actions you may take now; each is an endpoint "
                                   "POST .../<action>/ (with _ written -)", **kwargs)

    def to_representation(self, value: Any) -> list[str]:
        request = self.context.get("request")
        return available_actions(request.user, value) if request is not None else []


def with_actions(serializer: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``serializer`` plus ``actions`` (its own OpenAPI component), for detail views."""
    name = serializer.__name__.replace("Serializer", "DetailSerializer")
    parent: Any = serializer.Meta  # type: ignore[attr-defined]
    meta = type("Meta", (parent,), {"fields": [*parent.fields, "actions"]})
    return type(name, (serializer,), {"actions": ActionsField(), "Meta": meta,
                                      "__module__": serializer.__module__})


WRITE_ERRORS = errors(400, 401, 403, 404, 409)


def permit(request: Request, obj: Any, action: str) -> None:
    """NotPermitted (403) or IllegalTransition (409) unless the user may take ``action`` on
    ``obj`` now: checked before the body is parsed, by the table the service applies."""
    machine_of(obj).permit(request.user, obj, action)


def written(serializer: type[serializers.Serializer], instance: Any,
            request: Request, entry: dict[str, Any] | None, status: int = 200) -> Response:
    data = dict(serializer(instance, context={"request": request}).data)
    data["entry"] = entry
    return Response(data, status=status)

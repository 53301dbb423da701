"""What every API view shares: error mapping, pagination, the acting participant, and the
ledger entry reference that every write returns.

Errors are always JSON: ``{"error": {"status": 400, "message": "...", "fields":
{"field": ["reason"]}}}``. Domain errors map to 400/403/404/409; nothing a client sends
can produce a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions, generics, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import BaseParser
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from config.drf import JSONParser as JSONParser  # re-exported: DRF's settings name config.drf
from config.drf import Pagination as Pagination
from config.errors import DomainError, InvalidInput, NotFound
from ledger.models import Entry
from operators.models import Participant


def _body(status: int, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"status": status, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation details as {"field.sub": ["reason", ...]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, InvalidInput):
        return Response(_body(400, exc.message, {exc.field: [exc.reason]}), status=400)
    if isinstance(exc, DomainError):
        return Response(_body(exc.status, exc.message), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors":
                                                                       exc.messages}
        return Response(_body(400, "invalid input", fields), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(_body(413, "the request body is too large"), status=413)
    if isinstance(exc, Http404):
        return Response(_body(404, str(exc) or "not found"), status=404)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _body(400, "invalid input", _flatten(exc.detail))
    else:
        detail = getattr(exc, "detail", str(exc))
        response.data = _body(response.status_code, str(detail))
    return response


ERROR_SCHEMA = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "status": serializers.IntegerField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField(
                    child=serializers.CharField()), required=False),
            },
        )
    },
)


def errors(*codes: int) -> dict[int, Any]:
    """OpenAPI responses for the given error statuses."""
    return {code: ERROR_SCHEMA for code in codes}


class EntryRefSerializer(serializers.Serializer):  # type: ignore[type-arg]
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
    found = None if "\x00" in code else Participant.objects.filter(
        code=code.strip().upper()).first()
    if found is None:
        raise InvalidInput("X-Participant", f"no participant {code}")
    return found


def int_param(request: Request, name: str, default: int | None = None,
              minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise InvalidInput(name, "is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(name, "must be an integer") from None
    if value < minimum:
        raise InvalidInput(name, f"must be >= {minimum}")
    return value


# --- base views, ordering and the write response every app's API shares ------------------


TAGS = {"operators.api": "participants", "catalog.api.resources": "catalogue",
        "catalog.api.products": "products", "contracts.api": "workflows",
        "audit.api": "audit", "audit.api_regulator": "regulator"}


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

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticatedOrReadOnly]
    parser_classes: list[type[BaseParser]] = [JSONParser]
    schema = TaggedSchema()


class ApiView(ApiDefaults, APIView):
    pass


class ApiListView(ApiDefaults, generics.ListAPIView):  # type: ignore[type-arg]
    # A paginated list whose query parameters ``query_serializer`` checks.

    query_serializer: type[serializers.Serializer] | None = None  # type: ignore[type-arg]

    def query(self) -> dict[str, Any]:
        """The list's query parameters, checked by ``query_serializer`` (400 names each)."""
        if self.query_serializer is None:
            return {}
        checked = self.query_serializer(data=self.request.query_params)
        checked.is_valid(raise_exception=True)
        return dict(checked.validated_data)


def orderings(*names: str) -> list[str]:
    """Ascending and descending choices for ?ordering=."""
    return [variant for name in names for variant in (name, f"-{name}")]


def order_by(query: QuerySet[Any], ordering: str | None, fields: dict[str, str],
             default: str) -> QuerySet[Any]:
    """Apply ``?ordering=name`` (or ``-name``) through the public-name -> field map."""
    chosen = ordering or default
    descending = chosen.startswith("-")
    field = fields[chosen.lstrip("-")]
    return query.order_by(f"-{field}" if descending else field, "pk")


def no_nul(value: str) -> str:
    """A path code with a NUL character names nothing (and PostgreSQL refuses NUL)."""
    if "\x00" in value:
        raise NotFound("no such object")
    return value


WRITE_ERRORS = errors(400, 401, 403, 404, 409)


def written(serializer: type[serializers.Serializer], instance: Any,  # type: ignore[type-arg]
            request: Request, entry: dict[str, Any] | None, status: int = 200) -> Response:
    data = dict(serializer(instance, context={"request": request}).data)
    data["entry"] = entry
    return Response(data, status=status)


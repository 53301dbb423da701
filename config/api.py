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
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import exceptions, parsers, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError, InvalidInput
from ledger.models import Entry
from operators.models import Participant


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply is a 400, not a RecursionError."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


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

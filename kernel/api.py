"""What every REST view shares and that knows nothing of the project's models: the error
body, the exception handler, OpenAPI error responses, query parameters and ordering.

Errors are always JSON: ``{"error": {"status": 400, "message": "...", "fields":
{"field": ["reason"]}}}``. Domain errors map to 400/403/404/409/429; nothing a client sends
can produce a 500, and a failure of the server's own (a database error) is a JSON 500 too.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from kernel.edge import body_too_large
from kernel.edge import error_body as _body
from kernel.errors import DomainError, InvalidInput, TooManyAttempts

M = TypeVar("M", bound=Model)
log = logging.getLogger("shulian.api")


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
    if isinstance(exc, TooManyAttempts):
        return Response(_body(exc.status, exc.message), status=exc.status,
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, DatabaseError):
        # Ours, not the client's: logged with its traceback, answered without details.
        log.error("database error in %s", context.get("view"), exc_info=exc)
        set_rollback()
        return Response(_body(500, "internal server error"), status=500)
    if isinstance(exc, DomainError):
        return Response(_body(exc.status, exc.message), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors":
                                                                       exc.messages}
        return Response(_body(400, "invalid input", fields), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(_body(413, body_too_large()), status=413)
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


def int_param(request: Request, name: str, default: int | None = None,
              minimum: int = 0) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise InvalidInput(name, _("is required"))
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(name, _("must be an integer")) from None
    if value < minimum:
        raise InvalidInput(name, _("must be %(n)s or more"), n=minimum)
    return value


def orderings(*names: str) -> list[str]:
    """Ascending and descending choices for ?ordering=."""
    return [variant for name in names for variant in (name, f"-{name}")]


def order_by(query: QuerySet[M], ordering: str | None, fields: dict[str, str],
             default: str) -> QuerySet[M]:
    """Apply ``?ordering=name`` (or ``-name``) through the public-name -> field map."""
    chosen = ordering or default
    descending = chosen.startswith("-")
    field = fields[chosen.lstrip("-")]
    return query.order_by(f"-{field}" if descending else field, "pk")



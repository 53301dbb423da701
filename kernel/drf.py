"""The parser, pagination and throttles DRF's settings name. They live apart from kernel.api
because DRF loads them while its own views module is being imported, which kernel.api
imports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rest_framework import exceptions, parsers, throttling
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from kernel.edge import check_json, unstorable_reason
from kernel.errors import InvalidInput

if TYPE_CHECKING:
    from rest_framework.views import APIView

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply is a 400, not a RecursionError, and a
    string the databases cannot store is a 400 naming where it is (``kernel.edge``)."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None
        _check(data)
        return data


def _check(data: Any) -> None:
    try:
        check_json(data)
    except InvalidInput as error:
        raise exceptions.ValidationError({error.field: [error.reason]}) from None


def _check_fields(fields: Iterable[tuple[str, list[str]]]) -> None:
    """Form fields by name (one name may carry several values)."""
    _check({name: value for name, values in fields for value in values
            if unstorable_reason(name) or unstorable_reason(value)})


class FormParser(parsers.FormParser):
    """DRF's form parser, with the same check of every field as :class:`JSONParser`."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_fields(data.lists())
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, with the same check of every field and file name."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _check_fields(parsed.data.lists())
        _check_fields((name, [f.name or "" for f in files]) for name, files in
                      parsed.files.lists())
        return parsed


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200


class _MethodThrottle(throttling.SimpleRateThrottle):
    """A budget per signed-in user, or per address for anonymous clients, for either the
    reads or the writes (``DEFAULT_THROTTLE_RATES[scope]``)."""

    reads: bool

    def allow_request(self, request: Request, view: APIView) -> bool:
        if (request.method in SAFE_METHODS) != self.reads:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ReadThrottle(_MethodThrottle):
    scope = "read"
    reads = True


class WriteThrottle(_MethodThrottle):
    scope = "write"
    reads = False


class LoginThrottle(throttling.SimpleRateThrottle):
    """Sign-ins per address (on top of the lockout per account and address)."""

    scope = "login"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

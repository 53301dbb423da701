"""The parser and pagination DRF's settings name. They live apart from kernel.api because
DRF loads them while its own views module is being imported, which kernel.api imports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, parsers
from rest_framework.pagination import PageNumberPagination


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply is a 400, not a RecursionError."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


class Pagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200

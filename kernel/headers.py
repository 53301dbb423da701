"""Headers every dynamic answer carries: ``Cache-Control: no-store`` (with Django's other
never-cache headers), so that no browser, proxy or shared cache keeps a page, an API answer
or a token it showed to someone. An answer that sets its own Cache-Control keeps it; static
files are served before this (whitenoise) and stay cacheable."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

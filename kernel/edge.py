"""The input policy at the edge, one for every request: text the databases cannot store (a
NUL character; a lone UTF-16 surrogate, which is no Unicode text) is refused with a 400 that
names where it was, before any view, form or query sees it:

* a path parameter (``<str:code>`` and the like), by its name; a parameter that no route
  accepts (a malformed number, a number too large for the database) is a 404;
* a query parameter, a form field of a page, a cookie, a header, by its name;
* in an API request body, a JSON string or key anywhere (by its path: ``statement.nonce``,
  ``items[2].name``), a form field or a file name: :func:`check_json`, which the API's
  parsers (``kernel.drf``) apply when they parse the body.

Under /api/ every answer is JSON, the errors Django itself produces (404, 400, 403, 500)
included (:func:`not_found`, :func:`bad_request`, :func:`permission_denied`,
:func:`server_error`, :func:`csrf_failure`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import TemplateDoesNotExist, loader
from django.utils.translation import gettext as _
from django.views import csrf, defaults

from kernel.errors import DomainError, InvalidInput, TooManyAttempts

API_PREFIX = "/api/"
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The largest value a database integer column holds (PostgreSQL's bigint).
MAX_ID = 2**63 - 1


def is_api(request: HttpRequest) -> bool:
    """Is this a request to the REST API (answered in JSON, errors too)?"""
    return request.path_info.startswith(API_PREFIX)


def error_body(status: int, message: str,
               fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The JSON body of every API error: ``{"error": {"status", "message", "fields"?}}``."""
    error: dict[str, Any] = {"status": status, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def error_response(exc: DomainError) -> JsonResponse:
    """A domain error as the API answers it, outside DRF's views (middleware, handlers)."""
    fields = {exc.field: [exc.reason]} if isinstance(exc, InvalidInput) else None
    response = JsonResponse(error_body(exc.status, exc.message, fields), status=exc.status,
                            json_dumps_params={"ensure_ascii": False})
    if isinstance(exc, TooManyAttempts):
        response["Retry-After"] = str(exc.retry_after)
    return response


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return _("contains a NUL character, which cannot be stored")
    return _("contains a lone surrogate (U+%(code)04X), which is not text") % {
        "code": ord(found.group())}


def check_text(field: str, text: str) -> None:
    reason = unstorable_reason(text)
    if reason is not None:
        raise InvalidInput(field, reason)


def check_json(value: Any, path: str = "") -> None:
    """InvalidInput naming the first string (or key) in ``value`` that cannot be stored."""
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            check_text(where or "body", item)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                check_text(name, str(key))
                stack.append((name, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}[{n}]", child) for n, child in enumerate(item))


def _pairs(request: HttpRequest) -> Iterable[tuple[str, str]]:
    for name, values in request.GET.lists():
        yield name, name
        yield from ((name, v) for v in values)
    for name, value in request.COOKIES.items():
        yield f"cookie {name}", name + value
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str):
            yield key[5:].replace("_", "-").title(), value
    if not is_api(request) and request.method in ("POST", "PUT", "PATCH") and (
            request.content_type in ("application/x-www-form-urlencoded",
                                     "multipart/form-data")):
        for name, values in request.POST.lists():
            yield name, name
            yield from ((name, v) for v in values)
        for name, files in request.FILES.lists():
            yield from ((name, f.name or "") for f in files)


def _page(status: int, reason: str, field: str = "") -> HttpResponse:
    """The portal's page for a request refused at the edge. Rendered without the request:
    the refusal may come before the session and the user are there (no context processor
    may touch them)."""
    try:
        body: str = loader.render_to_string("400.html", {"field": field, "reason": reason})
    except TemplateDoesNotExist:
        body = f"{field}: {reason}" if field else reason
    return HttpResponse(body, status=status)


def _refusal(request: HttpRequest, error: InvalidInput) -> HttpResponse:
    if is_api(request):
        return error_response(error)
    return _page(400, error.reason, error.field)


class InputPolicyMiddleware:
    """Refuses unstorable text in the request's parameters, fields, cookies, headers and
    path parameters (JSON bodies: the API's parser, :func:`check_json`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            for field, text in _pairs(request):
                check_text(field, text)
        except InvalidInput as error:
            return _refusal(request, error)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> HttpResponse | None:
        for name, value in kwargs.items():
            if isinstance(value, str):
                reason = unstorable_reason(value)
                if reason is not None:
                    return _refusal(request, InvalidInput(name, reason))
            elif isinstance(value, int) and not 0 <= value <= MAX_ID:
                return not_found(request, None)
        return None


# --- Django's own error answers: JSON under /api/ --------------------------------------------


def _json(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return JsonResponse(error_body(status, message), status=status,
                        json_dumps_params={"ensure_ascii": False})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return _json(request, 404, "not found")
    return defaults.page_not_found(request, exception or Exception())


def body_too_large() -> str:
    return _("the request body is too large (at most %(mib)s MiB outside uploads)") % {
        "mib": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20:.3g}"}


def _bad_request_reason(exception: Exception) -> tuple[int, str]:
    """The status and the reason of a request Django refused as malformed or too large."""
    if isinstance(exception, RequestDataTooBig):
        return 413, body_too_large()
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return 400, _("the request has too many fields or files")
    return 400, _("the request is malformed")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a SuspiciousOperation: a body too large, too many fields, a host not
    allowed, ...), which may come before the session and the user are set up."""
    status, reason = _bad_request_reason(exception)
    if is_api(request):
        return _json(request, status, reason)
    return _page(status, reason)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json(request, 403, str(exception) or "forbidden")
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return _json(request, 500, "internal server error")
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if is_api(request):
        return _json(request, 403, f"CSRF check failed: {reason}")
    return csrf.csrf_failure(request, reason)

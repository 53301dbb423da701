"""The portal's 403, 404 and 500 pages: in the portal's layout and the reader's language,
with the reason the code gave and a way back (the previous page of this site, home, the
catalogue, and signing in when that would help). Under /api/ the answer is the API's JSON
error instead (kernel.edge)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views import defaults

from kernel import edge

log = logging.getLogger(__name__)


def _reason(exception: Exception | None) -> str:
    """What the code said, if it said something for people (not a resolver's dict)."""
    if exception is None or not exception.args:
        return ""
    said = exception.args[0]
    return str(said) if isinstance(said, str | Promise) else ""


def _back(request: HttpRequest) -> str:
    """The referring page when it is on this site (and not this very page)."""
    referer = request.META.get("HTTP_REFERER", "")
    parsed = urlparse(referer)
    if not referer or parsed.netloc != request.get_host():
        return ""
    return referer if parsed.path != request.path else ""


def _page(request: HttpRequest, status: int, title: str, reason: str,
          explanation: str) -> HttpResponse:
    context: dict[str, Any] = {"status": status, "title": title, "reason": reason,
                               "explanation": explanation, "back": _back(request),
                               "section": ""}
    return HttpResponse(loader.render_to_string("portal/error.html", context, request),
                        status=status)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if edge.is_api(request):
        return edge.permission_denied(request, exception or Exception())
    return _page(request, 403, _("Not allowed"), _reason(exception),
                 _("Your account may not open this page or take this step."))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if edge.is_api(request):
        return edge.not_found(request, exception)
    return _page(request, 404, _("Not found"), _reason(exception),
                 _("There is no such page, or it is not shown to your account."))


def server_error(request: HttpRequest) -> HttpResponse:
    """The error page in the layout; if even that fails (say, the database is down),
    Django's plain one."""
    if edge.is_api(request):
        return edge.server_error(request)
    try:
        return _page(request, 500, _("Something went wrong"), "",
                     _("The error was logged. Nothing was half-written: a change and its "
                       "ledger entry commit together or not at all. Try again in a "
                       "moment."))
    except Exception:  # noqa: BLE001 - the last resort must not fail
        log.exception("the portal's error page failed; serving Django's plain one")
        response: HttpResponse = defaults.server_error(request)
        return response if response.status_code == 500 else HttpResponseServerError()

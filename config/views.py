"""Project-level pages that belong to no single app."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from ledger import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"status": selectors.status()})


def healthz(request: HttpRequest) -> JsonResponse:
    status = selectors.status()
    return JsonResponse({"ok": True, "ledger_size": status.size})

"""Project-level pages that belong to no single app: the home page and the task inbox."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from catalog.models import DataProduct, DataResource, ProductStatus, ResourceStatus
from contracts.models import Delivery, Objection, Order
from ledger import integrator, selectors
from operators import authz
from operators.models import Participant, Status
from portal import inbox as tasks


def _figures() -> dict[str, Any]:
    return {
        "resources": DataResource.objects.filter(status=ResourceStatus.PUBLISHED).count(),
        "products": DataProduct.objects.filter(status=ProductStatus.LISTED).count(),
        "participants": Participant.objects.filter(status=Status.ADMITTED).count(),
        "deliveries": Delivery.objects.count(),
        "orders": Order.objects.count(),
        "open_objections": Objection.objects.filter(state__in=Objection.OPEN_STATES).count(),
    }


def home(request: HttpRequest) -> HttpResponse:
    """What Shulian is, what each role does here, the ledger's state and a catalogue search."""
    status = selectors.status()
    settlement = selectors.settlement(status.checkpoint) if status.checkpoint else None
    kinds = authz.kinds_of(request.user)
    todo = tasks.items(request.user)[:5] if request.user.is_authenticated else []
    return render(request, "home.html", {
        "section": "home", "status": status, "settlement": settlement,
        "figures": _figures(), "kinds": kinds, "todo": todo,
        "has_participant": bool(kinds),
    })


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    found = tasks.items(request.user)
    return render(request, "inbox.html", {
        "section": "inbox", "items": found,
        "overdue": sum(1 for item in found if item.overdue),
    })


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: 200 when queued statements are integrated within the
    bound, 503 saying why not."""
    status = selectors.status()
    found = integrator.health()
    return JsonResponse({"ok": found.ok, "ledger_size": status.size,
                         "integration": found.to_json()}, status=200 if found.ok else 503)

"""A user's task inbox: what awaits their action across the apps, soonest deadline first.

Only what this user may act on now: provider managers see requests and objections about
their resources, the data authority's reviewers see registrations, products, escalated
requests and appeals, parties see agreements and orders awaiting their step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import DataProduct, ProductStatus
from contracts.models import Objection, OperationAgreement, Order, SharingRequest
from operators import authz
from operators.models import Kind, Participant, Role, Status


@dataclass(frozen=True)
class Item:
    kind: str
    what: str
    title: str
    url: str
    due: datetime | None = None

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due < timezone.now()


def _reviewer_of_authority(user: authz.User) -> bool:
    return authz.participants_of(user).filter(
        kind=Kind.AUTHORITY, status=Status.ADMITTED,
        memberships__user=user, memberships__role__in=[Role.ADMIN, Role.REVIEWER]).exists()


def _registrations(user: authz.User) -> list[Item]:
    found = Participant.objects.filter(status__in=[Status.APPLIED, Status.UNDER_REVIEW])
    return [Item("registration", _("Review the registration"), p.name_zh,
                 reverse("operators:detail", args=[p.code])) for p in found.order_by("created")]


def _products(user: authz.User) -> list[Item]:
    found = DataProduct.objects.filter(status=ProductStatus.SUBMITTED).order_by("updated")
    return [Item("product", _("Review the product for listing"), p.name,
                 reverse("catalog:product", args=[p.code])) for p in found]


def _requests(mine: list[Participant], authority: bool) -> list[Item]:
    pending = SharingRequest.objects.filter(state=SharingRequest.State.PENDING)
    query = Q(resource__provider__in=mine)
    if authority:
        query |= Q(escalated_at__isnull=False)
    found = pending.filter(query).select_related("resource", "requester").order_by("due")
    return [Item("request", _("Decide the sharing request"),
                 f"#{r.pk} {r.resource.name} — {r.requester.name_zh}",
                 reverse("contracts:request", args=[r.pk]), r.due) for r in found]


def _objections(mine: list[Participant], authority: bool) -> list[Item]:
    steps = {
        Objection.State.FILED: (_("Accept or decline the objection"), "accept_due"),
        Objection.State.ACCEPTED: (_("Start verifying the objection"), "resolve_due"),
        Objection.State.VERIFYING: (_("Resolve the objection"), "resolve_due"),
        Objection.State.APPEALED: (_("Re-examine the appeal"), None),
    }
    handling = Q(resource__provider__in=mine,
                 state__in=[Objection.State.FILED, Objection.State.ACCEPTED,
                            Objection.State.VERIFYING])
    if authority:
        handling |= Q(state=Objection.State.APPEALED) | Q(
            escalated_at__isnull=False, state__in=[Objection.State.FILED,
                                                   Objection.State.ACCEPTED,
                                                   Objection.State.VERIFYING])
    found = Objection.objects.filter(handling).select_related("resource")
    items = []
    for o in found.order_by("pk"):
        what, due_field = steps[Objection.State(o.state)]
        items.append(Item("objection", str(what), f"#{o.pk} {o.resource.name}",
                          reverse("contracts:objection", args=[o.pk]),
                          getattr(o, due_field) if due_field else None))
    return items


def _agreements(user: authz.User, mine: list[Participant], authority: bool) -> list[Item]:
    drafts = OperationAgreement.objects.filter(state=OperationAgreement.State.DRAFT)
    query = Q(operator__in=mine, operator_signed_seq__isnull=True)
    if authority:
        query |= Q(authority__in=mine, authority_signed_seq__isnull=True)
    return [Item("agreement", _("Sign the agreement"), f"{a.code} — {a.operator.name_zh}",
                 reverse("contracts:agreement", args=[a.code]))
            for a in drafts.filter(query).select_related("operator").order_by("created")]


def _orders(mine: list[Participant], authority: bool) -> list[Item]:
    S = Order.State
    query = (Q(state=S.ORDERED, buyer__in=mine, buyer_signed_seq__isnull=True)
             | Q(state=S.ORDERED, seller__in=mine, seller_signed_seq__isnull=True)
             | Q(state=S.CONTRACTED, seller__in=mine)
             | Q(state=S.DELIVERED, buyer__in=mine)
             | Q(state=S.ACCEPTED, seller__in=mine)
             | Q(state=S.SETTLED, seller__in=mine))
    if authority:
        query |= Q(state=S.DISPUTED)
    what = {S.ORDERED: _("Sign the contract"), S.CONTRACTED: _("Deliver the order"),
            S.DELIVERED: _("Accept or dispute the delivery"),
            S.ACCEPTED: _("Record the settlement"),
            S.DISPUTED: _("Settle the disputed order"), S.SETTLED: _("Close the order")}
    found = Order.objects.filter(query).select_related("product").order_by("created")
    return [Item("order", str(what[S(o.state)]), f"{o.code} — {o.product.name}",
                 reverse("contracts:order", args=[o.code])) for o in found]


def items(user: authz.User) -> list[Item]:
    """Everything awaiting ``user``'s action; dated items first, soonest (overdue) first."""
    if not user.is_authenticated:
        return []
    mine = list(authz.participants_of(user).filter(status=Status.ADMITTED))
    providers = [p for p in mine if p.kind == Kind.PROVIDER]
    authority = _reviewer_of_authority(user)
    found: list[Item] = []
    if authority:
        found += _registrations(user) + _products(user)
    found += _requests(providers, authority)
    found += _objections(providers, authority)
    found += _agreements(user, mine, authority)
    found += _orders(mine, authority)
    far = timezone.now().replace(year=9999)
    return sorted(found, key=lambda item: (item.due is None, item.due or far))


def count(user: authz.User) -> int:
    return len(items(user))

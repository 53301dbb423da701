"""A user's task inbox: what awaits their action across the apps, soonest deadline first.

An object is in the inbox when it is in a state where it waits for someone's step, the
user may see it (``policy.visibility``) and one of that step's actions is among
``policy.actions.available_actions`` for the user: the same table the services apply, so
the inbox never lists what the user could not do, nor leaves out what they could.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import DataProduct, ProductStatus
from contracts import deadlines
from contracts.models import (
    ErasureRequest,
    Objection,
    OperationAgreement,
    Order,
    SharingRequest,
)
from operators import authz
from operators.models import Participant, Status
from policy import visibility
from policy.actions import available_actions


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


@dataclass(frozen=True)
class Task:
    """Objects of ``model`` in ``state`` wait for one of ``actions``, described by
    ``what``; ``title``, ``url`` and ``due`` say which one and by when."""

    kind: str
    model: type[Model]
    state: str
    actions: frozenset[str]
    what: Callable[[], str]
    title: Callable[[Any], str]
    url: Callable[[Any], str]
    due: Callable[[Any], datetime | None] = lambda obj: None
    field: str = "state"


def _tasks() -> list[Task]:
    OS, AS, RS = Objection.State, OperationAgreement.State, Order.State
    ES = ErasureRequest.State

    def objection(state: str, actions: Iterable[str], what: Callable[[], str]) -> Task:
        return Task("objection", Objection, state, frozenset(actions), what,
                    lambda o: f"#{o.pk} {o.resource.name}",
                    lambda o: reverse("contracts:objection", args=[o.pk]),
                    deadlines.objection_due)

    def order(state: str, actions: Iterable[str], what: Callable[[], str]) -> Task:
        return Task("order", Order, state, frozenset(actions), what,
                    lambda o: f"{o.code} — {o.product.name}",
                    lambda o: reverse("contracts:order", args=[o.code]))

    def erasure(state: str, actions: Iterable[str], what: Callable[[], str]) -> Task:
        return Task("erasure", ErasureRequest, state, frozenset(actions), what,
                    lambda r: _("Erasure request #%(n)s") % {"n": r.pk},
                    lambda r: reverse("privacy:erasure", args=[r.pk]), lambda r: r.due)

    def registration(state: str) -> Task:
        return Task("registration", Participant, state, frozenset({"start_review", "admit",
                                                                   "reject"}),
                    lambda: _("Review the registration"), lambda p: p.name_zh,
                    lambda p: reverse("operators:detail", args=[p.code]), field="status")

    return [
        registration(Status.APPLIED), registration(Status.UNDER_REVIEW),
        Task("product", DataProduct, ProductStatus.SUBMITTED, frozenset({"list", "reject"}),
             lambda: _("Review the product for listing"), lambda p: p.name,
             lambda p: reverse("catalog:product", args=[p.code]), field="status"),
        Task("request", SharingRequest, SharingRequest.State.PENDING,
             frozenset({"approve", "refuse"}), lambda: _("Decide the sharing request"),
             lambda r: f"#{r.pk} {r.resource.name} — {r.requester.name_zh}",
             lambda r: reverse("contracts:request", args=[r.pk]), lambda r: r.due),
        objection(OS.FILED, {"accept", "not_accept"},
                  lambda: _("Accept or decline the objection")),
        objection(OS.ACCEPTED, {"start_verification"},
                  lambda: _("Start verifying the objection")),
        objection(OS.VERIFYING, {"correct", "uphold", "dismiss"},
                  lambda: _("Resolve the objection")),
        objection(OS.APPEALED, {"close"}, lambda: _("Re-examine the appeal")),
        erasure(ES.FILED, {"approve", "refuse"}, lambda: _("Decide the erasure request")),
        erasure(ES.APPEALED, {"approve", "uphold"},
                lambda: _("Re-examine the refused erasure")),
        Task("agreement", OperationAgreement, AS.DRAFT, frozenset({"sign"}),
             lambda: _("Sign the agreement"), lambda a: f"{a.code} — {a.operator.name_zh}",
             lambda a: reverse("contracts:agreement", args=[a.code])),
        order(RS.ORDERED, {"sign"}, lambda: _("Sign the contract")),
        order(RS.CONTRACTED, {"notarise"}, lambda: _("Notarise the contract")),
        order(RS.CONTRACTED, {"deliver"}, lambda: _("Deliver the order")),

        order(RS.DELIVERED, {"accept", "dispute"}, lambda: _("Accept or dispute the delivery")),
        order(RS.ACCEPTED, {"settle"}, lambda: _("Record the settlement")),
        order(RS.DISPUTED, {"settle"}, lambda: _("Settle the disputed order")),
        order(RS.SETTLED, {"close"}, lambda: _("Close the order")),
    ]


def _waiting(user: authz.User, task: Task) -> QuerySet[Any]:
    return visibility.visible(user, task.model).filter(**{task.field: task.state}).order_by("pk")


def items(user: authz.User) -> list[Item]:
    """Everything awaiting ``user``'s action; dated items first, soonest (overdue) first."""
    if not user.is_authenticated or not authz.participants(user):
        return []
    found: list[Item] = []
    for task in _tasks():
        for obj in _waiting(user, task):
            if task.actions & set(available_actions(user, obj)):
                found.append(Item(task.kind, task.what(), task.title(obj), task.url(obj),
                                  task.due(obj)))
    far = timezone.now().replace(year=9999)
    return sorted(found, key=lambda item: (item.due is None, item.due or far))


def count(user: authz.User) -> int:
    return len(items(user))

"""The one way a state machine's transition is taken: lock the row, check who acts and
whether the state allows it (``kernel.states.Machine.permit``), change the object, record
one ledger entry, all in one transaction. Every workflow's transitions go through ``take``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.db.models import Model

from kernel import request_cache
from kernel.errors import NotPermitted
from kernel.states import Machine
from ledger import services as ledger
from ledger.models import Entry

M = TypeVar("M", bound=Model)


class Platform:
    """The platform itself as the actor (escalations, expiries, automatic decisions):
    its entries are signed by the ledger key, with the origin as actor."""

    code = ""

    def __str__(self) -> str:
        return "the platform"


PLATFORM = Platform()


def platform(user: Any, obj: Any) -> Platform:
    """Guard of the transitions only the platform takes (``by=None``)."""
    if user is not None:
        raise NotPermitted("only the platform takes this step, on its schedule")
    return PLATFORM


@dataclass
class Change:
    """What a transition's ``change`` callback adds: payload fields, the entry's actor
    when it is not the guard's (a person filing for no participant), and whether the
    payload is restricted."""

    extra: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    restricted: bool = False


@dataclass(frozen=True)
class Recorded(Generic[M]):
    """How a machine's transitions go on the ledger: the entry kind per action, the
    subject and base payload of the object, and how to lock its row."""

    kind: Callable[[str], str]
    subject: Callable[[M], str]
    payload: Callable[[M], dict[str, Any]]
    related: tuple[str, ...] = ()


def actor_code(actor: Any) -> str:
    return str(getattr(actor, "code", "") or ledger.origin())


def lock(obj: M, related: tuple[str, ...] = ()) -> M:
    query = type(obj)._default_manager.select_for_update(of=("self",))
    if related:
        query = query.select_related(*related)
    return query.get(pk=obj.pk)


def take(machine: Machine[M], recorded: Recorded[M], obj: M, action: str, *,
         by: Any, change: Callable[[M, Any], Change | dict[str, Any] | None] | None = None,
         after: Callable[[M, Any, Entry], None] | None = None) -> M:
    """Take ``action`` on ``obj`` for ``by`` (None: the platform) and return the changed
    object. ``change(locked, actor)`` validates the step's input and sets fields; it runs
    after the permission and state checks, so a refusal never depends on the input."""
    with request_cache.scope(), transaction.atomic():
        locked = lock(obj, recorded.related)
        step = machine.permit(by, locked, action)
        outcome = change(locked, step.actor) if change is not None else None
        if not isinstance(outcome, Change):
            outcome = Change(extra=dict(outcome or {}))
        setattr(locked, machine.field, step.target)
        locked.save()
        entry = ledger.record(
            actor=outcome.actor or actor_code(step.actor), kind=recorded.kind(action),
            subject=recorded.subject(locked),
            payload={**recorded.payload(locked), **outcome.extra},
            restricted=outcome.restricted)
        if after is not None:
            after(locked, step.actor, entry)
            locked.save()
    return locked

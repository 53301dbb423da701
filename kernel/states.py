"""Explicit state machines: per transition, the states it leaves, the state it reaches, who
may take it and what else must hold.

``Machine.permit(user, obj, action)`` decides everything about one transition: who acts
(NotPermitted when the user may not), whether the object's state allows it and whether
anything else blocks it now (IllegalTransition). ``Machine.available(user, obj)`` is the
list of actions ``permit`` would allow, so the portal's buttons, the inbox and the API's
action endpoints follow the same table as the services.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from kernel.errors import DomainError, IllegalTransition

Obj = TypeVar("Obj")

# (user, obj) -> the actor who takes the transition; raises NotPermitted saying why not.
Guard = Callable[[Any, Obj], Any]
# (obj, actor) -> why the transition cannot be taken now (409), or None.
Blocker = Callable[[Obj, Any], StrOrPromise | None]

# (obj, actor) -> the state reached, for a transition whose target depends on the object.
Target = str | Callable[[Obj, Any], str]


@dataclass(frozen=True)
class Transition(Generic[Obj]):
    """One row of a machine's table."""

    action: str
    sources: tuple[str, ...]
    target: Target[Obj]
    who: Guard[Obj]
    blocked: Blocker[Obj] | None = None

    def reached(self, obj: Obj, actor: Any) -> str:
        return self.target if isinstance(self.target, str) else self.target(obj, actor)


@dataclass(frozen=True)
class Step(Generic[Obj]):
    """A permitted transition: who takes it and the state it reaches."""

    transition: Transition[Obj]
    actor: Any
    target: str

    @property
    def action(self) -> str:
        return self.transition.action


class Machine(Generic[Obj]):
    """A table of transitions over the attribute ``field`` (default ``state``)."""

    def __init__(self, name: str, transitions: Sequence[Transition[Obj]], *,
                 field: str = "state") -> None:
        self.name = name
        self.transitions = tuple(transitions)
        self.field = field

    def state_of(self, obj: Obj) -> str:
        return str(getattr(obj, self.field))

    def transition(self, state: str, action: str) -> Transition[Obj] | None:
        for row in self.transitions:
            if row.action == action and state in row.sources:
                return row
        return None

    def actions(self, state: str) -> list[str]:
        """The actions the table has from ``state``, in table order."""
        found: list[str] = []
        for row in self.transitions:
            if state in row.sources and row.action not in found:
                found.append(row.action)
        return found

    def all_actions(self) -> list[str]:
        found: list[str] = []
        for row in self.transitions:
            if row.action not in found:
                found.append(row.action)
        return found

    def table(self) -> dict[tuple[str, str], Target[Obj]]:
        """{(state, action): target} for every row and every state it leaves."""
        return {(source, row.action): row.target for row in self.transitions
                for source in row.sources}

    def states(self) -> set[str]:
        found: set[str] = set()
        for row in self.transitions:
            found.update(row.sources)
            if isinstance(row.target, str):
                found.add(row.target)
        return found

    def check(self, state: str, action: str) -> str:
        """The state ``action`` reaches from ``state`` (for a fixed target), or
        IllegalTransition naming the actions allowed."""
        row = self.transition(state, action)
        if row is None:
            raise self._illegal(state, action)
        if not isinstance(row.target, str):
            raise TypeError(f"{self.name} '{action}' has a target that depends on the object")
        return row.target

    def _illegal(self, state: str, action: str) -> IllegalTransition:
        allowed = ", ".join(self.actions(state)) or "—"
        return IllegalTransition(
            _("%(machine)s in state '%(state)s' cannot '%(action)s' (allowed: %(allowed)s)"),
            machine=self.name, state=state, action=action, allowed=allowed)

    def permit(self, user: Any, obj: Obj, action: str) -> Step[Obj]:
        """Who takes ``action`` on ``obj`` and the state it reaches. The permission is
        checked first (NotPermitted), then the state and the blockers (IllegalTransition)."""
        state = self.state_of(obj)
        row = self.transition(state, action)
        guard = row or next((r for r in self.transitions if r.action == action), None)
        if guard is None:
            raise IllegalTransition(_("%(machine)s has no action '%(action)s'"),
                                    machine=self.name, action=action)

        actor = guard.who(user, obj)
        if row is None:
            raise self._illegal(state, action)
        reason = row.blocked(obj, actor) if row.blocked is not None else None
        if reason:
            raise IllegalTransition(reason)
        return Step(row, actor, row.reached(obj, actor))

    def available(self, user: Any, obj: Obj) -> list[str]:
        """The actions ``user`` may take on ``obj`` now: exactly those ``permit`` allows."""
        found = []
        for action in self.actions(self.state_of(obj)):
            try:
                self.permit(user, obj, action)
            except DomainError:
                continue
            found.append(action)
        return found

"""Explicit state machines: a table of allowed transitions per model.

``Machine.check(state, action)`` returns the next state or raises IllegalTransition, so a
service checks before it changes anything, and the table is the single source of truth
for the portal's buttons and the API's 409s.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.errors import IllegalTransition


@dataclass(frozen=True)
class Machine:
    name: str
    transitions: dict[tuple[str, str], str]

    def check(self, state: str, action: str) -> str:
        target = self.transitions.get((state, action))
        if target is None:
            allowed = ", ".join(self.actions(state)) or "none"
            raise IllegalTransition(
                f"{self.name} in state '{state}' cannot '{action}' (allowed: {allowed})"
            )
        return target

    def actions(self, state: str) -> list[str]:
        return [action for (source, action) in self.transitions if source == state]

    def states(self) -> set[str]:
        return {s for s, _ in self.transitions} | set(self.transitions.values())

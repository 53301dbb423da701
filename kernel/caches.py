"""The process's caches, each registered here so that they can be emptied together.

A cache of database rows lives in one process and is never the record: each module that
keeps one says how long an entry may be reused and what happens when it is stale. Tests
empty them all before each test (a rolled-back test must not leave rows behind in memory).
"""

from __future__ import annotations

from collections.abc import Callable

_clearers: list[Callable[[], None]] = []


def register(clear: Callable[[], None]) -> Callable[[], None]:
    """Register a function that empties one cache; returns it (usable as a decorator)."""
    _clearers.append(clear)
    return clear


def clear_all() -> None:
    for clear in _clearers:
        clear()

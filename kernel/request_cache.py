"""What one request (or one service call) reads once: a cache that lives as long as it.

A request asks the same questions many times — whom does this person act for, in which
role — and the answers may not change under it. The middleware opens a scope around each
request, and services open one around their own work (a nested scope is the outer one);
outside any scope nothing is cached. Whatever changes an answer empties the scope
(:func:`forget`), so that the rest of the request reads afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_current: ContextVar[dict[Hashable, Any] | None] = ContextVar("shulian_request_cache",
                                                              default=None)


@contextmanager
def scope() -> Iterator[None]:
    if _current.get() is not None:
        yield
        return
    token = _current.set({})
    try:
        yield
    finally:
        _current.reset(token)


def scoped(function: F) -> F:
    """Run ``function`` in a scope (the caller's, if it has one)."""

    @wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with scope():
            return function(*args, **kwargs)

    return run  # type: ignore[return-value]


def remembered(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per scope for ``key`` (every time, outside a scope)."""
    cache = _current.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    found: T = cache[key]
    return found


def forget() -> None:
    """Empty the current scope: something it remembered may have changed."""
    cache = _current.get()
    if cache is not None:
        cache.clear()


class RequestCacheMiddleware:
    """One scope per request."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        with scope():
            return self.get_response(request)

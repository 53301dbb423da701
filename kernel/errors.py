"""Domain errors shared by every app. Interfaces map them: 400, 403, 404, 409.

Services raise these, never HTTP or form errors, so the web portal, the API, management
commands and tasks all report the same cause in the same words. The words are translated
lazily: a service raises ``NotFound(_("no resource %(code)s"), code=code)`` with ``_`` being
``gettext_lazy``; the message is put together, in the language active then, only when it is
read (``message``, ``reason`` or ``str()``), so an API answer, a portal page and a command
each get it in their reader's language. Times in a message are written by
:func:`kernel.times.local` (Asia/Shanghai).
"""

from __future__ import annotations

from typing import Any

from django_stubs_ext import StrOrPromise


def _formatted(template: StrOrPromise, params: dict[str, Any]) -> str:
    text = str(template)
    if not params:
        return text
    return text % {name: str(value) if not isinstance(value, int | float) else value
                   for name, value in params.items()}


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400

    def __init__(self, message: StrOrPromise, /, **params: Any) -> None:
        super().__init__(message)
        self.template = message
        self.params = params

    @property
    def message(self) -> str:
        """The message in the language active now."""
        return _formatted(self.template, self.params)

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """Bad input: ``field`` names it, ``reason`` says what is wrong (HTTP 400)."""

    def __init__(self, field: str, reason: StrOrPromise, /, **params: Any) -> None:
        super().__init__(reason, **params)
        self.field = field

    @property
    def reason(self) -> str:
        return _formatted(self.template, self.params)

    @property
    def message(self) -> str:
        return f"{self.field}: {self.reason}"


class NotPermitted(DomainError):
    """The actor may see the object but not do this to it (HTTP 403)."""

    status = 403


class NotFound(DomainError):
    """No such object, or the actor may not see it: the two look alike (HTTP 404)."""

    status = 404


class IllegalTransition(DomainError):
    """The object's state does not allow this action; nothing was changed (HTTP 409)."""

    status = 409


class TooManyAttempts(DomainError):
    """Refused for now (a lockout, a spent budget): try again in ``retry_after`` seconds
    (HTTP 429 with Retry-After)."""

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

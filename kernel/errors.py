"""Domain errors shared by every app. Interfaces map them: 400, 403, 404, 409.

Services raise these, never HTTP or form errors, so the web portal, the API, management
commands and tasks all report the same cause in the same words.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """Bad input: ``field`` names it, ``reason`` says what is wrong (HTTP 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


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

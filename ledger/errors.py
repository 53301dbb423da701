"""Errors of the ledger app."""

from kernel.errors import InvalidInput


class AppendRefused(InvalidInput):
    """A statement was refused before anything was written; ``field`` names the cause."""


class KeyRefused(InvalidInput):
    """A key could not be registered, rotated or revoked."""

"""Errors of the ledger app."""

from __future__ import annotations

from kernel.errors import InvalidInput
from ledger.protocol.rules import Code, Refusal


class AppendRefused(InvalidInput):
    """A statement was refused before anything was written; ``field`` names the cause and
    ``code`` is the format rule it breaks (ledger.protocol.rules.Code)."""

    def __init__(self, field: str, reason: str, code: str = Code.FORMAT, *,
                 index: int | None = None) -> None:
        super().__init__(field, reason)
        self.code = code
        self.index = index  # which statement of a batch, when the batch is refused

    @classmethod
    def of(cls, refusal: Refusal, index: int | None = None) -> AppendRefused:
        return cls(refusal.field, refusal.reason, refusal.code, index=index)


NO_CUSTODY = "no-custodial-key"  # not a format rule: the server holds no key for the actor


class KeyRefused(InvalidInput):
    """A key could not be registered, rotated or revoked."""


class NotInTransaction(RuntimeError):
    """An append outside ``transaction.atomic()``: the change it records and the entry must
    commit together, so the ledger refuses to commit an entry on its own."""


class LedgerKeyMissing(RuntimeError):
    """The ledger has entries but no live ledger key: its key cache is damaged."""

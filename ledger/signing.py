"""Statements the server signs with custodial keys, and ``record``, which other apps call.

A custodial statement's ``time`` is the later of the clock and the newest ``recorded`` this
process has seen, so that after the clock steps back it still lies within five minutes of
the ``recorded`` the ledger will give it (``recorded`` never decreases).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from crypto.sm2 import PrivateKey
from ledger import conf, custody, store
from ledger.append import append_many
from ledger.errors import AppendRefused
from ledger.integration import Submission, require_transaction
from ledger.models import Entry, LedgerKey
from ledger.protocol.format import (
    VERSION,
    FormatError,
    b64encode,
    commitment,
    format_time,
    new_salt,
    payload_bytes,
    statement_bytes,
)
from ledger.protocol.rules import Code


def statement_time() -> datetime:
    """The time to sign a statement with now (see the module's docstring)."""
    now = conf.now()
    seen = store.last_recorded()
    return seen if seen is not None and seen > now else now


def sign_with(private: PrivateKey, *, actor: str, kind: str, subject: str, payload: Any,
              time: datetime | None = None, nonce: str | None = None) -> Submission:
    """Build and sign a statement about ``payload`` with ``private`` (no append)."""
    salt = new_salt()
    try:
        digest = commitment(salt, payload_bytes(payload))
    except FormatError as exc:
        raise AppendRefused(exc.field, exc.reason) from None
    statement = {
        "v": VERSION, "ledger": conf.origin(), "kind": kind, "actor": actor,
        "key": private.public_key.key_id, "subject": subject, "payload": digest,
        "nonce": nonce or secrets.token_hex(16), "time": format_time(time or statement_time()),
    }
    signature = private.sign(statement_bytes(statement))
    return Submission(statement, b64encode(signature), payload, b64encode(salt))


# Refusals that a held key earns when another process (or a rolled-back transaction) has
# changed the registry since it was unsealed: drop it and sign again with a fresh lookup.
_STALE_KEY = (Code.KEY_ENDED, Code.KEY_UNKNOWN, Code.KEY_WINDOW)


def _custodial(actor: str, key: LedgerKey | None) -> tuple[PrivateKey, bool]:
    """The private key to sign with, and whether it was held in memory."""
    if key is not None:
        return custody.unsealed(key), False
    # the key valid at the time the statement will carry, not at the wall clock's
    return custody.signer(actor, statement_time())


def sign_statement(*, actor: str, kind: str, subject: str, payload: Any,
                   key: LedgerKey | None = None, time: datetime | None = None) -> Submission:
    """Build and sign a statement with ``actor``'s custodial key (no append)."""
    return sign_with(_custodial(actor, key)[0], actor=actor, kind=kind, subject=subject,
                     payload=payload, time=time)


def record(*, actor: str, kind: str, subject: str, payload: Any, restricted: bool = False,
           key: LedgerKey | None = None) -> Entry:
    """Sign with ``actor``'s custodial key and append; for server-side actions.

    Call it inside the transaction that makes the change it records. If the append is
    refused because the key was replaced meanwhile (a rotation took the lock first), or
    because another process recorded later than this one's clock says, the statement is
    signed once more, with the successor or that later time; so is a statement signed with
    a key held in memory (:mod:`ledger.custody`) that the registry no longer lets sign.
    """
    require_transaction()
    private, held = _custodial(actor, key)
    time: datetime | None = None
    for attempt in range(3):
        sub = sign_with(private, actor=actor, kind=kind, subject=subject, payload=payload,
                        time=time)
        try:
            return append_many([Submission(sub.statement, sub.signature, sub.payload, sub.salt,
                                           restricted)])[0]
        except AppendRefused as exc:
            if attempt == 2 or key is not None and exc.code != Code.TIME_WINDOW:
                raise
            if exc.code in _STALE_KEY and (held or exc.code == Code.KEY_ENDED):
                custody.forget(actor)
                private, held = _custodial(actor, None)
            elif exc.code == Code.TIME_WINDOW:
                time = store.tail().recorded
            else:
                raise
    raise AssertionError("unreachable")  # pragma: no cover

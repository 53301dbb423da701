"""Statements the server signs with custodial keys, and ``record``, which other apps call.

A custodial statement's ``time`` is the later of the clock and the newest ``recorded`` this
process has seen, so that after the clock steps back it still lies within five minutes of
the ``recorded`` the ledger will give it (``recorded`` never decreases).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from crypto.sm2 import PrivateKey
from ledger import conf, keyring, keystore, store
from ledger.append import Submission, append_many, require_transaction
from ledger.errors import NO_CUSTODY, AppendRefused
from ledger.models import CustodialKey, Entry, LedgerKey
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


def _custodial(actor: str, key: LedgerKey | None) -> PrivateKey:
    # the key valid at the time the statement will carry, not at the wall clock's
    signing = key or keystore.usable_signing_key(actor, statement_time())
    try:
        custody = signing.custody
    except CustodialKey.DoesNotExist:
        raise AppendRefused("actor", _("%(actor)s has no custodial key on this server"),
                            NO_CUSTODY, actor=actor) from None
    return keyring.unseal(custody)


def sign_statement(*, actor: str, kind: str, subject: str, payload: Any,
                   key: LedgerKey | None = None, time: datetime | None = None) -> Submission:
    """Build and sign a statement with ``actor``'s custodial key (no append)."""
    return sign_with(_custodial(actor, key), actor=actor, kind=kind, subject=subject,
                     payload=payload, time=time)


def record(*, actor: str, kind: str, subject: str, payload: Any, restricted: bool = False,
           key: LedgerKey | None = None) -> Entry:
    """Sign with ``actor``'s custodial key and append; for server-side actions.

    Call it inside the transaction that makes the change it records. If the append is
    refused because the key was replaced meanwhile (a rotation took the lock first), or
    because another process recorded later than this one's clock says, the statement is
    signed once more, with the successor or that later time.
    """
    require_transaction()
    private = _custodial(actor, key)
    time: datetime | None = None
    for attempt in range(2):
        sub = sign_with(private, actor=actor, kind=kind, subject=subject, payload=payload,
                        time=time)
        try:
            return append_many([Submission(sub.statement, sub.signature, sub.payload, sub.salt,
                                           restricted)])[0]
        except AppendRefused as exc:
            if attempt or exc.code not in (Code.TIME_WINDOW, Code.KEY_ENDED):
                raise
            if exc.code == Code.KEY_ENDED:
                if key is not None:
                    raise
                private = _custodial(actor, None)
            else:
                time = store.tail().recorded
    raise AssertionError("unreachable")  # pragma: no cover

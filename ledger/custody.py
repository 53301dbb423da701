"""Custodial keys held unsealed in this process for a short time.

Signing a statement for an actor needs that actor's current custodial key: a lookup in the
key cache and an SM4 unsealing under the master key. A domain action signs one statement,
and a busy actor signs many a second; so the key, once unsealed, is held in memory for
``SHULIAN_CUSTODY_HOLD_SECONDS`` (default 30; 0 holds nothing), then dropped.

Holding a key never lets it sign what it may not: the append path judges every statement by
the key's position in the chain. If the held key was rotated, revoked or never committed
(another process, or a transaction rolled back), its statement is refused, and
:func:`ledger.signing.record` drops the key and signs once more with a fresh lookup. Changes
of the key registry made in this process drop the owner's key at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection

from crypto.sm2 import PrivateKey
from kernel import caches
from ledger import keyring, keystore
from ledger.errors import NO_CUSTODY, AppendRefused
from ledger.models import CustodialKey, LedgerKey


@dataclass(frozen=True)
class Held:
    key_id: str
    valid_from: datetime
    valid_until: datetime | None
    private: PrivateKey
    until: float  # time.monotonic() after which it is dropped

    def signs_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None
                                              or moment < self.valid_until)


_held: dict[tuple[str, str], Held] = {}
_lock = threading.Lock()
_swept = 0.0


def _slot(actor: str) -> tuple[str, str]:
    return str(connection.settings_dict["NAME"]), actor


def hold_seconds() -> float:
    return float(settings.SHULIAN_CUSTODY_HOLD_SECONDS)


def unsealed(key: LedgerKey) -> PrivateKey:
    """The private key of a custodial key row (NO_CUSTODY if the server does not hold it)."""
    try:
        custody = key.custody
    except CustodialKey.DoesNotExist:
        raise AppendRefused("actor", f"{key.owner!r} has no custodial key on this server",
                            NO_CUSTODY) from None
    return keyring.unseal(custody)


def signer(actor: str, at: datetime) -> tuple[PrivateKey, bool]:
    """``actor``'s custodial private key that may sign a statement dated ``at``, and whether
    it came from memory (the caller drops it with :func:`forget` if it is refused)."""
    slot = _slot(actor)
    now = time.monotonic()
    with _lock:
        _sweep(now)
        held = _held.get(slot)
    if held is not None and held.until > now and held.signs_at(at):
        return held.private, True
    key = keystore.usable_signing_key(actor, at)
    private = unsealed(key)
    seconds = hold_seconds()
    if seconds > 0:
        with _lock:
            _held[slot] = Held(key.key_id, key.valid_from, key.valid_until, private,
                               now + seconds)
    return private, False


def _sweep(now: float) -> None:
    """Drop the keys whose time is up (at most once a second); the caller holds _lock."""
    global _swept
    if now - _swept < 1.0:
        return
    _swept = now
    for slot in [slot for slot, held in _held.items() if held.until <= now]:
        del _held[slot]


@caches.register
def forget_all() -> None:
    forget()


def forget(actor: str | None = None) -> None:
    """Drop ``actor``'s held key (every held key, with no actor)."""
    with _lock:
        if actor is None:
            _held.clear()
        else:
            _held.pop(_slot(actor), None)

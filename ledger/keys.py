"""Reads of the key registry that the append path needs."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q

from crypto.sm2 import PublicKey
from ledger.errors import AppendRefused
from ledger.models import KeyUse, LedgerKey

_PUBLIC_KEYS: dict[str, PublicKey] = {}


def public_key(key: LedgerKey) -> PublicKey:
    """The parsed public key, cached per key id (a key id fixes its PEM for ever)."""
    cached = _PUBLIC_KEYS.get(key.key_id)
    if cached is None:
        cached = PublicKey.from_pem(key.pem)
        _PUBLIC_KEYS[key.key_id] = cached
    return cached


def valid_now(queryset: models.QuerySet[LedgerKey], now: datetime | None = None) -> (
    models.QuerySet[LedgerKey]
):
    moment = now or datetime.now(UTC)
    return queryset.filter(valid_from__lte=moment).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=moment)
    ).filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=moment))


def usable_signing_key(actor: str) -> LedgerKey:
    """The newest custodial key of ``actor`` that may sign a statement now."""
    candidates = valid_now(
        LedgerKey.objects.filter(owner=actor, use__in=[KeyUse.STATEMENT, KeyUse.LEDGER],
                                 custody__isnull=False)
    )
    key = candidates.select_related("custody").order_by("-valid_from", "-id").first()
    if key is None:
        raise AppendRefused("actor", f"{actor!r} has no valid custodial key on this server")
    return key

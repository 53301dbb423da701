"""Reads of the key cache (``LedgerKey`` and ``KeyEnd``): key records for the rules, the key
state for a decision under the append lock, and the keys that may sign now.

The cache is written only by the append path, from the key registry entries themselves; the
key state of record is rebuilt from the entries (:func:`state_from_entries`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from crypto.canonical import parse
from ledger import conf
from ledger.errors import NO_CUSTODY, AppendRefused
from ledger.models import Entry, KeyUse, LedgerKey
from ledger.protocol.format import format_time
from ledger.protocol.keystate import KeyPosition, KeyState
from ledger.protocol.records import KEY_KINDS, KeyRecord

# A key id fixes its record for ever: cached per process, parsed public key included.
_RECORDS: dict[str, KeyRecord] = {}


def row_record(row: LedgerKey) -> KeyRecord:
    """The key record a cache row says, read afresh (to check the row, not to trust it)."""
    return KeyRecord(
        key=row.key_id, owner=row.owner, name=row.name, use=row.use, pem=row.pem,
        valid_from=format_time(row.valid_from),
        valid_until=format_time(row.valid_until) if row.valid_until else None,
        replaces=row.replaces or None,
    )


def record_of(row: LedgerKey) -> KeyRecord:
    """The key record a cache row mirrors (kept per key id, parsed key included)."""
    found = _RECORDS.get(row.key_id)
    if found is None:
        found = _RECORDS[row.key_id] = row_record(row)
    return found


def records(key_ids: Iterable[str], *, witness_names: Iterable[str] = ()) -> (
    dict[str, KeyRecord]
):
    """Records of the given keys, and of every witness key with one of ``witness_names``."""
    wanted = {kid for kid in key_ids if isinstance(kid, str)}
    names = set(witness_names)
    found = {kid: _RECORDS[kid] for kid in wanted if kid in _RECORDS and not names}
    missing = wanted - found.keys()
    if missing or names:
        query = Q(key_id__in=missing)
        if names:
            query |= Q(use=KeyUse.WITNESS, name__in=names)
        for row in LedgerKey.objects.filter(query):
            found[row.key_id] = record_of(row)
    return found


def state_for(known: dict[str, KeyRecord],
              positions: dict[str, tuple[int, int | None, str | None]]) -> KeyState:
    """The key state of the keys a decision needs: records known before the lock, positions
    read under it. Keys registered meanwhile are fetched."""
    missing = [kid for kid in positions if kid not in known]
    if missing:
        known = {**known, **records(missing)}
    state = KeyState(conf.origin())
    for kid, (registered, ended, how) in positions.items():
        state.add(KeyPosition(known[kid], registered, ended, how))
    return state


def state_from_entries(before: int | None = None) -> KeyState:
    """The key state after entries 0..before-1 (all, by default), rebuilt from the entries of
    kinds ledger.key.* and their payloads (never from the cache)."""
    rows = Entry.objects.filter(kind__in=KEY_KINDS).select_related("payload_row").order_by("seq")
    if before is not None:
        rows = rows.filter(seq__lt=before)
    state = KeyState(conf.origin())
    for row in rows.iterator(chunk_size=500):
        kind = parse(row.data)["statement"]["kind"]
        state.apply(row.seq, kind, parse(row.payload_row.data))
    return state


# --- keys that may sign now ------------------------------------------------------------------


def current(queryset: QuerySet[LedgerKey], now: datetime | None = None) -> QuerySet[LedgerKey]:
    """Keys neither revoked nor replaced, inside their validity window at ``now``."""
    moment = now or conf.now()
    return queryset.filter(end__isnull=True, valid_from__lte=moment).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=moment)
    )


def usable_signing_key(actor: str, at: datetime | None = None) -> LedgerKey:
    """The newest custodial key of ``actor`` that may sign a statement dated ``at``
    (default now)."""
    uses = [KeyUse.LEDGER] if actor == conf.origin() else [KeyUse.STATEMENT]
    candidates = current(LedgerKey.objects.filter(owner=actor, use__in=uses,
                                                  custody__isnull=False), at)
    key = candidates.select_related("custody").order_by("-registered_seq").first()
    if key is None:
        raise AppendRefused("actor", _("%(actor)s has no valid custodial key on this server"),
                            NO_CUSTODY, actor=actor)
    return key


def ledger_key() -> LedgerKey | None:
    """The ledger's own current key (neither revoked nor replaced), if it has one."""
    return (LedgerKey.objects.filter(use=KeyUse.LEDGER, owner=conf.origin(), end__isnull=True)
            .select_related("custody").order_by("-registered_seq").first())


def ledger_key_live_for(seq: int) -> LedgerKey | None:
    """The ledger key live for entry ``seq`` (the one that may sign a checkpoint of size seq)."""
    return (LedgerKey.objects.filter(use=KeyUse.LEDGER, owner=conf.origin(),
                                     registered_seq__lt=seq, custody__isnull=False)
            .exclude(end__seq__lt=seq).select_related("custody")
            .order_by("-registered_seq").first())

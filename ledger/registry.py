"""The key registry, kept in the chain: registration, rotation and revocation are entries.

Each is a ``ledger.key.registered`` or ``ledger.key.revoked`` entry whose payload carries the
whole key record, recorded by the origin and signed by a live ledger key; the key cache rows
are written by the append path from those entries. A rotation registers the successor with
``replaces``; the outgoing key is live up to and including that entry, so an outgoing ledger
key signs its successor's registration. Nothing here reads a clock to decide validity.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from crypto.errors import KeyFormatError
from crypto.sm2 import PrivateKey, PublicKey
from ledger import conf, keyring, keystore, store
from ledger.append import append_many
from ledger.errors import KeyRefused, LedgerKeyMissing
from ledger.models import CustodialKey, KeyUse, LedgerKey
from ledger.protocol.format import FormatError, format_time
from ledger.protocol.records import (
    KEY_REGISTERED,
    KEY_REVOKED,
    KeyRecord,
    key_subject,
    read_registration,
    read_revocation,
)
from ledger.protocol.rules import KEY_BACKDATE
from ledger.signing import record, sign_with, statement_time

_WITNESS_NAME = re.compile(r"[^\s+]{1,128}")


def _refused(exc: FormatError) -> KeyRefused:
    return KeyRefused(exc.field.removeprefix("payload."), exc.reason)


def _key_record(*, owner: str, public: PublicKey, use: str, name: str | None,
                valid_from: datetime | None, valid_until: datetime | None,
                replaces: LedgerKey | None) -> KeyRecord:
    """The record of a new key, checked as the rules will check it."""
    start = valid_from or statement_time() - KEY_BACKDATE
    payload = {
        "key": public.key_id, "owner": owner, "name": name or owner, "use": use,
        "pem": public.pem, "valid_from": format_time(start),
        "valid_until": format_time(valid_until) if valid_until else None,
        "replaces": replaces.key_id if replaces else None,
    }
    try:
        return read_registration(payload, conf.origin())
    except FormatError as exc:
        raise _refused(exc) from None


def _parse_pem(pem: str) -> PublicKey:
    try:
        return PublicKey.from_pem(pem)
    except (KeyFormatError, ValueError) as exc:
        raise KeyRefused("pem", str(exc)) from None


# --- the ledger's own key ------------------------------------------------------------------


def ensure_ledger_key() -> LedgerKey:
    """The ledger's own current key; on an empty ledger, generated, kept in custody and
    registered by entry 0, signed by itself (the trust anchor)."""
    existing = keystore.ledger_key()
    if existing is not None:
        return existing
    with transaction.atomic():
        store.lock_for_append()
        existing = keystore.ledger_key()
        if existing is not None:
            return existing
        if store.tail().size:
            raise LedgerKeyMissing("the ledger has entries but no live ledger key in its key "
                                   "cache; run verify_ledger")
        private = PrivateKey.generate()
        key = _key_record(owner=conf.origin(), public=private.public_key, use=KeyUse.LEDGER,
                          name=conf.origin(), valid_from=None, valid_until=None, replaces=None)
        append_many([sign_with(private, actor=conf.origin(), kind=KEY_REGISTERED,
                               subject=key_subject(key.key), payload=key.payload())])
        row = LedgerKey.objects.get(key_id=key.key)
        keyring.store(row, private)
    return row


# --- registering, rotating, revoking --------------------------------------------------------


def register_key(
    *, owner: str, pem: str, use: str = KeyUse.STATEMENT, name: str | None = None,
    valid_from: datetime | None = None, valid_until: datetime | None = None,
    replaces: LedgerKey | None = None,
) -> LedgerKey:
    """Register a public key for ``owner``; recorded by the ledger as ``ledger.key.registered``.

    ``valid_from`` defaults to ten minutes before now (see rules.KEY_BACKDATE): position in
    the chain, not time, keeps a key from signing before it is registered.
    """
    if use not in KeyUse.values:
        raise KeyRefused("use", _("must be one of %(choices)s"), choices=", ".join(KeyUse.values))
    if not isinstance(owner, str) or not 0 < len(owner) <= 128:
        raise KeyRefused("owner", _("must be a participant code of 1-128 characters"))
    public = _parse_pem(pem)
    if LedgerKey.objects.filter(key_id=public.key_id).exists():
        raise KeyRefused("pem", _("this key is already registered"))
    if replaces is not None:
        _check_replaces(replaces, owner=owner, use=use)
    key = _key_record(owner=owner, public=public, use=use, name=name, valid_from=valid_from,
                      valid_until=valid_until, replaces=replaces)
    signer = ensure_ledger_key()
    with transaction.atomic():
        record(actor=conf.origin(), kind=KEY_REGISTERED, subject=key_subject(key.key),
               payload=key.payload(), key=signer)
        return LedgerKey.objects.get(key_id=key.key)


def issue_custodial_key(*, owner: str, use: str = KeyUse.STATEMENT,
                        name: str | None = None) -> LedgerKey:
    """Generate a key pair for ``owner``, keep the private half sealed, register the public."""
    private = PrivateKey.generate()
    with transaction.atomic():
        key = register_key(owner=owner, pem=private.public_key.pem, use=use, name=name)
        keyring.store(key, private)
    return key


def _check_replaces(old: LedgerKey, *, owner: str, use: str) -> None:
    """What the rules will check of ``replaces``, told in the registry's words."""
    current = _current(old.key_id)
    if (current.owner, current.use) != (owner, use):
        raise KeyRefused("replaces", _("key %(key)s is a %(use)s key of %(owner)s: a key "
                                       "replaces only a key of the same owner and use"),
                         key=old.key_id[:16], use=current.use, owner=current.owner)


def _current(key_id: str) -> LedgerKey:
    key = LedgerKey.objects.select_related("end").filter(key_id=key_id).first()
    if key is None:
        raise KeyRefused("key_id", _("no such key"))
    if hasattr(key, "end"):
        raise KeyRefused("key_id", _("was already %(how)s at entry %(seq)s"), how=key.end.how,
                         seq=key.end.seq)
    return key


def rotate_key(*, key_id: str, new_pem: str | None = None) -> LedgerKey:
    """Replace a key: its successor is registered with ``replaces``, which ends the old key
    at that entry. Entries the old key signed before stay valid.

    Without ``new_pem`` a custodial key is generated (only for keys the server holds). The
    ledger's own key is rotated this way too: the outgoing key signs its successor.
    """
    with transaction.atomic():
        old = _current(key_id)
        if old.use == KeyUse.LEDGER and new_pem is not None:
            raise KeyRefused("new_pem", _("the ledger's own key is generated and held by this "
                                          "server, which must sign with it: leave new_pem out"))
        private = None
        if new_pem is None:
            if not CustodialKey.objects.filter(key=old).exists():
                raise KeyRefused("new_pem",
                                 _("is required: the server does not hold this key"))
            private = PrivateKey.generate()
            new_pem = private.public_key.pem
        new = register_key(owner=old.owner, pem=new_pem, use=old.use, name=old.name,
                           replaces=old)
        if private is not None:
            keyring.store(new, private)
    return new


def revoke_key(*, key_id: str, reason: str) -> LedgerKey:
    """Revoke a key as of its revocation entry; recorded as ``ledger.key.revoked``."""
    if not isinstance(reason, str) or not reason.strip():
        raise KeyRefused("reason", _("is required"))
    try:
        read_revocation({"key": key_id, "reason": reason})
    except FormatError as exc:
        raise _refused(exc) from None
    with transaction.atomic():
        key = _current(key_id)
        if key.use == KeyUse.LEDGER and key.owner == conf.origin():
            raise KeyRefused("key_id", _("the ledger's own key is rotated, not revoked: its "
                                         "successor must be registered first"))

        record(actor=conf.origin(), kind=KEY_REVOKED, subject=key_subject(key.key_id),
               payload={"key": key.key_id, "reason": reason}, key=ensure_ledger_key())
        return LedgerKey.objects.select_related("end").get(pk=key.pk)


def register_witness(*, name: str, pem: str, owner_code: str) -> LedgerKey:
    """Register a department's witness key (use ``witness``); the data authority asks for it.

    ``name`` is the witness's name in cosignature lines: one word, not the ledger's origin,
    and owned by one department only (a new key under the same name is a rotation).
    """
    if not isinstance(name, str) or not _WITNESS_NAME.fullmatch(name):
        raise KeyRefused("name",
                         _("must be one word of at most 128 characters, no '+' or spaces"))
    if name == conf.origin():
        raise KeyRefused("name", _("is the ledger's own name"))
    other = (LedgerKey.objects.filter(use=KeyUse.WITNESS, name=name)
             .exclude(owner=owner_code).first())
    if other is not None:
        raise KeyRefused("name", _("is already the witness name of %(owner)s"),
                         owner=other.owner)

    return register_key(owner=owner_code, pem=pem, use=KeyUse.WITNESS, name=name)

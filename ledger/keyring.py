"""Custodial private keys: sealed with SM4-GCM under the master key, opened only to sign."""

from __future__ import annotations

from django.conf import settings

from crypto import sm4
from crypto.errors import CryptoError
from crypto.sm2 import PrivateKey
from ledger.models import CustodialKey, LedgerKey


class MasterKeyError(RuntimeError):
    """SHULIAN_MASTER_KEY is missing or malformed, or does not open a stored key."""


def master_key() -> bytes:
    try:
        key = bytes.fromhex(settings.SHULIAN_MASTER_KEY)
    except (TypeError, ValueError):
        raise MasterKeyError("SHULIAN_MASTER_KEY must be 32 hex characters") from None
    if len(key) != sm4.KEY_SIZE:
        raise MasterKeyError("SHULIAN_MASTER_KEY must be 32 hex characters (128 bits)")
    return key


def seal(private_key: PrivateKey) -> bytes:
    """The sealed PKCS#8 of ``private_key``, bound to its key id."""
    key_id = private_key.public_key.key_id.encode()
    return sm4.seal(master_key(), private_key.to_pem(), associated_data=key_id)


def store(key: LedgerKey, private_key: PrivateKey) -> CustodialKey:
    return CustodialKey.objects.create(key=key, sealed=seal(private_key))


def unseal(custody: CustodialKey) -> PrivateKey:
    try:
        pem = sm4.open_sealed(
            master_key(), bytes(custody.sealed), associated_data=custody.key.key_id.encode()
        )
    except CryptoError:
        raise MasterKeyError(
            f"the master key does not open the custodial key {custody.key.key_id[:16]}"
        ) from None
    return PrivateKey.from_pem(pem)

"""SM4 (GB/T 32907-2016) encryption for data at rest, as SM4-GCM (RFC 8998).

``seal`` returns one self-describing blob: ``b"\\x01" || nonce (12 bytes) || ciphertext ||
tag (16 bytes)``. A fresh random nonce is drawn for every call (96-bit nonces from the OS
CSPRNG: safe for far more messages than a custodial-key store will ever encrypt under one
key). ``associated_data`` binds the ciphertext to its context (for a custodial key: the
key id), so a blob moved to another row does not decrypt. Tampering raises DecryptionError.

``transform`` exposes the raw block-cipher modes (ECB, CBC, OFB, CFB, CTR), and
``ccm_encrypt`` / ``ccm_decrypt`` SM4-CCM, for test vectors and interoperability only; nothing
in Shulian stores data with them.
"""

from __future__ import annotations

import os
from typing import Literal

from tongsuopy.crypto.ciphers import Cipher, algorithms, modes
from tongsuopy.crypto.ciphers.aead import SM4CCM, SM4GCM

from crypto.errors import CryptoError, DecryptionError

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
_VERSION = b"\x01"

Mode = Literal["ECB", "CBC", "OFB", "CFB", "CTR"]


def generate_key() -> bytes:
    """A new random 128-bit SM4 key."""
    return os.urandom(KEY_SIZE)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise CryptoError(f"SM4 key must be {KEY_SIZE} bytes")


def gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """SM4-GCM with an explicit nonce: ciphertext || 16-byte tag. Never reuse a nonce."""
    _check_key(key)
    try:
        return bytes(SM4GCM(key).encrypt(nonce, plaintext, associated_data or None))
    except ValueError as exc:
        raise CryptoError(f"SM4-GCM: {exc}") from None


def gcm_decrypt(key: bytes, nonce: bytes, data: bytes, associated_data: bytes = b"") -> bytes:
    """Inverse of :func:`gcm_encrypt`; DecryptionError when the tag does not verify."""
    _check_key(key)
    if len(data) < TAG_SIZE:
        raise DecryptionError("SM4-GCM ciphertext is shorter than its tag")
    try:
        return bytes(SM4GCM(key).decrypt(nonce, data, associated_data or None))
    except Exception:
        raise DecryptionError(
            "SM4-GCM authentication failed: wrong key, wrong context or tampered data"
        ) from None


def ccm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """SM4-CCM (RFC 8998) with a 7..13-byte nonce: ciphertext || 16-byte tag (interop only)."""
    _check_key(key)
    try:
        return bytes(SM4CCM(key).encrypt(nonce, plaintext, associated_data or None))
    except ValueError as exc:
        raise CryptoError(f"SM4-CCM: {exc}") from None


def ccm_decrypt(key: bytes, nonce: bytes, data: bytes, associated_data: bytes = b"") -> bytes:
    """Inverse of :func:`ccm_encrypt`; DecryptionError when the tag does not verify."""
    _check_key(key)
    if len(data) < TAG_SIZE:
        raise DecryptionError("SM4-CCM ciphertext is shorter than its tag")
    try:
        return bytes(SM4CCM(key).decrypt(nonce, data, associated_data or None))
    except Exception:
        raise DecryptionError(
            "SM4-CCM authentication failed: wrong key, wrong context or tampered data"
        ) from None


def seal(key: bytes, plaintext: bytes, associated_data: bytes = b"") -> bytes:
    """Encrypt and authenticate ``plaintext``; the blob carries its own nonce."""
    nonce = os.urandom(NONCE_SIZE)
    return _VERSION + nonce + gcm_encrypt(key, nonce, plaintext, associated_data)


def open_sealed(key: bytes, blob: bytes, associated_data: bytes = b"") -> bytes:
    """Decrypt a blob made by :func:`seal`; DecryptionError if anything was changed."""
    if len(blob) < 1 + NONCE_SIZE + TAG_SIZE or blob[:1] != _VERSION:
        raise DecryptionError("not an SM4-GCM sealed blob (bad version or too short)")
    nonce = blob[1 : 1 + NONCE_SIZE]
    return gcm_decrypt(key, nonce, blob[1 + NONCE_SIZE :], associated_data)


def transform(mode: Mode, key: bytes, iv: bytes | None, data: bytes, *, encrypt: bool) -> bytes:
    """Raw SM4 in an unauthenticated mode, no padding (for vectors and interop only)."""
    _check_key(key)
    chosen: modes.Mode
    if mode == "ECB":
        chosen = modes.ECB()
    elif iv is None or len(iv) != 16:
        raise CryptoError(f"SM4-{mode} needs a 16-byte IV")
    elif mode == "CBC":
        chosen = modes.CBC(iv)
    elif mode == "OFB":
        chosen = modes.OFB(iv)
    elif mode == "CFB":
        chosen = modes.CFB(iv)
    elif mode == "CTR":
        chosen = modes.CTR(iv)
    else:
        raise CryptoError(f"unknown SM4 mode {mode!r}")
    if mode in ("ECB", "CBC") and len(data) % 16:
        raise CryptoError(f"SM4-{mode} without padding needs whole 16-byte blocks")
    cipher = Cipher(algorithms.SM4(key), chosen)
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return bytes(ctx.update(data) + ctx.finalize())

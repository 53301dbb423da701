"""SM3 (GB/T 32905-2016) hashing through hashlib, which is OpenSSL's implementation."""

from __future__ import annotations

import hashlib
import hmac
from typing import BinaryIO, Protocol

DIGEST_SIZE = 32
_CHUNK = 1 << 20


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...
    def copy(self) -> Hasher: ...


def new(data: bytes = b"") -> Hasher:
    """A streaming SM3 hasher (``update`` / ``digest`` / ``hexdigest``)."""
    hasher = hashlib.new("sm3")
    if data:
        hasher.update(data)
    return hasher


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data``."""
    return hashlib.new("sm3", data).digest()


def sm3_hex(data: bytes) -> str:
    """The SM3 digest of ``data`` as 64 lowercase hex characters."""
    return hashlib.new("sm3", data).hexdigest()


def sm3_stream(stream: BinaryIO) -> str:
    """The SM3 hex digest of everything readable from a binary stream, read in 1 MiB chunks."""
    hasher = hashlib.new("sm3")
    while chunk := stream.read(_CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest()


def sm3_file(path: str) -> str:
    """The SM3 hex digest of a file's contents."""
    with open(path, "rb") as stream:
        return sm3_stream(stream)


def hmac_sm3_hex(key: bytes, data: bytes) -> str:
    """HMAC-SM3 (RFC 2104 over SM3) of ``data`` under ``key``, as 64 lowercase hex."""
    return hmac.new(key, data, "sm3").hexdigest()

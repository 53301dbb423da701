"""Uploaded files, read with a bound: each service owns its limit and checks it; an
interface reads at most one byte more than the limit, so a large file is refused with a
clear error rather than read whole."""

from __future__ import annotations

from typing import Protocol

from kernel.errors import InvalidInput

MiB = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_upload(upload: Readable | None, limit: int) -> bytes | None:
    """The upload's bytes, at most ``limit + 1`` of them (None without an upload)."""
    if upload is None:
        return None
    return upload.read(limit + 1)


def check_size(field: str, data: bytes, limit: int) -> bytes:
    """``data`` itself, or InvalidInput naming ``field`` when it exceeds ``limit``."""
    if len(data) > limit:
        raise InvalidInput(field, f"is larger than {limit // MiB} MiB")
    return data

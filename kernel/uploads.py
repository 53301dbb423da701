"""Uploaded files, read with a bound, and uploaded text in the encoding it was written in.

Each service owns its size limit and checks it; an interface reads at most one byte more
than the limit, so a large file is refused with a clear error rather than read whole.

Text files (CSV and JSON samples, delivered tables) come from Chinese office software and
government systems as often in GB18030/GBK or UTF-16 as in UTF-8: :func:`decode_text` is the
one place that reads them, and says which encoding it found so that the user sees it.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from typing import Protocol

from charset_normalizer import from_bytes
from django.utils.translation import gettext_lazy as _

from kernel.errors import InvalidInput

MiB = 1024 * 1024
# What charset-normalizer may choose from when the bytes are not UTF-8 and carry no BOM.
CANDIDATES = ["gb18030", "utf_16", "utf_16_le", "utf_16_be"]
NAMES = {"utf_8": "UTF-8", "gb18030": "GB18030", "utf_16": "UTF-16", "utf_16_le": "UTF-16",
         "utf_16_be": "UTF-16"}


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
        raise InvalidInput(field, _("is larger than %(n)s MiB"), n=limit // MiB)
    return data


@dataclass(frozen=True)
class Text:
    """Uploaded text and the encoding it was read in (``UTF-8``, ``UTF-8 (BOM)``,
    ``GB18030``, ``UTF-16``)."""

    text: str
    encoding: str


def _by_bom(data: bytes) -> Text | None:
    if data.startswith(codecs.BOM_UTF8):
        return Text(data[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8 (BOM)")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Text(data.decode("utf-16"), "UTF-16")
    return None


def decode_text(field: str, data: bytes) -> Text:
    """``data`` as text: UTF-8 (with or without a BOM), UTF-16 (with a BOM, or detected),
    or GB18030 (which includes GBK and GB2312), detected with charset-normalizer.
    InvalidInput naming ``field`` when it is none of these."""
    try:
        found = _by_bom(data)
        if found is not None:
            return found
        return Text(data.decode("utf-8"), "UTF-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data, cp_isolation=CANDIDATES).best()
    if best is None or best.encoding not in NAMES:
        raise InvalidInput(field, _("is not text in UTF-8, GB18030 (GBK) or UTF-16"))
    return Text(str(best), NAMES[best.encoding])


TABLE_SUFFIXES = (".csv", ".json")


def table_encoding(name: str, data: bytes) -> str | None:
    """The encoding a CSV or JSON table file was read in (to tell the user); None for any
    other file, or one that is not text."""
    if not name.lower().endswith(TABLE_SUFFIXES):
        return None
    try:
        return decode_text("data", data).encoding
    except InvalidInput:
        return None


def table_rows(field: str, name: str, data: bytes) -> int | None:
    """How many data rows a CSV (after its header row) or JSON array file holds; None for
    a file that is neither (its rows cannot be counted here)."""
    lowered = name.lower()
    if lowered.endswith(".csv"):
        text = decode_text(field, data).text
        try:
            return max(sum(1 for row in csv.reader(io.StringIO(text)) if row) - 1, 0)
        except csv.Error as exc:
            raise InvalidInput(field, _("is not valid CSV: %(problem)s"), problem=exc) from None
    if lowered.endswith(".json"):
        try:
            rows = json.loads(decode_text(field, data).text)
        except (ValueError, RecursionError):
            raise InvalidInput(field, _("is not valid JSON: nested too deeply or a number "
                                        "too long")) from None
        return len(rows) if isinstance(rows, list) else None
    return None

"""Format v2 bytes: times, statements, entries, payload commitments, leaf hashes.

Pure functions over plain dicts and bytes (see docs/ledger-format.md sections 1-5).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from datetime import UTC, datetime
from functools import partial
from typing import Any

from crypto.canonical import MAX_SAFE_INTEGER, canonical
from crypto.errors import CanonicalizationError
from crypto.sm3 import sm3, sm3_hex

VERSION = 2
ZERO_HASH = "0" * 64
STATEMENT_FIELDS = frozenset(
    {"v", "ledger", "kind", "actor", "key", "subject", "payload", "nonce", "time"}
)
ENTRY_FIELDS = frozenset({"v", "seq", "prev", "statement", "sig", "recorded"})
MAX_TEXT = 512
SALT_SIZE = 16
TIME_PATTERN = "YYYY-MM-DDTHH:MM:SS.ffffffZ"

_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}\Z")
KIND_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")
_B64_RE = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
_STATEMENT_KEY = b',"statement":'
_ENTRY_END = b',"v":2}'


class FormatError(ValueError):
    """A statement, entry or payload breaks format v2; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- times, hex, base64 ----------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (six fractional digits)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: ledger times must be timezone-aware")
    text = moment.astimezone(UTC).isoformat(timespec="microseconds")
    return text.removesuffix("+00:00") + "Z"


def parse_time(text: Any, field: str = "time") -> datetime:
    """Inverse of :func:`format_time`; FormatError naming ``field`` otherwise."""
    if not isinstance(text, str) or not _TIME_RE.match(text):
        raise FormatError(field, f"must be UTC time written {TIME_PATTERN}")
    try:
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise FormatError(field, "is not a real calendar time") from None


def is_time(value: Any) -> bool:
    """Is ``value`` a ledger time? (Because the form is fixed, such strings compare in time.)"""
    if not isinstance(value, str) or not _TIME_RE.match(value):
        return False
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        return False
    return True


def is_hex64(value: Any) -> bool:
    return isinstance(value, str) and bool(_HEX64_RE.match(value))


def is_text(value: Any) -> bool:
    """A non-empty string of at most MAX_TEXT characters (statement text fields)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT


def b64decode_strict(text: Any, field: str) -> bytes:
    """Standard base64 with padding, nothing else; FormatError naming ``field``."""
    if not isinstance(text, str) or not text or not _B64_RE.match(text):
        raise FormatError(field, "must be standard base64 with padding")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise FormatError(field, "must be standard base64 with padding") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- statements --------------------------------------------------------------------------------


def _text(statement: dict[str, Any], field: str) -> str:
    value = statement.get(field)
    if not isinstance(value, str) or not value:
        raise FormatError(f"statement.{field}", "must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise FormatError(f"statement.{field}", f"is longer than {MAX_TEXT} characters")
    return value


def check_statement(statement: Any) -> None:
    """Refuse a statement that is not a v2 statement object, naming the field."""
    if not isinstance(statement, dict):
        raise FormatError("statement", "must be a JSON object")
    missing = STATEMENT_FIELDS - statement.keys()
    if missing:
        raise FormatError(f"statement.{sorted(missing)[0]}", "is missing")
    extra = statement.keys() - STATEMENT_FIELDS
    if extra:
        raise FormatError(f"statement.{sorted(extra)[0]}", "is not a v2 statement field")
    if type(statement["v"]) is not int or statement["v"] != VERSION:
        raise FormatError("statement.v", f"must be {VERSION} (an integer)")
    for field in ("ledger", "actor", "subject", "nonce"):
        _text(statement, field)
    if not KIND_RE.match(_text(statement, "kind")):
        raise FormatError("statement.kind", "must be dotted lowercase words, e.g. app.thing.done")
    for field in ("key", "payload"):
        if not is_hex64(statement[field]):
            raise FormatError(f"statement.{field}", "must be 64 lowercase hex characters")
    parse_time(statement["time"], "statement.time")


def is_well_formed(statement: Any) -> bool:
    """A quick yes for a well-formed v2 statement; never yes where check_statement says no
    (for a no, check_statement gives the reason)."""
    if type(statement) is not dict or statement.keys() != STATEMENT_FIELDS:
        return False
    if type(statement["v"]) is not int or statement["v"] != VERSION:
        return False
    for name in ("ledger", "kind", "actor", "subject", "nonce"):
        text = statement[name]
        if type(text) is not str or not 0 < len(text) <= MAX_TEXT:
            return False
    return bool(
        KIND_RE.match(statement["kind"]) and is_hex64(statement["key"])
        and is_hex64(statement["payload"]) and is_time(statement["time"])
    )


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """The exact bytes an actor signs: the canonical statement."""
    return jcs(statement)


# --- payloads and their salted commitments -------------------------------------------------------


_compact = partial(json.dumps, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> bool:
    """JSON of strings, null, booleans, safe integers, lists and string-keyed objects only."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return False


def jcs(value: Any) -> bytes:
    """RFC 8785 bytes under the ledger profile (no floats, safe integers);
    CanonicalizationError naming the path otherwise.

    Fast path: for plain JSON whose sorted compact dump is ASCII, that dump is exactly its
    RFC 8785 form (same escapes; ASCII keys sort the same by code point as by UTF-16 code
    unit), so it is used as is; anything else goes through the full canonicalisation.
    """
    if _plain(value):
        text = _compact(value)
        if text.isascii():
            return text.encode("ascii")
    return canonical(value, ledger_profile=True)


def payload_bytes(payload: Any) -> bytes:
    """Canonical payload bytes under the ledger profile; FormatError naming the place."""
    try:
        return jcs(payload)
    except CanonicalizationError as exc:
        raise FormatError("payload" + exc.path[1:], exc.reason) from None


def new_salt() -> bytes:
    """16 fresh random bytes: the salt of one statement's payload commitment."""
    return secrets.token_bytes(SALT_SIZE)


def decode_salt(text: Any, field: str = "salt") -> bytes:
    """A salt as written beside its payload: base64 of exactly 16 bytes."""
    salt = b64decode_strict(text, field)
    if len(salt) != SALT_SIZE:
        raise FormatError(field, f"must be base64 of exactly {SALT_SIZE} bytes")
    return salt


def commitment(salt: bytes, data: bytes) -> str:
    """``statement.payload``: SM3(salt || canonical payload bytes), lowercase hex."""
    if len(salt) != SALT_SIZE:
        raise FormatError("salt", f"must be exactly {SALT_SIZE} bytes")
    return sm3_hex(salt + data)


def commit(salt: bytes, payload: Any) -> str:
    """The commitment to ``payload`` (a JSON value) under ``salt``."""
    return commitment(salt, payload_bytes(payload))


# --- entries -----------------------------------------------------------------------------------


def make_entry(
    *, seq: int, prev: str, statement: dict[str, Any], sig: str, recorded: str
) -> dict[str, Any]:
    return {
        "v": VERSION,
        "seq": seq,
        "prev": prev,
        "statement": statement,
        "sig": sig,
        "recorded": recorded,
    }


def entry_bytes(entry: dict[str, Any]) -> bytes:
    return canonical(entry)


def entry_bytes_fast(*, seq: int, prev: str, statement_data: bytes, sig: str, recorded: str) -> (
    bytes
):
    """The canonical entry bytes, assembled around already-canonical statement bytes.

    Equal to ``entry_bytes(make_entry(...))`` (a test holds it so) because every other
    member is a plain integer, hex, base64 or time text that JCS writes as-is, and the
    member names are already in sorted order.
    """
    if not (is_hex64(prev) and _B64_RE.match(sig) and _TIME_RE.match(recorded)):
        raise FormatError("entry", "prev, sig or recorded is not in its v2 form")
    return b"".join((
        b'{"prev":"', prev.encode(), b'","recorded":"', recorded.encode(), b'","seq":',
        str(seq).encode(), b',"sig":"', sig.encode(), b'","statement":', statement_data,
        _ENTRY_END,
    ))


def statement_slice(line: bytes) -> bytes | None:
    """The statement bytes inside canonical entry bytes, or None if ``line`` is not shaped so.

    In a canonical entry the members sort as prev, recorded, seq, sig, statement, v, and no
    string can hold an unescaped quote, so the statement is what lies between
    ``,"statement":`` and the final ``,"v":2}``.
    """
    if not line.endswith(_ENTRY_END):
        return None
    start = line.find(_STATEMENT_KEY)
    if start < 0:
        return None
    return line[start + len(_STATEMENT_KEY):-len(_ENTRY_END)]


def leaf_hash(entry_data: bytes) -> bytes:
    """SM3(0x00 || entry bytes) (RFC 9162 leaf hash with SM3)."""
    return sm3(b"\x00" + entry_data)

"""RFC 8785 JSON Canonicalization Scheme (JCS), wrapping Trail of Bits' ``rfc8785``.

Before encoding, the document is walked once so that anything JCS cannot represent is
refused with a :class:`CanonicalizationError` naming its JSON-pointer-like path (``$.a[2]``):
NaN and infinities, non-string object keys, lone surrogates, and types JSON does not have.
Shulian's ledger additionally keeps integers within +/-(2**53-1) and forbids floats in
statements; :func:`check_ledger_value` enforces that stricter profile.
"""

from __future__ import annotations

import json
import math
from typing import Any

import rfc8785

from crypto.errors import CanonicalizationError

MAX_SAFE_INTEGER = 2**53 - 1


def _check_text(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError(path, "string contains a lone surrogate") from None


def _walk(value: Any, path: str, *, strict: bool) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalizationError(path, "integer outside +/-(2**53-1)")
        return
    if isinstance(value, float):
        if strict:
            raise CanonicalizationError(
                path, "floats are not allowed; write decimals and money as strings"
            )
        if math.isnan(value) or math.isinf(value):
            raise CanonicalizationError(path, "NaN and infinities have no JSON form")
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(path, f"object key {key!r} is not a string")
            _check_text(key, f"{path}.{key!r}")
            _walk(item, f"{path}.{key}", strict=strict)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", strict=strict)
        return
    raise CanonicalizationError(path, f"{type(value).__name__} has no JSON form")


def canonical(value: Any, *, ledger_profile: bool = False) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-compatible value.

    With ``ledger_profile`` floats are refused too (see :func:`check_ledger_value`).
    """
    _walk(value, "$", strict=ledger_profile)
    try:
        return bytes(rfc8785.dumps(value))
    except Exception as exc:  # rfc8785 raises its own types for what _walk missed
        raise CanonicalizationError("$", str(exc)) from None


def check_ledger_value(value: Any) -> None:
    """Refuse what the ledger profile forbids: floats and integers beyond 2**53-1."""
    _walk(value, "$", strict=True)


def parse(data: bytes | str) -> Any:
    """Parse JSON, refusing duplicate keys and the non-standard NaN/Infinity tokens."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, item in pairs:
            if key in result:
                raise CanonicalizationError("$", f"duplicate object key {key!r}")
            result[key] = item
        return result

    def no_constant(token: str) -> Any:
        raise CanonicalizationError("$", f"{token} is not JSON")

    def integer(token: str) -> int | float:
        # JCS numbers are IEEE 754 doubles: an integer literal beyond +/-(2**53-1), such as
        # canonical(2.0**53) == b"9007199254740992", reads back as the double it denotes.
        value = int(token)
        return value if abs(value) <= MAX_SAFE_INTEGER else float(token)

    try:
        return json.loads(
            data, object_pairs_hook=no_duplicates, parse_constant=no_constant, parse_int=integer
        )
    except CanonicalizationError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise CanonicalizationError("$", f"not valid JSON: {exc}") from None


def is_canonical(data: bytes) -> bool:
    """True if ``data`` parses as JSON and is exactly its own canonical form."""
    try:
        return canonical(parse(data)) == data
    except CanonicalizationError:
        return False

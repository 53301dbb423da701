"""Patterns that users write (data-quality rules), matched with google-re2: linear time in
the length of the value, so no pattern (``(a+)+b`` and the like) can backtrack for
seconds. Patterns RE2 does not accept (backreferences, lookaround) are refused with the
reason."""

from __future__ import annotations

from typing import Any

import re2
from django.utils.translation import gettext_lazy as _

from kernel.errors import InvalidInput

MAX_PATTERN = 500
# What one compiled pattern may take: enough for any sensible rule, not for a blow-up.
MAX_PROGRAM_BYTES = 8 * 1024 * 1024


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_PROGRAM_BYTES
    return options


def compile_pattern(text: Any, field: str = "pattern") -> Any:
    """The compiled pattern, or InvalidInput naming ``field`` and saying why not."""
    if not isinstance(text, str) or not text:
        raise InvalidInput(field, _("must be a non-empty regular expression"))
    if len(text) > MAX_PATTERN:
        raise InvalidInput(field, _("is longer than %(n)s characters"), n=MAX_PATTERN)
    if "\x00" in text:
        raise InvalidInput(field, _("must not contain a NUL character"))
    try:
        return re2.compile(text, options=_options())
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise InvalidInput(field, _("is not a regular expression RE2 accepts: %(reason)s"),
                           reason=reason) from None



def full_match(pattern: Any, value: str) -> bool:
    return pattern.fullmatch(value) is not None

"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from ``0-9A-Z`` without I, O, Z, S, V: registration authority (1), entity
type (1), administrative division (6), organisation code (9, GB 11714 with its own check
character), and a check character over the first 17.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


class USCCError(ValueError):
    """What is wrong with a code, translated when read. It never names the check character
    the code should have had: that would let anyone complete a made-up code."""

    def __init__(self, reason: StrOrPromise, **params: Any) -> None:
        super().__init__(reason)
        self.template = reason
        self.params = params

    def __str__(self) -> str:
        text = str(self.template)
        return text % self.params if self.params else text


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_character(first8: str) -> str:
    """GB 11714 check character of the 9-character organisation code.

    GB 11714 values letters by their place in the full Latin alphabet (A=10 ... Z=35),
    not by the USCC alphabet, which skips I, O, S, V and Z.
    """
    total = sum(int(ch, 36) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def validate(code: str) -> str:
    """The code, upper-cased, or USCCError saying exactly what is wrong."""
    if not isinstance(code, str):
        raise USCCError(_("must be text"))
    code = code.strip().upper()
    if len(code) != 18:
        raise USCCError(_("must be 18 characters, got %(n)s"), n=len(code))
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        raise USCCError(_("contains characters not allowed in a USCC: %(chars)s"),
                        chars="".join(bad))
    if not code[2:8].isdigit():
        raise USCCError(_("characters 3-8 must be the 6-digit administrative division code"))
    org = code[8:17]
    if org[8] != org_check_character(org[:8]):
        raise USCCError(_("the organisation code %(org)s (characters 9-17) fails its GB 11714 "
                          "check character"), org=org)
    if code[17] != check_character(code[:17]):
        raise USCCError(_("the check character (the 18th) does not fit the first 17 "
                          "characters (GB 32100-2015): check the code for a typing error"))
    return code



def make(prefix: str, division: str, org8: str) -> str:
    """A valid code from its parts (for demos and tests): e.g. make('91', '110108', 'MA01XY2K')."""
    org = org8 + org_check_character(org8)
    body = prefix + division + org
    return body + check_character(body)

"""Money: an amount with two decimals and its currency, never a float.

The one parser of amounts for every interface (product prices, contract amounts,
settlements): a decimal string such as ``"1250.00"`` (or a whole number), at least 0, at
most two decimals and twelve digits before the point (what the database holds); and an
ISO 4217 currency code such as ``CNY``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from kernel.errors import InvalidInput

CENT = Decimal("0.01")
MAX_WHOLE_DIGITS = 12
_AMOUNT = re.compile(rf"[0-9]{{1,{MAX_WHOLE_DIGITS}}}(\.[0-9]{{1,2}})?")
_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_amount(value: Any, field: str = "amount") -> Decimal:
    """The amount ``value`` states, or InvalidInput naming ``field`` and the reason."""
    if isinstance(value, float):
        raise InvalidInput(field, _("give money as a decimal string such as '1250.00', "
                                    "not a float"))
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidInput(field, _("must be a decimal amount such as 1250.00"))
    text = str(value).strip()
    if text.startswith("-"):
        raise InvalidInput(field, _("must be a finite amount >= 0"))
    if not _AMOUNT.fullmatch(text):
        if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text):
            raise InvalidInput(field, _("has more than two decimals"))
        if re.fullmatch(r"[0-9]+(\.[0-9]*)?", text):
            raise InvalidInput(field, _("has more than %(n)s digits before the decimal "
                                        "point"), n=MAX_WHOLE_DIGITS)
        raise InvalidInput(field, _("must be a finite decimal amount such as 1250.00"))
    return Decimal(text).quantize(CENT)


def parse_currency(value: Any, field: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise InvalidInput(field, _("must be an ISO 4217 code such as CNY"))

    return value


def money_text(amount: Decimal) -> str:
    """How an amount is written in payloads and on pages: two decimals."""
    return str(amount.quantize(CENT))


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def parse(cls, amount: Any, currency: Any, *, amount_field: str = "amount",
              currency_field: str = "currency") -> Money:
        return cls(parse_amount(amount, amount_field), parse_currency(currency,
                                                                      currency_field))

    @property
    def text(self) -> str:
        return money_text(self.amount)

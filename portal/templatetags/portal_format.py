"""Numbers as people read them: ``{{ n|num }}`` writes 1204377 as 1,204,377 (and money with
its two decimals, 1250.00 as 1,250.00); ``{{ entry.kind|kind }}`` a ledger entry's kind in
words."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django_stubs_ext import StrOrPromise

from portal import vocabulary

register = template.Library()


@register.filter
def num(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if number == number.to_integral_value() and "." not in str(value):
        return f"{int(number):,}"
    return f"{number:,.2f}"


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """``{{ labels|get:name }}``: a dict's value for a key held in a variable."""
    return mapping.get(key, key) if hasattr(mapping, "get") else key


@register.filter
def kind(value: str) -> StrOrPromise:
    """``contracts.order.placed`` as "Order placed" (shown with the code on hover)."""
    return vocabulary.kind_label(value)


@register.filter
def shown(value: Any, field: str) -> Any:
    """``{{ document.grade|shown:"grade" }}``: a version document's coded value in words."""
    return vocabulary.document_value(field, value)


@register.filter
def desensitised(rule: str) -> StrOrPromise:
    return vocabulary.desensitisation(rule)


@register.filter
def key_use(use: str) -> StrOrPromise:
    return vocabulary.key_use(use)

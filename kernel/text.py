"""Text a service requires."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from kernel.errors import InvalidInput


def required_text(field: str, text: str | None, action: StrOrPromise) -> str:
    """``text`` stripped; InvalidInput naming ``field`` when it is empty. ``action`` says
    what it is required for (a lazy translation such as ``_("to refuse a request")``)."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidInput(field, _("is required %(action)s"), action=action)
    return cleaned


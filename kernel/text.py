"""Text a service requires."""

from __future__ import annotations

from kernel.errors import InvalidInput


def required_text(field: str, text: str | None, action: str) -> str:
    """``text`` stripped; InvalidInput naming ``field`` when it is empty."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise InvalidInput(field, f"is required to {action}")
    return cleaned

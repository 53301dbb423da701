"""The payload bytes a commitment is taken over are RFC 8785 canonical JSON, on the fast path
(plain ASCII JSON through json.dumps) as on the full one."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.canonical import MAX_SAFE_INTEGER, canonical
from ledger.protocol.format import FormatError, payload_bytes

SAFE = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
TEXT = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12) | st.text(max_size=6)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_payload_bytes_are_the_rfc8785_form(value: Any) -> None:
    assert payload_bytes(value) == canonical(value)


@pytest.mark.parametrize("value", [{"a": 1.5}, [2**53], {"n": float("nan")}, {1: "x"}])
def test_what_the_ledger_profile_refuses_is_refused_naming_the_place(value: Any) -> None:
    with pytest.raises(FormatError) as info:
        payload_bytes(value)
    assert info.value.field.startswith("payload")


def test_control_characters_and_quotes_escape_as_rfc8785_says() -> None:
    value = {"b": "line\nbreak\ttab\u001f\u007f\"quote\\", "a": "/"}
    assert payload_bytes(value) == canonical(value)
    assert payload_bytes(value) == b'{"a":"/","b":"line\\nbreak\\ttab\\u001f\x7f\\"quote\\\\"}'

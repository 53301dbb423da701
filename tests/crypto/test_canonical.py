"""RFC 8785 (JCS) canonical JSON: properties, the RFC's own examples, and what is refused."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.canonical import (
    MAX_SAFE_INTEGER,
    canonical,
    check_ledger_value,
    is_canonical,
    parse,
)
from crypto.errors import CanonicalizationError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_is_a_fixed_point(value: Any) -> None:
    once = canonical(value)
    assert canonical(parse(once)) == once
    assert is_canonical(once)
    once.decode("utf-8")  # always valid UTF-8


@settings(max_examples=300, deadline=None)
@given(
    json_values,
    st.randoms(use_true_random=False),
    st.sampled_from([None, 0, 1, 2, 4, "\t"]),
    st.booleans(),
    st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
)
def test_key_order_and_white_space_never_change_the_bytes(
    value: Any, rng: random.Random, indent: int | str | None, ascii_only: bool,
    separators: tuple[str, str],
) -> None:
    text = json.dumps(
        shuffled(value, rng), indent=indent, ensure_ascii=ascii_only, separators=separators
    )
    assert canonical(parse(text)) == canonical(value)
    assert canonical(parse(("\n  " + text + " \r\n").encode())) == canonical(value)


# RFC 8785 Appendix B: IEEE 754 doubles and their canonical text ------------------------

APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical(value) == expected.encode()
    assert canonical(parse(expected)) == expected.encode()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1e21", "1e+21"),
        ("1E30", "1e+30"),
        ("1e-7", "1e-7"),
        ("0.000001", "0.000001"),
        ("-0", "0"),
        ("-0.0", "0"),
        ("4.50", "4.5"),
        ("2e-3", "0.002"),
        ("0.000000000000000000000000001", "1e-27"),
        ("333333333.33333329", "333333333.3333333"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("100", "100"),
        ("1.0", "1"),
    ],
)
def test_number_text_is_normalised(source: str, expected: str) -> None:
    assert canonical(parse(source)) == expected.encode()


def test_integer_literals_beyond_2_53_read_as_doubles() -> None:
    """JCS numbers are doubles: canonical(2.0**53) must read back and re-canonicalise."""
    assert canonical(2.0**53) == b"9007199254740992"
    assert canonical(parse("9007199254740992")) == b"9007199254740992"
    assert canonical(parse("[9007199254740993]")) == b"[9007199254740992]"  # nearest double
    assert parse("9007199254740991") == MAX_SAFE_INTEGER
    assert isinstance(parse("9007199254740991"), int)
    with pytest.raises(CanonicalizationError):
        check_ledger_value(parse('{"n": 9007199254740992}'))


def test_rfc8785_section_3_2_2_example() -> None:
    source = (
        '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n'
        '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n'
        '  "literals": [null, true, false]\n}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical(parse(source)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    source = (
        '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", '
        '"\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", '
        '"\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
        '"\\u00f6": "Latin Small Letter O With Diaeresis"}'
    )
    order = [key for key, _ in json.loads(canonical(parse(source)), object_pairs_hook=list)]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    # By code point the emoji (U+1F600) would sort after U+FB33; by UTF-16 it comes first.
    assert sorted(order) != order


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u0000\u0008\u0009\u000a\u000c\u000d\u001f", '"\\u0000\\b\\t\\n\\f\\r\\u001f"'),
        ('"\\/', '"\\"\\\\/"'),
        ("\u007f\u2028\u00e9\U0001f600", '"\u007f\u2028\u00e9\U0001f600"'),
    ],
)
def test_string_escaping(text: str, expected: str) -> None:
    assert canonical(text) == expected.encode("utf-8")


# Refusals, each naming where ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"a": [1, 2, math.nan]}, "$.a[2]"),
        ({"a": [1, 2, math.inf]}, "$.a[2]"),
        ({"x": {"y": -math.inf}}, "$.x.y"),
        ([0, {"k": {1: "v"}}], "$[1].k"),
        ({"a": {(1, 2): "v"}}, "$.a"),
        ({"a": [1, 2, "ok\ud800"]}, "$.a[2]"),
        ({"a": {"\udc00": 1}}, "$.a"),
        ({"a": [b"bytes"]}, "$.a[0]"),
        ({"a": {1, 2}}, "$.a"),
        ({"big": 2**53}, "$.big"),
    ],
)
def test_unrepresentable_values_name_their_path(value: Any, path: str) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonical(value)
    assert caught.value.path.startswith(path)
    assert caught.value.path == path or caught.value.path.startswith(path + ".")
    assert str(caught.value).startswith(caught.value.path + ": ")


def test_lone_surrogate_in_parsed_text_is_refused() -> None:
    value = parse('{"a": ["x", "\\ud83d"]}')  # Python's json accepts it; JCS cannot
    with pytest.raises(CanonicalizationError) as caught:
        canonical(value)
    assert caught.value.path == "$.a[1]"


@pytest.mark.parametrize(
    "text", ["NaN", "[Infinity]", '{"a": -Infinity}', '{"a": 1, "a": 2}', "{", "", "[1,]"]
)
def test_parse_refuses_non_json(text: str) -> None:
    with pytest.raises(CanonicalizationError):
        parse(text)


def test_ledger_profile_refuses_floats_and_big_integers() -> None:
    check_ledger_value({"amount": "1250.00", "n": MAX_SAFE_INTEGER, "m": -MAX_SAFE_INTEGER})
    with pytest.raises(CanonicalizationError) as caught:
        check_ledger_value({"items": [{"price": 1.5}]})
    assert caught.value.path == "$.items[0].price"
    with pytest.raises(CanonicalizationError) as caught:
        check_ledger_value({"n": MAX_SAFE_INTEGER + 1})
    assert caught.value.path == "$.n"

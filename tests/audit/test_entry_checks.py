"""The per-entry fast paths of format v2 agree with the reference checks they shortcut: the
quick statement check, the quick canonical-line check, the statement sliced out of an entry
line, and the entry bytes assembled around statement bytes on the append path."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.entries import _load
from crypto.canonical import canonical
from ledger.protocol.format import (
    FormatError,
    check_statement,
    entry_bytes,
    entry_bytes_fast,
    is_well_formed,
    leaf_hash,
    make_entry,
    statement_slice,
)

GOOD: dict[str, Any] = {
    "v": 2, "ledger": "shulian.test", "kind": "contracts.objection.filed", "actor": "op.alpha",
    "key": "a" * 64, "subject": "contracts/objection/1", "payload": "b" * 64, "nonce": "n-1",
    "time": "2026-11-22T08:00:00.000000Z",
}
BAD_VALUES: list[tuple[str, Any]] = [
    ("v", 1), ("v", True), ("v", "2"), ("ledger", ""), ("actor", 5),
    ("subject", "x" * 513), ("kind", "Contracts.x"), ("kind", "single"), ("kind", "a.b\n"),
    ("kind", "a..b"), ("key", "A" * 64), ("key", "a" * 63), ("key", "a" * 64 + "\n"),
    ("payload", None), ("time", "2026-02-30T08:00:00.000000Z"),
    ("time", "2026-11-22T08:00:60.000000Z"), ("time", "2026-11-22T08:00:00Z"),
    ("time", "2026-11-22T08:00:00.000000Z\n"), ("time", "2026-11-22 08:00:00.000000Z"),
    ("nonce", ["n"]),
]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=24)
STATEMENTS = st.fixed_dictionaries(
    {"ledger": TEXT, "actor": TEXT, "subject": TEXT, "nonce": TEXT},
).map(lambda fields: {**GOOD, **fields})
HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
SIGS = st.binary(min_size=1, max_size=72).map(lambda raw: base64.b64encode(raw).decode())


def refused(statement: Any) -> bool:
    try:
        check_statement(statement)
    except FormatError:
        return True
    return False


def test_a_good_statement_passes_both() -> None:
    assert is_well_formed(GOOD) and not refused(GOOD)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_fields_fail_both(field: str, value: Any) -> None:
    statement = {**GOOD, field: value}
    assert refused(statement)
    assert not is_well_formed(statement)


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_wrong_field_sets_fail_both(change: str) -> None:
    statement = dict(GOOD)
    if change == "missing":
        del statement["nonce"]
    else:
        statement["note"] = "x"
    assert refused(statement) and not is_well_formed(statement)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(GOOD)),
       value=st.one_of(st.text(max_size=70), st.integers(), st.booleans(), st.none()))
def test_the_fast_check_never_accepts_what_check_statement_refuses(field: str,
                                                                   value: Any) -> None:
    statement = {**GOOD, field: value}
    if is_well_formed(statement):
        assert not refused(statement)


@settings(max_examples=200, deadline=None)
@given(value=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1),
              st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
))
def test_the_fast_canonical_check_agrees_with_rfc8785(value: Any) -> None:
    data = canonical(value)
    assert _load(data)[1] is True
    assert _load(b" " + data)[1] is False
    assert _load(data + b"\n")[1] is False


@settings(max_examples=200, deadline=None)
@given(statement=STATEMENTS, seq=st.integers(0, 2**53 - 1), prev=HEX, sig=SIGS)
def test_the_statement_is_sliced_exactly_and_the_fast_entry_bytes_are_canonical(
    statement: dict[str, Any], seq: int, prev: str, sig: str,
) -> None:
    """Whatever the statement's text holds (quotes, backslashes, ``,"v":2}``, non-ASCII)."""
    recorded = "2026-11-22T08:00:01.000000Z"
    line = entry_bytes(make_entry(seq=seq, prev=prev, statement=statement, sig=sig,
                                  recorded=recorded))
    assert statement_slice(line) == canonical(statement)
    assert entry_bytes_fast(seq=seq, prev=prev, statement_data=canonical(statement), sig=sig,
                            recorded=recorded) == line
    assert leaf_hash(line) == hashlib.new("sm3", b"\x00" + line).digest()


def test_a_tricky_statement_is_sliced_exactly() -> None:
    statement = {**GOOD, "subject": 'x","v":2},"statement":{"v":2}', "nonce": "\\\"\u2014"}
    line = entry_bytes(make_entry(seq=3, prev="c" * 64, statement=statement, sig="QUJD",
                                  recorded="2026-11-22T08:00:01.000000Z"))
    assert statement_slice(line) == canonical(statement)


@pytest.mark.parametrize("line", [
    b'{"prev":"' + b"c" * 64 + b'","recorded":"t","seq":3,"sig":"QUJD","statement":{},"v":1}',
    b'{"prev":"' + b"c" * 64 + b'","seq":3,"v":2}',
    b"[1,2]",
])
def test_a_line_not_shaped_as_a_v2_entry_has_no_statement_slice(line: bytes) -> None:
    assert statement_slice(line) is None


@pytest.mark.parametrize(("field", "value"), [
    ("prev", "C" * 64), ("prev", "c" * 63), ("sig", "QUJD\n"), ("sig", "not base64"),
    ("recorded", "2026-11-22T08:00:01Z"),
])
def test_the_fast_entry_bytes_refuse_fields_not_in_their_v2_form(field: str, value: str) -> (
    None
):
    fields = {"prev": "c" * 64, "sig": "QUJD", "recorded": "2026-11-22T08:00:01.000000Z",
              field: value}
    with pytest.raises(FormatError, match="prev, sig or recorded is not in its v2 form"):
        entry_bytes_fast(seq=1, statement_data=canonical(GOOD), **fields)

"""The per-entry fast paths agree with the reference checks they shortcut."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.core import _load, _payload_digest, _statement_data, _well_formed
from crypto.canonical import canonical
from ledger.protocol.format import FormatError, check_statement, payload_hash

GOOD: dict[str, Any] = {
    "v": 1, "ledger": "shulian.test", "kind": "contracts.objection.filed", "actor": "op.alpha",
    "key": "a" * 64, "subject": "contracts/objection/1", "payload": "b" * 64, "nonce": "n-1",
    "time": "2026-11-22T08:00:00.000000Z",
}
BAD_VALUES: list[tuple[str, Any]] = [
    ("v", 2), ("v", True), ("v", "1"), ("ledger", ""), ("actor", 5), ("subject", "x" * 513),
    ("kind", "Contracts.x"), ("kind", "single"), ("kind", "a.b\n"), ("kind", "a..b"),
    ("key", "A" * 64), ("key", "a" * 63), ("key", "a" * 64 + "\n"), ("payload", None),
    ("time", "2026-02-30T08:00:00.000000Z"), ("time", "2026-11-22T08:00:60.000000Z"),
    ("time", "2026-11-22T08:00:00Z"), ("time", "2026-11-22T08:00:00.000000Z\n"),
    ("time", "2026-11-22 08:00:00.000000Z"), ("nonce", ["n"]),
]


def refused(statement: Any) -> bool:
    try:
        check_statement(statement)
    except FormatError:
        return True
    return False


def test_a_good_statement_passes_both() -> None:
    assert _well_formed(GOOD) and not refused(GOOD)


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_fields_fail_both(field: str, value: Any) -> None:
    statement = {**GOOD, field: value}
    assert refused(statement)
    assert not _well_formed(statement)


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_wrong_field_sets_fail_both(change: str) -> None:
    statement = dict(GOOD)
    if change == "missing":
        del statement["nonce"]
    else:
        statement["note"] = "x"
    assert refused(statement) and not _well_formed(statement)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(GOOD)),
       value=st.one_of(st.text(max_size=70), st.integers(), st.booleans(), st.none()))
def test_the_fast_check_never_accepts_what_check_statement_refuses(field: str,
                                                                   value: Any) -> None:
    statement = {**GOOD, field: value}
    if _well_formed(statement):
        assert not refused(statement)


@settings(max_examples=200, deadline=None)
@given(payload=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
))
def test_the_fast_payload_hash_equals_the_reference(payload: Any) -> None:
    try:
        expected = payload_hash(payload)
    except FormatError:
        with pytest.raises(FormatError):
            _payload_digest(payload)
        return
    assert _payload_digest(payload) == expected


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


def test_statement_bytes_are_sliced_exactly() -> None:
    entry = {"v": 1, "seq": 3, "prev": "c" * 64, "statement": GOOD, "sig": "QUJD",
             "recorded": "2026-11-22T08:00:01.000000Z"}
    line = canonical(entry)
    assert _statement_data(line, entry, fast=True) == canonical(GOOD)
    assert _statement_data(line, entry, fast=False) == canonical(GOOD)

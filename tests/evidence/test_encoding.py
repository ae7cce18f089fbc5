"""The canonical row encoding: its bytes, its injectivity, and its two implementations agreeing."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.evidence.encoding import (
    decode_row,
    encode_batch,
    encode_json_view,
    encode_row,
    encode_value,
)
from clearance.evidence.errors import MalformedEvidence
from clearance.scan.schema import DECISIONS_SCHEMA


def test_the_bytes_are_as_documented() -> None:
    """docs/formats.md's worked example, byte for byte."""
    row = {"outcome": "include", "item_id": "ab", "work_ids": [7, -1], "error": None}
    expected = (
        b"\x01" + b"\x00\x00\x00\x04"  # version 1, 4 columns, sorted by name:
        + b"\x00\x00\x00\x05error" + b"\x00"
        + b"\x00\x00\x00\x07item_id" + b"\x05\x00\x00\x00\x02ab"
        + b"\x00\x00\x00\x07outcome" + b"\x05\x00\x00\x00\x07include"
        + b"\x00\x00\x00\x08work_ids" + b"\x07\x00\x00\x00\x02"
        + b"\x03\x00\x00\x00\x017" + b"\x03\x00\x00\x00\x02-1"
    )  # fmt: skip
    assert encode_row(row) == expected
    assert decode_row(expected) == row


def test_scalars() -> None:
    assert encode_value(True) == b"\x02" and encode_value(False) == b"\x01"
    assert encode_value(0) == b"\x03\x00\x00\x00\x010"
    assert encode_value(2**70) == b"\x03\x00\x00\x00\x16" + str(2**70).encode()
    assert encode_value(1.5) == b"\x04" + bytes.fromhex("3ff8000000000000")
    assert (
        encode_value(float("nan"))
        == encode_value(-float("nan"))
        == b"\x04" + bytes.fromhex("7ff8000000000000")
    )
    assert encode_value(b"\x00\xff") == b"\x06\x00\x00\x00\x02\x00\xff"
    assert encode_value({"b": 1, "a": None}) == (
        b"\x08\x00\x00\x00\x02"
        + b"\x00\x00\x00\x01a\x00"
        + b"\x00\x00\x00\x01b\x03\x00\x00\x00\x011"
    )
    assert encode_value(Decimal("1.50")) == b"\x09\x00\x00\x00\x041.50"
    assert encode_value(dt.date(2026, 1, 2)) == b"\x0a\x00\x00\x00\x0a2026-01-02"
    assert encode_value("é") == b"\x05\x00\x00\x00\x02\xc3\xa9"


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(MalformedEvidence, match="not covered"):
        encode_value(object())
    with pytest.raises(MalformedEvidence, match="key must be a string"):
        encode_value({1: "x"})


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=6).filter(lambda k: not k.startswith("$")), inner, max_size=4
        )
    ),
    max_leaves=12,
)
rows = st.dictionaries(st.text(max_size=10), json_values, max_size=8)


@settings(max_examples=300, deadline=None)
@given(rows)
def test_decode_inverts_encode(row: dict[str, Any]) -> None:
    data = encode_row(row)
    assert decode_row(data) == row
    assert encode_json_view(decode_row(data)) == data


@settings(max_examples=300, deadline=None)
@given(rows, rows)
def test_different_rows_never_share_an_encoding(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (encode_row(a) == encode_row(b)) == _same(a, b)
    assert encode_row(a) == encode_row(dict(reversed(list(a.items()))))  # column order is free


def _same(a: Any, b: Any) -> bool:
    """Equality that tells 1 from 1.0 and True from 1, as the encoding does."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and a == b
    return bool(a == b)


def test_non_canonical_bytes_are_refused() -> None:
    good = encode_row({"a": 1, "b": "x"})
    for bad, why in (
        (good + b"\x00", "trailing"),
        (good[:-1], "ends early"),
        (b"\x02" + good[1:], "version 2"),
        (good.replace(b"\x03\x00\x00\x00\x011", b"\x03\x00\x00\x00\x02" + b"01"), "canonical"),
        (b"\x01\x00\x00\x00\x02" + b"\x00\x00\x00\x01b\x00" + b"\x00\x00\x00\x01a\x00", "sorted"),
        (b"\x01\x00\x00\x00\x01\x00\x00\x00\x01a\x0b", "unknown value tag"),
        (b"\x01\x00\x00\x00\x01\x00\x00\x00\x01a\x04\x7f\xf8\x00\x00\x00\x00\x00\x01", "NaN"),
    ):
        with pytest.raises(MalformedEvidence, match=why):
            decode_row(bad)


def test_the_column_wise_encoder_agrees_with_the_row_encoder() -> None:
    """The fast path the scan uses equals the generic one, row by row, on the decisions schema."""
    rows = [
        {
            "item_id": f"id{i}",
            "source": None if i % 3 == 0 else f"https://ex.example/{i}é",
            "outcome": ("include", "exclude", "needs-license", "error")[i % 4],
            "reasons": [] if i % 2 else ["registry:tdm=deny", "robots.txt:train-ai=deny"],
            "work_ids": None if i % 5 == 0 else list(range(i % 3)),
            **{
                c: (None if i % 4 == 3 else "allow")
                for c in DECISIONS_SCHEMA.names
                if c.startswith("perm_")
            },
            "evidence": '{"works": []}',
            "error": "boom" if i % 4 == 3 else None,
        }
        for i in range(23)
    ]
    batch = pa.Table.from_pylist(rows, schema=DECISIONS_SCHEMA).to_batches()[0]
    ids, leaves = encode_batch(batch)
    assert ids == [r["item_id"] for r in rows]
    assert leaves == [encode_row(r) for r in rows]
    assert [decode_row(leaf) for leaf in leaves] == rows


def _maybe(strategy: Any) -> Any:
    return st.none() | strategy


columns = {
    "item_id": (pa.string(), st.text(max_size=8)),
    "s": (pa.string(), _maybe(st.text(max_size=12))),
    "ls": (pa.large_string(), _maybe(st.text(max_size=5))),
    "i": (pa.int64(), _maybe(st.integers(-(2**63), 2**63 - 1))),
    "u8": (pa.uint8(), _maybe(st.integers(0, 255))),
    "b": (pa.bool_(), _maybe(st.booleans())),
    "f": (pa.float64(), _maybe(st.floats(allow_nan=False))),
    "l_s": (pa.list_(pa.string()), _maybe(st.lists(_maybe(st.text(max_size=4)), max_size=4))),
    "l_i": (pa.list_(pa.int32()), _maybe(st.lists(_maybe(st.integers(-(2**31), 2**31 - 1))))),
    "ll_i": (pa.large_list(pa.int64()), _maybe(st.lists(st.integers(-5, 5), max_size=3))),
    "l_l": (
        pa.list_(pa.list_(pa.string())),
        _maybe(st.lists(st.lists(st.text(max_size=2), max_size=2), max_size=2)),
    ),
    "bin": (pa.binary(), _maybe(st.binary(max_size=6))),
}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({k: s for k, (_, s) in columns.items()}), max_size=12), st.data()
)
def test_the_arrow_encoder_equals_the_reference_on_any_table(
    rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Every vectorised type (and the per-value fallback) gives ``encode_row``'s bytes."""
    schema = pa.schema([(k, t) for k, (t, _) in columns.items()])
    table = pa.Table.from_pylist(rows, schema=schema)
    offset = data.draw(st.integers(0, len(rows)))
    batch = table.slice(offset).combine_chunks().to_batches()
    got = [leaf for b in batch for leaf in encode_batch(b)[1]]
    assert got == [encode_row(r) for r in rows[offset:]]

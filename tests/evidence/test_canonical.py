"""``canonical_json``'s fast path writes exactly RFC 8785's bytes (the ``rfc8785`` package's)."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.evidence import MalformedEvidence
from clearance.evidence.canonical import canonical_json

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00\x1f\x7f", '"\\/\b\f\n\r\t', "\u2028\u2029", "\ud7ff\ue000\U0001f600", "é"]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(_VALUES)
def test_the_fast_path_is_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_what_the_fast_path_leaves_to_rfc8785() -> None:
    assert canonical_json({"a": 1.5, "b": [1e21]}) == rfc8785.dumps({"a": 1.5, "b": [1e21]})
    keys = {"\U0001f600": 1, "\ufb01": 2}  # UTF-16 order differs from code point order
    assert canonical_json(keys) == rfc8785.dumps(keys)
    for bad in (2**60, {"x": float("nan")}, "\ud800"):
        with pytest.raises(MalformedEvidence):
            canonical_json(bad)

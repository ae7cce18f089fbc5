"""Cloudflare Content Signals: yes/no per signal, lenient about spacing and case."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from clearance.signals.content_signal import Signal, combine, parse_content_signal


def test_cloudflare_managed_value() -> None:
    sig = parse_content_signal("search=yes,ai-train=no")
    assert dict(sig.signals) == {"search": Signal.YES, "ai-train": Signal.NO}
    assert sig.get("ai-input") is None
    assert sig.warnings == ()


def test_contentsignals_org_example_with_spaces() -> None:
    sig = parse_content_signal("ai-train=no, search=yes, ai-input=yes")
    assert sig.get("ai-input") is Signal.YES and sig.get("AI-Train") is Signal.NO


def test_case_and_space_are_forgiven() -> None:
    sig = parse_content_signal(" Search = YES ,AI-Input=No , ")
    assert dict(sig.signals) == {"search": Signal.YES, "ai-input": Signal.NO}


def test_aipref_spellings_are_not_mixed_in() -> None:
    sig = parse_content_signal("train-ai=n, search=y, ai-train=n")
    assert dict(sig.signals) == {}
    assert len(sig.warnings) == 3


def test_conflicting_duplicate_reads_as_no() -> None:
    sig = parse_content_signal("ai-train=yes, ai-train=no, ai-train=yes")
    assert sig.get("ai-train") is Signal.NO
    assert any("both yes and no" in w for w in sig.warnings)


def test_junk_items_and_unknown_names() -> None:
    sig = parse_content_signal('ai-train, =yes, future-use=no, search="yes"')
    assert dict(sig.signals) == {"future-use": Signal.NO, "search": Signal.YES}
    assert len(sig.warnings) == 3
    assert parse_content_signal("").warnings == ("empty Content-Signal statement",)
    assert parse_content_signal(b"search=yes").get("search") is Signal.YES


def test_combine_any_no_wins() -> None:
    merged = combine(
        [parse_content_signal("search=yes, ai-train=yes"), parse_content_signal("ai-train=no")]
    )
    assert dict(merged.signals) == {"search": Signal.YES, "ai-train": Signal.NO}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_never_raises(value: str | bytes) -> None:
    parse_content_signal(value)

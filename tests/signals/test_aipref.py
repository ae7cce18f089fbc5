"""aipref Content-Usage and its RFC 9651 Dictionary parser, against the drafts' examples."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from clearance.signals.aipref import (
    Date,
    DisplayString,
    InnerList,
    Item,
    Pref,
    Token,
    combine,
    parse_content_usage,
    parse_content_usage_fields,
    parse_sf_dictionary,
)

Y, N = Pref.ALLOW, Pref.DISALLOW

# --- the vocabulary draft's examples ---------------------------------------------


def test_vocab_basic_example() -> None:
    prefs = parse_content_usage("train-ai=y, search=n")
    assert prefs.valid and dict(prefs.prefs) == {"train-ai": Y, "search": N}
    assert prefs.get("ai-use") is None


def test_vocab_duplicates_example_gives_all_unknown() -> None:
    prefs = parse_content_usage('train-ai=y, train-ai, search=n, search="n"')
    assert prefs.valid and dict(prefs.prefs) == {}
    assert len(prefs.warnings) == 2  # train-ai (Boolean) and search (String) are not tokens


def test_vocab_02_duplicates_example_gives_all_unknown() -> None:
    prefs = parse_content_usage(
        'train-ai=y, train-ai="n", train-genai=n, train-genai, bots=n, bots=()'
    )
    assert prefs.valid and dict(prefs.prefs) == {}


def test_vocab_parameters_examples() -> None:
    assert dict(parse_content_usage("train-ai;allow=n, train-ai=y").prefs) == {"train-ai": Y}
    assert parse_content_usage('train-ai=n;reason="contract"').get("train-ai") is N
    # A trailing ";" is a parse failure, so the preference is unknown either way.
    prefs = parse_content_usage('train-ai;has;parameters="?";')
    assert prefs.get("train-ai") is None


def test_vocab_02_example_with_genai() -> None:
    prefs = parse_content_usage("train-ai=y, train-genai=n")
    assert dict(prefs.known()) == {"train-ai": Y, "train-genai": N}


def test_uppercase_key_fails_the_whole_field() -> None:
    prefs = parse_content_usage("search=y, Train-AI=n")
    assert not prefs.valid and dict(prefs.prefs) == {}
    assert "upper-case key" in prefs.warnings[0]


@pytest.mark.parametrize(
    "text",
    [
        "train-ai=n,",  # trailing comma
        "train-ai=n search=y",  # missing comma
        "\ttrain-ai=n",  # leading tab (only SP is discarded)
        "train-ai=n, ,search=y",
        "train-ai=é",
        "train-ai=(n",  # unterminated inner list
        "1train=n",
        "train-ai=n;",
    ],
)
def test_parse_failures_make_everything_unknown(text: str) -> None:
    prefs = parse_content_usage(text)
    assert not prefs.valid and dict(prefs.prefs) == {} and prefs.warnings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("train-ai=N", None),  # tokens are case-sensitive
        ("train-ai=yes", None),
        ("train-ai=?0", None),
        ("train-ai=1", None),
        ("train-ai=(n)", None),
        ("train-ai=:bg==:", None),
        ("train-ai", None),  # bare key: Boolean true
        ("  train-ai=n  ", N),
        ("train-ai=n\t, search=y", N),
        ("train-ai=y;q=0.5", Y),
    ],
)
def test_only_the_tokens_y_and_n_count(text: str, expected: Pref | None) -> None:
    prefs = parse_content_usage(text)
    assert prefs.valid
    assert prefs.get("train-ai") is expected


def test_unknown_labels_are_kept_but_not_known() -> None:
    prefs = parse_content_usage("foo=y, tdm=n, all=y, bots=n, ai-output=y, ai-use=n, *=n")
    assert prefs.get("foo") is Y and prefs.get("*") is N
    assert set(prefs.known()) == {"tdm", "all", "bots", "ai-output", "ai-use"}


def test_empty_statement() -> None:
    prefs = parse_content_usage("")
    assert prefs.valid and dict(prefs.prefs) == {}
    assert prefs.warnings == ("empty Content-Usage statement",)


def test_bytes_and_repeated_header_lines() -> None:
    assert parse_content_usage(b"train-ai=n").get("train-ai") is N
    assert not parse_content_usage(b"train-ai=\xff").valid
    joined = parse_content_usage_fields(["train-ai=n", b"search=y"])
    assert dict(joined.prefs) == {"train-ai": N, "search": Y}
    assert dict(parse_content_usage_fields(["train-ai=n", "train-ai=y"]).prefs) == {"train-ai": Y}


def test_combine_any_n_wins_then_y() -> None:
    a = parse_content_usage("train-ai=y, search=y")
    b = parse_content_usage("train-ai=n")
    c = parse_content_usage("Bad=1")
    merged = combine([a, b, c])
    assert dict(merged.prefs) == {"train-ai": N, "search": Y}
    assert merged.warnings == c.warnings
    assert dict(combine([]).prefs) == {}


# --- RFC 9651 dictionaries ------------------------------------------------------


def test_rfc9651_dictionary_examples() -> None:
    d = parse_sf_dictionary('en="Applepie", da=:w4ZibGV0w6ZydGUK:')
    assert d["en"] == Item("Applepie")
    assert d["da"] == Item("Æbletærte\n".encode())
    d = parse_sf_dictionary("a=?0, b, c; foo=bar")
    assert d["a"] == Item(False)
    assert d["b"] == Item(True)
    assert d["c"] == Item(True, (("foo", Token("bar")),))
    d = parse_sf_dictionary("rating=1.5, feelings=(joy sadness)")
    assert d["rating"] == Item(Decimal("1.5"))
    assert d["feelings"] == InnerList((Item(Token("joy")), Item(Token("sadness"))))
    d = parse_sf_dictionary("a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid")
    assert d["a"] == InnerList((Item(1), Item(2)))
    assert d["c"] == Item(4, (("aa", Token("bb")),))
    assert d["d"] == InnerList((Item(5), Item(6)), (("valid", True),))
    assert list(parse_sf_dictionary("a=1, b=2, a=3")) == ["a", "b"]
    assert parse_sf_dictionary("a=1, b=2, a=3")["a"] == Item(3)


def test_rfc9651_bare_items() -> None:
    d = parse_sf_dictionary(
        'i=-42, d=-0.125, s="a\\"b\\\\c", t=foo/bar:baz, '
        'at=@1659578233, ds=%"This is intended for display to %c3%bcsers.", e=()'
    )
    assert d["i"] == Item(-42)
    assert d["d"] == Item(Decimal("-0.125"))
    assert d["s"] == Item('a"b\\c')
    assert d["t"] == Item(Token("foo/bar:baz"))
    assert d["at"] == Item(Date(1659578233))
    assert d["ds"] == Item(DisplayString("This is intended for display to üsers."))
    assert d["e"] == InnerList(())
    assert parse_sf_dictionary("") == {}
    assert parse_sf_dictionary("   ") == {}


@pytest.mark.parametrize(
    "text",
    [
        "a=1234567890123456",  # 16-digit integer
        "a=1234567890123.5",  # 13-digit integer part of a decimal
        "a=1.2345",
        "a=1.",
        "a=-",
        "a=--1",
        'a="\\x"',
        'a="tab\there"',
        'a="open',
        "a=:abc!:",
        "a=:abc",
        "a=?2",
        "a=@1.5",
        'a=%"%C3%BC"',  # upper-case hex in a Display String
        'a=%"%ff"',  # not UTF-8
        'a=%"open',
        "a=(1 2",
        "a=(1,2)",
        "A=1",
        "a=1,",
        "a=1 b=2",
        "a=#",
        "a=1;",
        "a=1; B=2",
    ],
)
def test_rfc9651_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        parse_sf_dictionary(text)


_KEY = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,6}", fullmatch=True)


@given(st.lists(st.tuples(_KEY, st.sampled_from(["y", "n"])), max_size=8))
def test_roundtrip_last_duplicate_wins(pairs: list[tuple[str, str]]) -> None:
    prefs = parse_content_usage(", ".join(f"{k}={v}" for k, v in pairs))
    assert prefs.valid
    assert dict(prefs.prefs) == {k: Pref(v) for k, v in pairs}


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60)))
def test_never_raises(value: str | bytes) -> None:
    prefs = parse_content_usage(value)
    assert prefs.valid or dict(prefs.prefs) == {}


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='abn y=,;()"?:*-.@%0123456789\\ \t', max_size=40))
def test_sf_parser_fails_only_with_value_error(value: str) -> None:
    with contextlib.suppress(ValueError):
        parse_sf_dictionary(value)

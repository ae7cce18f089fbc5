"""X-Robots-Tag: noai/noimageai/noindex, bot-scoped forms, repeated headers, junk."""

from __future__ import annotations

import email.message

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.signals.xrobots import (
    RobotsDirective,
    header_values,
    parse_robots_content,
    parse_x_robots_tag,
    x_robots_tag_from_headers,
)


def test_plain_list() -> None:
    d = parse_x_robots_tag("noai, noimageai")
    assert d.directives == (RobotsDirective("noai"), RobotsDirective("noimageai"))
    assert d.source == "x-robots-tag"
    assert d.warnings == ()
    assert d.has("noai") and d.has("NOIMAGEAI")


def test_google_examples() -> None:
    d = parse_x_robots_tag(["googlebot: nofollow", "otherbot: noindex, nofollow"])
    assert d.names("googlebot") == {"nofollow"}
    assert d.names("OtherBot") == {"noindex", "nofollow"}
    assert d.names() == frozenset()
    assert d.bots == ("googlebot", "otherbot")
    d = parse_x_robots_tag("unavailable_after: 25 Jun 2010 15:00:00 PST")
    assert d.directives == (RobotsDirective("unavailable_after", "25 Jun 2010 15:00:00 PST"),)


def test_bot_scoped_noai() -> None:
    d = parse_x_robots_tag("GPTBot: noai")
    assert d.directives == (RobotsDirective("noai", None, "GPTBot"),)
    assert d.has("noai", "gptbot")
    assert not d.has("noai")
    assert not d.has("noai", "CCBot")


def test_scope_switches_within_one_value() -> None:
    d = parse_x_robots_tag("noindex, GPTBot: noai, noimageai, CCBot: noai")
    assert d.names() == {"noindex"}
    assert d.names("gptbot") == {"noindex", "noai", "noimageai"}
    assert d.names("ccbot") == {"noindex", "noai"}


def test_valued_directives_are_not_bots() -> None:
    d = parse_x_robots_tag("max-snippet: 20, max-image-preview: large, googlebot: max-snippet: 5")
    assert d.directives == (
        RobotsDirective("max-snippet", "20"),
        RobotsDirective("max-image-preview", "large"),
        RobotsDirective("max-snippet", "5", "googlebot"),
    )


def test_unknown_directives_warn_but_are_kept() -> None:
    d = parse_x_robots_tag("noindex, nofollow, noplease, !!!")
    assert "noplease" in d.names()
    assert any("noplease" in w for w in d.warnings)
    assert any("!!!" in w for w in d.warnings)


def test_meta_content_scope() -> None:
    directives, warnings = parse_robots_content("noai, noimageai", bot="GPTBot")
    assert [d.bot for d in directives] == ["GPTBot", "GPTBot"]
    assert warnings == []


def test_headers_mapping_pairs_httpx_and_email() -> None:
    pairs = [("X-Robots-Tag", "noai"), ("x-robots-tag", "GPTBot: noimageai"), ("Other", "x")]
    assert header_values(pairs, "X-ROBOTS-TAG") == ["noai", "GPTBot: noimageai"]
    assert header_values({"x-robots-tag": "noindex"}, "X-Robots-Tag") == ["noindex"]
    hx = httpx.Headers(pairs)
    assert header_values(hx, "x-robots-tag") == ["noai", "GPTBot: noimageai"]
    msg = email.message.Message()
    msg["X-Robots-Tag"] = "noai"
    msg["X-Robots-Tag"] = "noindex"
    assert header_values(msg, "x-robots-tag") == ["noai", "noindex"]
    assert header_values([("x-robots-tag", "a", "b"), "junk"], "x-robots-tag") == []  # type: ignore[list-item]
    assert header_values([(b"X-Robots-Tag", b"noai")], "x-robots-tag") == ["noai"]  # type: ignore[list-item]


def test_multiple_headers() -> None:
    d = x_robots_tag_from_headers(
        httpx.Headers([("X-Robots-Tag", "GPTBot: noai"), ("X-Robots-Tag", "noimageai")])
    )
    # each header starts unscoped again
    assert d.names() == {"noimageai"}
    assert d.names("GPTBot") == {"noai", "noimageai"}


@pytest.mark.parametrize("value", ["", " , , ", ":", "::", "bot:", "a" * 10_000, "\x00\xff"])
def test_degenerate_values(value: str) -> None:
    parse_x_robots_tag(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=4))
def test_never_raises(values: list[str]) -> None:
    d = parse_x_robots_tag(values)
    for bot in (None, *d.bots):
        d.names(bot)

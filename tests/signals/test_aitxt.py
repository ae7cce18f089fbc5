"""Spawning ai.txt: extension globs, the block-everything shape, stray lines."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from clearance.signals.aitxt import parse_aitxt

SPAWNING_BLOCK_ALL = """\
# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: /
Disallow: *
"""

SPAWNING_BY_TYPE = """\
# Spawning AI
# Prevent datasets from using the following file types

User-Agent: *
Disallow: *.txt
Disallow: *.pdf
Disallow: *.doc
Disallow: *.docx
Disallow: *.jpg
Disallow: *.jpeg
Disallow: *.png
Disallow: *.gif
Disallow: *.mp3
Disallow: *.wav
Disallow: *.mp4
Allow: *.html
Allow: /press/*.jpg
"""


def test_block_everything() -> None:
    ai = parse_aitxt(SPAWNING_BLOCK_ALL)
    for path in ("/", "/a.jpg", "https://example.com/x/y.mp4?w=1", "/page.html"):
        assert ai.is_allowed(path) is False
    assert ai.warnings == ()


def test_extension_globs_match_the_file_name_case_insensitively() -> None:
    ai = parse_aitxt(SPAWNING_BY_TYPE)
    assert ai.is_allowed("https://example.com/img/cat.jpg") is False
    assert ai.is_allowed("/img/CAT.JPG?width=200") is False
    assert ai.is_allowed("/docs/report.pdf#page=2") is False
    assert ai.is_allowed("/index.html") is True
    assert ai.is_allowed("/img/cat.jpg.html") is True
    assert ai.is_allowed("/img/cat.webp") is None  # the file says nothing about webp
    assert ai.is_allowed("/img/jpg") is None


def test_rooted_patterns_are_robots_patterns_and_longest_wins() -> None:
    ai = parse_aitxt(SPAWNING_BY_TYPE)
    verdict = ai.check("/press/kit/logo.jpg")
    assert verdict.allowed is True and verdict.rule is not None
    assert verdict.rule.raw == "Allow: /press/*.jpg"
    assert verdict.reason.startswith("allowed by line 17")


def test_lines_without_a_colon_are_skipped() -> None:
    ai = parse_aitxt("User-Agent: *\n/\nDisallow *.png\nDisallow: *.gif\n")
    assert ai.is_allowed("/a.gif") is False
    assert ai.is_allowed("/a.png") is None
    assert ai.warnings == ("line 3: no colon; skipped",)


def test_suffix_pattern_without_star_and_empty_disallow() -> None:
    ai = parse_aitxt("User-Agent: *\nDisallow: .psd\nDisallow:\n")
    assert ai.is_allowed("/art/layered.PSD") is False
    assert parse_aitxt("User-Agent: *\nDisallow: $\n").is_allowed("/a.jpg") is None
    verdict = ai.check("/art/flat.png")
    assert verdict.allowed is True and verdict.reason == "line 3 disallows nothing"


def test_agent_groups_and_rules_without_a_group() -> None:
    ai = parse_aitxt(
        "Disallow: *.mp3\n\nUser-Agent: img2dataset\nDisallow: *.jpg\n\n"
        "User-Agent: *\nAllow: *.jpg\n"
    )
    assert ai.is_allowed("/a.jpg") is True
    assert ai.is_allowed("/a.jpg", agent="img2dataset") is False
    assert ai.is_allowed("/a.mp3") is False  # rules before any User-Agent apply to everyone
    assert ai.is_allowed("/a.mp3", agent="IMG2DATASET") is False


def test_empty_and_junk_files_say_nothing() -> None:
    assert parse_aitxt("").is_allowed("/a.jpg") is None
    ai = parse_aitxt(b"\xff\xfe<html>\nfoo: bar\n")
    assert ai.is_allowed("/a.jpg") is None
    assert any("Latin-1" in w for w in ai.warnings)
    assert any("unknown directive 'foo'" in w for w in ai.warnings)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1500), st.text(max_size=60))
def test_never_raises(data: bytes, url: str) -> None:
    ai = parse_aitxt(data)
    ai.check(url)
    ai.is_allowed(url, agent=url[:10])

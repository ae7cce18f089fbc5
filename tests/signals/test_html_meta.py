"""HTML meta/link collection: robots meta (noai, bot-named), TDMRep meta, RSL links, encodings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.signals.html_meta import decode_html, parse_html_meta
from clearance.signals.xrobots import RobotsDirective

CORPUS = Path(__file__).parent.parent / "corpus" / "html"

PAGE = """<!doctype html>
<html><head>
<meta charset="utf-8">
<meta name="robots" content="noai, noimageai">
<meta name="GPTBot" content="noindex, nofollow">
<meta name="description" content="none of your business">
<meta name="tdm-reservation" content="1">
<meta name="tdm-policy" content="https://example.com/tdm.json">
<link rel="license" type="application/rsl+xml" href="/license.xml">
<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">
<link rel="stylesheet" href="/s.css">
<script type="application/rsl+xml">
  <rsl xmlns="https://rslstandard.org/rsl"><content url=""><license/></content></rsl>
</script>
<script>var x = "<meta name='robots' content='noai'>";</script>
</head><body><p>Hello</p></body></html>"""


def test_collects_everything() -> None:
    s = parse_html_meta(PAGE, "https://example.com/articles/1")
    assert s.robots.source == "meta-robots"
    assert s.robots.directives == (
        RobotsDirective("noai"),
        RobotsDirective("noimageai"),
        RobotsDirective("noindex", None, "GPTBot"),
        RobotsDirective("nofollow", None, "GPTBot"),
    )
    assert s.tdm_reservation == ("1",)
    assert s.tdm_policy == ("https://example.com/tdm.json",)
    assert s.rsl_links == ("https://example.com/license.xml",)
    assert len(s.license_links) == 2
    assert len(s.rsl_inline) == 1 and "rslstandard" in s.rsl_inline[0]
    assert s.warnings == ()


def test_description_meta_is_not_a_robot() -> None:
    s = parse_html_meta('<meta name="description" content="noai">')
    assert s.robots.directives == ()


def test_bot_names_by_heuristic_and_list() -> None:
    s = parse_html_meta(
        '<meta name="CCBot" content="noai"><meta name="Google-Extended" content="noai">'
        '<meta name="somenewbot" content="noimageai"><meta name="viewport" content="none">'
    )
    assert [(d.bot, d.name) for d in s.robots.directives] == [
        ("CCBot", "noai"),
        ("Google-Extended", "noai"),
        ("somenewbot", "noimageai"),
    ]


def test_base_href_and_relative_links() -> None:
    s = parse_html_meta(
        '<base href="https://cdn.example/site/"><link rel="license" '
        'type="application/rsl+xml; charset=utf-8" href="rsl.xml">',
        "https://example.com/",
    )
    assert s.rsl_links == ("https://cdn.example/site/rsl.xml",)


def test_malformed_hrefs_are_skipped_and_the_page_is_still_read() -> None:
    s = parse_html_meta(
        '<base href="http://[bad/"><link rel="license" type="application/rsl+xml" href="http://[x/">'
        '<link rel="license" type="application/rsl+xml" href="/ok.xml">'
        '<meta name="tdm-reservation" content="1">',
        "https://example.com/",
    )
    assert s.rsl_links == ("https://example.com/ok.xml",)
    assert s.tdm_reservation == ("1",)
    assert any("<base href>" in w for w in s.warnings)
    assert any("'http://[x/'" in w for w in s.warnings)


def test_uppercase_and_unquoted_attributes() -> None:
    s = parse_html_meta(
        "<META NAME=ROBOTS CONTENT=NOAI><LINK REL=License TYPE=application/rsl+xml HREF=/l.xml>"
    )
    assert s.robots.has("noai")
    assert s.rsl_links == ("/l.xml",)


def test_charset_declarations() -> None:
    shift_jis = '<meta charset="shift_jis"><title>日本語</title><meta name="robots" content="noai">'
    s = parse_html_meta(shift_jis.encode("shift_jis"))
    assert s.robots.has("noai")
    text, warnings = decode_html(shift_jis.encode("shift_jis"))
    assert "日本語" in text and warnings == []
    cp = '<meta name="robots" content="noai"><p>\u20ac caf\xe9</p>'.encode("cp1252")
    text, warnings = decode_html(cp)
    assert "\u20ac" in text
    assert warnings
    bogus = b'<meta charset="x-nonsense"><meta name="robots" content="noai">'
    assert parse_html_meta(bogus).robots.has("noai")
    utf16 = '\ufeff<meta name="robots" content="noai">'.encode("utf-16-le")
    assert parse_html_meta(utf16).robots.has("noai")


def test_unterminated_inline_script_is_kept() -> None:
    s = parse_html_meta('<script type="application/rsl+xml"><rsl/>')
    assert s.rsl_inline == ("<rsl/>",)


def test_huge_page_is_truncated_with_warning() -> None:
    page = b'<meta name="robots" content="noai">' + b" " * (6 * 1024 * 1024)
    s = parse_html_meta(page)
    assert s.robots.has("noai")
    assert any("truncated" in w for w in s.warnings)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.html")), ids=lambda p: p.name)
def test_corpus(path: Path) -> None:
    expected = path.with_suffix(".expected").read_text().split()
    s = parse_html_meta(path.read_bytes())
    found = sorted({f"{d.bot}:{d.name}" if d.bot else d.name for d in s.robots.directives})
    found += [f"tdm-reservation={v}" for v in s.tdm_reservation]
    found += [f"rsl={v}" for v in s.rsl_links]
    assert sorted(found) == sorted(expected)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_bytes(data: bytes) -> None:
    parse_html_meta(data, "https://example.com/")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<meta",
                " name=",
                "robots",
                "GPTBot",
                " content=",
                '"',
                "'",
                "noai",
                ",",
                ">",
                "<link",
                " rel=license",
                " href=",
                "<script",
                "</script>",
                "<!--",
                "-->",
                "<![CDATA[",
                "]]>",
                "&#",
                "&amp;",
                "<?",
                "<!DOCTYPE",
                "\x00",
                "é",
            ]
        ),
        max_size=40,
    )
)
def test_never_raises_on_tag_soup(parts: list[str]) -> None:
    parse_html_meta("".join(parts))


def test_robots_warnings_stay_with_robots() -> None:
    s = parse_html_meta('<meta name="robots" content="noai, pleasedont">')
    assert s.warnings == ()
    assert any("pleasedont" in w for w in s.robots.warnings)

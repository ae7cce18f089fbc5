"""Percent-escape equivalence in robots.txt and TDMRep path patterns (RFC 9309 2.2.2, 2.2.3).

The cases come from the RFC's own tables, the TDMRep spec (which copies them),
google/robotstxt issue #57 (the RFC examples as a robots_test.cc patch),
crawler-commons' testEscapedPaths, CPython's test_robotparser and protego's
test_escaped_special_symbols / test_nonterminal_dollar. Google's library mode
(``normalize=False``) keeps Google's byte comparison; test_robots_google.py
holds that.
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from clearance.signals.robots import (
    canonical_path,
    canonical_pattern,
    compile_pattern,
    parse_robots,
)
from clearance.signals.tdmrep import parse_tdmrep_json, pattern_matches


def disallowed(pattern: str, url: str) -> bool:
    robots = parse_robots(f"User-agent: *\nDisallow: {pattern}\nAllow: /\n")
    return not robots.is_allowed("mybot", url)


# (disallowed?, Disallow pattern, URL): crawler-commons testEscapedPaths, whose rows
# include RFC 9309's examples from sections 2.2.2 and 2.2.3.
CRAWLER_COMMONS = [
    (False, "/*%20", "https://www.example.com/"),
    (True, "/*%20", "https://www.example.com/foobar%20/"),
    (False, "/*%20", "https://www.example.com/foobar/"),
    (False, "/*%2F*", "https://www.example.com/path/index.html"),
    (True, "/*%2F*", "https://www.example.com/topic/9%2F11/index.html"),
    (True, "/topic/9%2F11/", "https://www.example.com/topic/9%2F11/index.html"),
    (True, "/topic/9%2F11/", "https://www.example.com/topic/9%2f11/index.html"),
    (True, "/q?*mime=application%2Fpdf", "https://www.example.com/q?mime=application%2Fpdf"),
    (True, "/$", "https://www.example.com/"),
    (False, "/$", "https://www.example.com/foobar"),
    (False, "/%24", "https://www.example.com/"),
    (True, "/%24", "https://www.example.com/%24100"),
    (True, "/%24", "https://www.example.com/$100"),
    (False, "/search/%2A/", "https://www.example.com/search/foobar/"),
    (True, "/search/%2A/", "https://www.example.com/search/%2A/"),
    (True, "/search/%2A/", "https://www.example.com/search/%2a/"),
    (True, "/search/%2a/", "https://www.example.com/search/%2a/"),
    (True, "/search/%2a/", "https://www.example.com/search/*/"),
    (True, "/search/*/", "https://www.example.com/search/foobar/"),
    # RFC 9309 2.2.2
    (True, "/foo/bar?baz=quz", "https://www.example.com/foo/bar?baz=quz"),
    (True, "/foo/bar?baz=https://foo.bar", "https://www.example.com/foo/bar?baz=https://foo.bar"),
    (
        True,
        "/foo/bar?baz=https%3A%2F%2Ffoo.bar",
        "https://www.example.com/foo/bar?baz=https%3A%2F%2Ffoo.bar",
    ),
    (True, "/foo/bar/\u30c4", "https://www.example.com/foo/bar/%E3%83%84"),
    (True, "/foo/bar/%E3%83%84", "https://www.example.com/foo/bar/%E3%83%84"),
    (True, "/foo/bar/%62%61%7A", "https://www.example.com/foo/bar/baz"),
    # RFC 9309 2.2.3
    (True, "/path/file-with-a-%2A.html", "https://www.example.com/path/file-with-a-*.html"),
    (False, "/path/file-with-a-%2A.html", "https://www.example.com/path/file-with-a-foo.html"),
    (True, "/path/file-with-a-%2A.html", "https://www.example.com/path/file-with-a-%2A.html"),
    (True, "/path/foo-%24", "https://www.example.com/path/foo-$"),
    (False, "/path/foo-%24", "https://www.example.com/path/foo-"),
    (True, "/path/foo-%24", "https://www.example.com/path/foo-%24"),
]


@pytest.mark.parametrize(("blocked", "pattern", "url"), CRAWLER_COMMONS)
def test_crawler_commons_escaped_paths(blocked: bool, pattern: str, url: str) -> None:
    assert disallowed(pattern, url) is blocked


def test_google_issue_57_rfc_special_characters() -> None:
    # google/robotstxt#57: the RFC's 2.2.3 examples as a robots_test.cc case.
    robots = parse_robots(
        "User-agent: FooBot\nDisallow: /path/file-with-a-%2A.html\n"
        "Disallow: /path/foo-%24\nAllow: /\n"
    )
    assert not robots.is_allowed("FooBot", "https://www.example.com/path/file-with-a-*.html")
    assert not robots.is_allowed("FooBot", "https://www.example.com/path/foo-$")
    # Google's library compares bytes and misses both (the issue); its mode is kept.
    assert robots.is_allowed("FooBot", "/path/foo-$", normalize=False)


def test_protego_escaped_special_symbols() -> None:
    robots = parse_robots("user-agent: FooBot\ndisallow: /x/abc%24\ndisallow: /x%2Ax/abc\n")
    assert not robots.is_allowed("FooBot", "http://foo.bar/x/abc$abc")
    assert not robots.is_allowed("FooBot", "http://foo.bar/x/abc$")
    assert robots.is_allowed("FooBot", "http://foo.bar/x/abc")
    assert not robots.is_allowed("FooBot", "http://foo.bar/x*x/abc")
    assert not robots.is_allowed("FooBot", "http://foo.bar/x*x/abcdef")
    assert robots.is_allowed("FooBot", "http://foo.bar/xabcx/abc")


def test_protego_nonterminal_dollar() -> None:
    robots = parse_robots(
        "user-agent: FooBot\ndisallow: /x$/abc\ndisallow: /y/abc$\n"
        "disallow: /x*x$/abc\ndisallow: /y*y/abc$\n"
    )
    assert not robots.is_allowed("FooBot", "http://foo.bar/x$/abcdef")
    assert not robots.is_allowed("FooBot", "http://foo.bar/x%24/abcdef")
    assert robots.is_allowed("FooBot", "http://foo.bar/y/abcdef")
    assert not robots.is_allowed("FooBot", "http://foo.bar/y/abc")
    assert not robots.is_allowed("FooBot", "http://foo.bar/xabcx$/abcdef")
    assert not robots.is_allowed("FooBot", "http://foo.bar/xabcx%24/abcdef")
    assert not robots.is_allowed("FooBot", "http://foo.bar/yabcy/abc")
    assert robots.is_allowed("FooBot", "http://foo.bar/yabcy/abcdef")


def test_a_final_dollar_stays_the_end_anchor() -> None:
    # protego's test_special_symbols_dual_behaviour also blocks /x/abc$ and /x/abc%24 for
    # "disallow: /x/abc$"; RFC 9309 reads a final $ as the end of the pattern only.
    robots = parse_robots("user-agent: FooBot\ndisallow: /x/abc$\n")
    assert not robots.is_allowed("FooBot", "http://foo.bar/x/abc")
    assert robots.is_allowed("FooBot", "http://foo.bar/x/abc$")
    assert robots.is_allowed("FooBot", "http://foo.bar/x/abc%24")


def test_cpython_and_protego_1996_examples() -> None:
    # CPython test_robotparser CrawlDelayAndRequestRateTest / InvalidRequestRateTest.
    robots = parse_robots(
        "User-agent: figtree\nDisallow: /tmp\nDisallow: /a%3cd.html\n"
        "Disallow: /a%2fb.html\nDisallow: /%7ejoe/index.html\n"
    )
    for path in ("/tmp", "/a%3cd.html", "/a%3Cd.html", "/a%2fb.html", "/~joe/index.html"):
        assert not robots.is_allowed("figtree", path), path
    assert robots.is_allowed("figtree", "/foo.html")
    assert robots.is_allowed("figtree", "/a/b.html")  # %2F is not a slash
    robots = parse_robots("User-agent: *\nDisallow: /a%3Cd.html\nDisallow: /%7ejoe/index.html\n")
    assert not robots.is_allowed("bot", "/a%3cd.html")
    assert not robots.is_allowed("bot", "/%7Ejoe/index.html")
    # protego test_escaped_url / test_unescaped_url: "<" in a URL is its escape.
    for rule in ("/a%3cd.html", "/a<d.html", "/a%3c*", "/a<*"):
        robots = parse_robots(f"User-agent: *\nDisallow: /\nAllow: {rule}\n")
        assert robots.is_allowed("*", "https://www.site.local/a<d.html"), rule
        assert robots.is_allowed("*", "https://www.site.local/a%3cd.html"), rule


def test_pref_line_paths_are_compared_the_same_way() -> None:
    robots = parse_robots("User-agent: *\nAllow: /\nContent-Usage: /foo-%24 train-ai=n\n")
    match = robots.content_usage("AnyBot", "/foo-$/page")
    assert match is not None


def test_canonical_forms() -> None:
    assert canonical_path("/foo/bar/%62%61%7a") == "/foo/bar/baz"
    assert canonical_path("/a$b*c") == "/a%24b%2Ac"
    assert canonical_path("/ツ x") == "/%E3%83%84%20x"
    assert canonical_path("/100%") == "/100%25"
    assert canonical_path("/a%2fb?q=%3d") == "/a%2Fb?q=%3D"
    assert canonical_pattern("/x$/a*b$") == "/x%24/a*b$"
    assert canonical_pattern("/%2a%24$") == "/%2A%24$"


# --- TDMRep location patterns (the TDMRep spec copies RFC 9309's examples) ----------


def test_tdmrep_percent_escaped_special_characters() -> None:
    tdm = parse_tdmrep_json(
        '[{"location": "/path/foo-%24", "tdm-reservation": 1},'
        ' {"location": "/path/file-with-a-%2A.html", "tdm-reservation": 1},'
        ' {"location": "/", "tdm-reservation": 0}]'
    )
    assert tdm.lookup("https://provider.com/path/foo-$").reservation == 1
    assert tdm.lookup("https://provider.com/path/foo-%24").reservation == 1
    assert tdm.lookup("https://provider.com/path/file-with-a-*.html").reservation == 1
    assert tdm.lookup("https://provider.com/path/file-with-a-foo.html").reservation == 0
    assert pattern_matches("/foo/bar/%62%61%7A", "/foo/bar/baz")
    assert pattern_matches("/images/*.jpg$", "/images/a/b.jpg")
    assert not pattern_matches("/images/*.jpg$", "/images/a/b.jpg?x=1")


def test_tdmrep_junk_locations_never_raise() -> None:
    tdm = parse_tdmrep_json('[{"location": "http://[bad/a", "tdm-reservation": 1}]')
    assert tdm.lookup("http://[also-bad/a/x").reservation == 1
    assert any("is a URL" in w for w in tdm.warnings)


# --- properties ---------------------------------------------------------------

_PATH_CHARS = "/ab~$*%2A4"
_UNRESERVED_ESCAPES = {"a": "%61", "b": "%62", "~": "%7e"}
_LITERAL_ESCAPES = {"$": "%24", "*": "%2a"}


def _respell(text: str, picks: list[bool], table: dict[str, str]) -> str:
    out = []
    for i, ch in enumerate(text):
        out.append(table[ch] if ch in table and picks[i % len(picks)] else ch)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(st.text(_PATH_CHARS + "ツ<", max_size=12))
def test_canonical_path_is_idempotent(text: str) -> None:
    once = canonical_path(text)
    assert canonical_path(once) == once
    assert once.isascii()


_RULE = st.tuples(st.booleans(), st.text("/ab~*$", min_size=1, max_size=6))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_RULE, max_size=6),
    st.text("/ab~$*", max_size=10),
    st.integers(0, 11),
    st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_respelling_the_url_never_changes_the_answer(
    rules: list[tuple[bool, str]], path: str, cut: int, picks: list[bool]
) -> None:
    url = "/" + path
    # A rule cut from the URL itself, so literal "$" and "*" in it are put to the test.
    prefix = url[: cut + 1].replace("*", "%2A")
    prefix = prefix[:-1] + "%24" if prefix.endswith("$") else prefix
    rules = [*rules, (False, prefix)]
    body = "User-agent: *\n" + "".join(f"{'Allow' if a else 'Disallow'}: {p}\n" for a, p in rules)
    robots = parse_robots(body)
    other = _respell(_respell(url, picks, _UNRESERVED_ESCAPES), picks, _LITERAL_ESCAPES)
    assert robots.is_allowed("bot", url) is robots.is_allowed("bot", other)


@settings(max_examples=300, deadline=None)
@given(
    st.text("/ab~$*", min_size=1, max_size=8),
    st.text("/ab~$*", max_size=4),
    st.booleans(),
    st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_respelling_a_pattern_never_changes_what_it_matches(
    pattern: str, tail: str, near: bool, picks: list[bool]
) -> None:
    # Escape unreserved characters anywhere and literal (non-final) dollars; try it on a
    # path spelled from the pattern itself (so it can match) or on an unrelated one.
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    other = _respell(body, picks, {**_UNRESERVED_ESCAPES, "$": "%24"}) + ("$" if anchored else "")
    path = ("/" + body.replace("*", "a") + tail) if near else "/" + tail
    target = canonical_path(path)
    assert compile_pattern(canonical_pattern(pattern))(target) is compile_pattern(
        canonical_pattern(other)
    )(target)
    assert pattern_matches(pattern, path) is pattern_matches(other, path)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=40))
def test_junk_never_raises(body: str, url: str) -> None:
    robots = parse_robots(body)
    assert isinstance(robots.is_allowed("bot", url), bool)
    assert isinstance(robots.is_allowed(url, url, normalize=False), bool)
    assert isinstance(pattern_matches(body[:20], url), bool)

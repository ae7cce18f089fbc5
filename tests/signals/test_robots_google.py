"""Google's robots_test.cc (google/robotstxt), ported case by case.

Each test keeps the name of its C++ counterpart. Google's library leaves
percent-encoding the URL to the caller, so these cases call ``is_allowed`` with
``normalize=False``; the RFC 9309 reading with normalisation is tested in
test_robots.py. Source: https://github.com/google/robotstxt (Apache-2.0).
"""

from __future__ import annotations

from clearance.signals.robots import (
    MAX_LINE_CHARS,
    escape_pattern,
    is_valid_product_token,
    parse_robots,
    request_path,
)


def allowed(robotstxt: str | bytes, agent: str, url: str) -> bool:
    return parse_robots(robotstxt).is_allowed(agent, url, normalize=False)


def test_google_only_system_test() -> None:
    robotstxt = "user-agent: FooBot\ndisallow: /\n"
    assert allowed("", "FooBot", "")
    assert allowed(robotstxt, "", "")
    assert not allowed(robotstxt, "FooBot", "")
    assert allowed("", "", "")


def test_id_line_syntax_line() -> None:
    correct = "user-agent: FooBot\ndisallow: /\n"
    incorrect = "foo: FooBot\nbar: /\n"
    incorrect_accepted = "user-agent FooBot\ndisallow /\n"
    url = "http://foo.bar/x/y"
    assert not allowed(correct, "FooBot", url)
    assert allowed(incorrect, "FooBot", url)
    assert not allowed(incorrect_accepted, "FooBot", url)


def test_id_line_syntax_groups() -> None:
    robotstxt = (
        "allow: /foo/bar/\n"
        "\n"
        "user-agent: FooBot\n"
        "disallow: /\n"
        "allow: /x/\n"
        "user-agent: BarBot\n"
        "disallow: /\n"
        "allow: /y/\n"
        "\n"
        "\n"
        "allow: /w/\n"
        "user-agent: BazBot\n"
        "\n"
        "user-agent: FooBot\n"
        "allow: /z/\n"
        "disallow: /\n"
    )
    url_w = "http://foo.bar/w/a"
    url_x = "http://foo.bar/x/b"
    url_y = "http://foo.bar/y/c"
    url_z = "http://foo.bar/z/d"
    url_foo = "http://foo.bar/foo/bar/"
    assert allowed(robotstxt, "FooBot", url_x)
    assert allowed(robotstxt, "FooBot", url_z)
    assert not allowed(robotstxt, "FooBot", url_y)
    assert allowed(robotstxt, "BarBot", url_y)
    assert allowed(robotstxt, "BarBot", url_w)
    assert not allowed(robotstxt, "BarBot", url_z)
    assert allowed(robotstxt, "BazBot", url_z)
    # Lines with rules outside groups are ignored.
    assert not allowed(robotstxt, "FooBot", url_foo)
    assert not allowed(robotstxt, "BarBot", url_foo)
    assert not allowed(robotstxt, "BazBot", url_foo)


def test_id_line_syntax_groups_other_rules() -> None:
    url = "http://foo.bar/"
    robotstxt = "User-agent: BarBot\nSitemap: https://foo.bar/sitemap\nUser-agent: *\nDisallow: /\n"
    assert not allowed(robotstxt, "FooBot", url)
    assert not allowed(robotstxt, "BarBot", url)
    robotstxt = "User-agent: FooBot\nInvalid-Unknown-Line: unknown\nUser-agent: *\nDisallow: /\n"
    assert not allowed(robotstxt, "FooBot", url)
    assert not allowed(robotstxt, "BarBot", url)


def test_id_rep_line_names_case_insensitive() -> None:
    upper = "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n"
    lower = "user-agent: FooBot\nallow: /x/\ndisallow: /\n"
    camel = "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n"
    for robotstxt in (upper, lower, camel):
        assert allowed(robotstxt, "FooBot", "http://foo.bar/x/y")
        assert not allowed(robotstxt, "FooBot", "http://foo.bar/a/b")


def test_id_verify_valid_user_agents_to_obey() -> None:
    assert is_valid_product_token("Foobot")
    assert is_valid_product_token("Foobot-Bar")
    assert is_valid_product_token("Foo_Bar")
    assert not is_valid_product_token("")
    assert not is_valid_product_token("ツ")
    assert not is_valid_product_token("Foobot*")
    assert not is_valid_product_token(" Foobot ")
    assert not is_valid_product_token("Foobot/2.1")
    assert not is_valid_product_token("Foobot Bar")


def test_id_user_agent_value_case_insensitive() -> None:
    for value in ("FOO BAR", "foo bar", "FoO bAr"):
        robotstxt = f"User-Agent: {value}\nAllow: /x/\nDisallow: /\n"
        for agent in ("Foo", "foo"):
            assert allowed(robotstxt, agent, "http://foo.bar/x/y")
            assert not allowed(robotstxt, agent, "http://foo.bar/a/b")


def test_google_only_accept_user_agent_up_to_first_space() -> None:
    assert not is_valid_product_token("Foobot Bar")
    robotstxt = "User-Agent: *\nDisallow: /\nUser-Agent: Foo Bar\nAllow: /x/\nDisallow: /\n"
    url = "http://foo.bar/x/y"
    assert allowed(robotstxt, "Foo", url)
    # Google's library answers "Foo Bar" (not a token it will obey) from the * group.
    # Clearance also matches a group by the name as written, as crawler-commons'
    # testMultiWordAgentName does, so the "Foo Bar" group applies: a deliberate
    # difference (docs/signals.md, "Crawler names").
    assert allowed(robotstxt, "Foo Bar", url)
    assert not allowed(robotstxt, "Foo Bar", "http://foo.bar/a/b")


def test_id_global_groups_secondary() -> None:
    empty = ""
    global_ = "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n"
    only_specific = (
        "user-agent: FooBot\nallow: /\nuser-agent: BarBot\ndisallow: /\n"
        "user-agent: BazBot\ndisallow: /\n"
    )
    url = "http://foo.bar/x/y"
    assert allowed(empty, "FooBot", url)
    assert not allowed(global_, "FooBot", url)
    assert allowed(global_, "BarBot", url)
    assert allowed(only_specific, "QuxBot", url)


def test_id_allow_disallow_value_case_sensitive() -> None:
    url = "http://foo.bar/x/y"
    assert not allowed("user-agent: FooBot\ndisallow: /x/\n", "FooBot", url)
    assert allowed("user-agent: FooBot\ndisallow: /X/\n", "FooBot", url)


def test_id_longest_match() -> None:
    url = "http://foo.bar/x/page.html"
    robotstxt = "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n"
    assert not allowed(robotstxt, "FooBot", url)
    robotstxt = "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n"
    assert allowed(robotstxt, "FooBot", url)
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/x/")
    # Equivalent disallow and allow patterns: allow is used.
    assert allowed("user-agent: FooBot\ndisallow: \nallow: \n", "FooBot", url)
    assert allowed("user-agent: FooBot\ndisallow: /\nallow: /\n", "FooBot", url)
    robotstxt = "user-agent: FooBot\ndisallow: /x\nallow: /x/\n"
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/x")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/x/")
    robotstxt = "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/page.html\n"
    assert allowed(robotstxt, "FooBot", url)
    robotstxt = "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n"
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/page.html")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/page")
    robotstxt = "user-agent: FooBot\nallow: /x/page.\ndisallow: /*.html\n"
    assert allowed(robotstxt, "FooBot", url)
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/x/y.html")
    robotstxt = "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\nDisallow: /y/\n"
    assert allowed(robotstxt, "FooBot", "http://foo.bar/x/page")
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/y/page")


def test_id_encoding() -> None:
    robotstxt = (
        "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n"
    )
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar?qux=taz&baz=http://foo.bar?tar&par")
    # 3 byte character: /foo/bar/ツ -> /foo/bar/%E3%83%84
    robotstxt = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/ツ\n"
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/%E3%83%84")
    # The parser encodes the 3-byte character, but the URL is not %-encoded.
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/ツ")
    robotstxt = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%E3%83%84\n"
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/%E3%83%84")
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/ツ")
    # Percent encoded unreserved US-ASCII: /foo/bar/%62%61%7A -> NULL
    robotstxt = "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n"
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/baz")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/%62%61%7A")


def test_id_special_characters() -> None:
    robotstxt = "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n"
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/quz")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/quz")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo//quz")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bax/quz")
    robotstxt = "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n"
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/qux")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/")
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar/baz")
    robotstxt = "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n"
    assert allowed(robotstxt, "FooBot", "http://foo.bar/foo/bar")
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/foo/quz")


def test_google_only_index_html_is_directory() -> None:
    robotstxt = "User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n"
    assert allowed(robotstxt, "foobot", "http://foo.com/allowed-slash/")
    assert not allowed(robotstxt, "foobot", "http://foo.com/allowed-slash/index.htm")
    assert allowed(robotstxt, "foobot", "http://foo.com/allowed-slash/index.html")
    assert not allowed(robotstxt, "foobot", "http://foo.com/anyother-url")


def test_google_only_line_too_long() -> None:
    eol_len = len("\n")
    max_line_len = 2083 * 8
    assert max_line_len - 1 == MAX_LINE_CHARS
    allow, disallow = "allow: ", "disallow: "

    robotstxt = "user-agent: FooBot\n"
    longline = "/x/"
    max_length = max_line_len - len(longline) - len(disallow) + eol_len
    longline += "a" * (max_length - len(longline))
    robotstxt += disallow + longline + "/qux\n"
    assert allowed(robotstxt, "FooBot", "http://foo.bar/fux")
    assert not allowed(robotstxt, "FooBot", f"http://foo.bar{longline}/fux")

    robotstxt = "user-agent: FooBot\ndisallow: /\n"
    longline_a = "/x/"
    longline_b = "/x/"
    max_length = max_line_len - len(longline_a) - len(allow) + eol_len
    longline_a += "a" * (max_length - len(longline_a))
    longline_b += "b" * (max_length - len(longline_b))
    robotstxt += allow + longline_a + "/qux\n"
    robotstxt += allow + longline_b + "/qux\n"
    assert not allowed(robotstxt, "FooBot", "http://foo.bar/")
    assert allowed(robotstxt, "FooBot", f"http://foo.bar{longline_a}/qux")
    assert allowed(robotstxt, "FooBot", f"http://foo.bar{longline_b}/fux")


def test_google_only_documentation_checks() -> None:
    base = "http://foo.bar"
    robotstxt = "user-agent: FooBot\ndisallow: /\nallow: /fish\n"
    for fish in ("/fish*", "/fish"):
        robotstxt = f"user-agent: FooBot\ndisallow: /\nallow: {fish}\n"
        assert not allowed(robotstxt, "FooBot", base + "/bar")
        for ok in (
            "/fish",
            "/fish.html",
            "/fish/salmon.html",
            "/fishheads",
            "/fishheads/yummy.html",
            "/fish.html?id=anything",
        ):
            assert allowed(robotstxt, "FooBot", base + ok)
        for no in ("/Fish.asp", "/Fish.bar", "/catfish", "/?id=fish"):
            assert not allowed(robotstxt, "FooBot", base + no)

    robotstxt = "user-agent: FooBot\ndisallow: /\nallow: /fish/\n"
    assert not allowed(robotstxt, "FooBot", base + "/bar")
    for ok in (
        "/fish/",
        "/fish/salmon",
        "/fish/?salmon",
        "/fish/salmon.html",
        "/fish/?id=anything",
    ):
        assert allowed(robotstxt, "FooBot", base + ok)
    for no in ("/fish", "/fish.html", "/Fish/Salmon.html"):
        assert not allowed(robotstxt, "FooBot", base + no)

    robotstxt = "user-agent: FooBot\ndisallow: /\nallow: /*.php\n"
    assert not allowed(robotstxt, "FooBot", base + "/bar")
    for ok in (
        "/filename.php",
        "/folder/filename.php",
        "/folder/filename.php?parameters",
        "//folder/any.php.file.html",
        "/filename.php/",
        "/index?f=filename.php/",
    ):
        assert allowed(robotstxt, "FooBot", base + ok)
    for no in ("/php/", "/index?php", "/windows.PHP"):
        assert not allowed(robotstxt, "FooBot", base + no)

    robotstxt = "user-agent: FooBot\ndisallow: /\nallow: /*.php$\n"
    assert not allowed(robotstxt, "FooBot", base + "/bar")
    for ok in ("/filename.php", "/folder/filename.php"):
        assert allowed(robotstxt, "FooBot", base + ok)
    for no in (
        "/filename.php?parameters",
        "/filename.php/",
        "/filename.php5",
        "/php/",
        "/filename?php",
        "/aaaphpaaa",
        "//windows.PHP",
    ):
        assert not allowed(robotstxt, "FooBot", base + no)

    robotstxt = "user-agent: FooBot\ndisallow: /\nallow: /fish*.php\n"
    assert not allowed(robotstxt, "FooBot", base + "/bar")
    assert allowed(robotstxt, "FooBot", base + "/fish.php")
    assert allowed(robotstxt, "FooBot", base + "/fishheads/catfish.php?parameters")
    assert not allowed(robotstxt, "FooBot", base + "/Fish.PHP")

    # Section "Order of precedence for group-member records".
    url = "http://example.com/page"
    assert allowed("user-agent: FooBot\nallow: /p\ndisallow: /\n", "FooBot", url)
    url = "http://example.com/folder/page"
    assert allowed("user-agent: FooBot\nallow: /folder\ndisallow: /folder\n", "FooBot", url)
    url = "http://example.com/page.htm"
    assert not allowed("user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n", "FooBot", url)
    robotstxt = "user-agent: FooBot\nallow: /$\ndisallow: /\n"
    assert allowed(robotstxt, "FooBot", "http://example.com/")
    assert not allowed(robotstxt, "FooBot", "http://example.com/page.html")


def _directive_lines(robotstxt: str | bytes) -> list[int]:
    """Line numbers of the rules and user-agent groups, as RobotsStatsReporter sees them."""
    parsed = parse_robots(robotstxt)
    return sorted(
        [g.line for g in parsed.groups] + [r.line for g in parsed.groups for r in g.rules]
    )


def test_id_lines_numbers_are_counted_correctly() -> None:
    files = [
        "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /\n",
        "User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n\r\n\r\nDisallow: /\r\n",
        "User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\rDisallow: /\r",
        "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\nDisallow: /",
        "User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /",
    ]
    for robotstxt in files:
        assert _directive_lines(robotstxt) == [1, 2, 3, 6]


def test_id_utf8_byte_order_mark_is_skipped() -> None:
    for bom in (b"\xef\xbb\xbf", b"\xef\xbb", b"\xef"):
        parsed = parse_robots(bom + b"User-Agent: foo\nAllow: /AnyValue\n")
        assert [g.agents for g in parsed.groups] == [("foo",)]
        assert [r.pattern for r in parsed.groups[0].rules] == ["/AnyValue"]
        assert not [w for w in parsed.warnings if "unknown" in w]
    # A broken BOM makes the first line garbage; the Allow line is then outside any group.
    parsed = parse_robots(b"\xef\x11\xbfUser-Agent: foo\nAllow: /AnyValue\n")
    assert parsed.groups == ()
    assert any("unknown directive" in w for w in parsed.warnings)
    # A BOM is only valid at the start of the file.
    parsed = parse_robots(b"User-Agent: foo\n\xef\xbb\xbfAllow: /AnyValue\n")
    assert [g.agents for g in parsed.groups] == [("foo",)]
    assert parsed.groups[0].rules == ()
    assert any("unknown directive" in w for w in parsed.warnings)


def test_id_non_standard_line_example_sitemap() -> None:
    loc = "http://foo.bar/sitemap.xml"
    body = "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\n"
    assert parse_robots(body + f"Sitemap: {loc}\n").sitemaps == (loc,)
    assert parse_robots(f"Sitemap: {loc}\n" + body).sitemaps == (loc,)


def test_get_path_params_query() -> None:
    cases = {
        "": "/",
        "http://www.example.com": "/",
        "http://www.example.com/": "/",
        "http://www.example.com/a": "/a",
        "http://www.example.com/a/": "/a/",
        "http://www.example.com/a/b?c=http://d.e/": "/a/b?c=http://d.e/",
        "http://www.example.com/a/b?c=d&e=f#fragment": "/a/b?c=d&e=f",
        "example.com": "/",
        "example.com/": "/",
        "example.com/a": "/a",
        "example.com/a/": "/a/",
        "example.com/a/b?c=d&e=f#fragment": "/a/b?c=d&e=f",
        "a": "/",
        "a/": "/",
        "/a": "/a",
        "a/b": "/b",
        "example.com?a": "/?a",
        "example.com/a;b#c": "/a;b",
        "//a/b/c": "/b/c",
    }
    for url, path in cases.items():
        assert request_path(url) == path, url


def test_maybe_escape_pattern() -> None:
    assert escape_pattern("http://www.example.com") == "http://www.example.com"
    assert escape_pattern("/a/b/c") == "/a/b/c"
    assert escape_pattern("á") == "%C3%A1"
    assert escape_pattern("%aa") == "%AA"

"""robots.txt beyond Google's cases: RFC 9309 normalisation, aipref and Content-Signal
rules, RSL licences, fetch-status stand-ins, size limits, junk input and fuzzing."""

from __future__ import annotations

import copy
import pickle
import time

import hypothesis.strategies as st
from hypothesis import given, settings

from clearance.signals.aipref import Pref
from clearance.signals.base import MAX_POLICY_BYTES
from clearance.signals.content_signal import Signal
from clearance.signals.robots import (
    Access,
    compile_pattern,
    parse_robots,
    robots_for_status,
)

# --- matching ---------------------------------------------------------------


def test_agent_match_is_exact_not_substring() -> None:
    robots = parse_robots("User-agent: bot\nDisallow: /\n\nUser-agent: GPT\nDisallow: /x\n")
    assert robots.is_allowed("GPTBot", "/")  # protego would match "bot" inside "GPTBot"
    assert robots.is_allowed("GPTBot", "/x")
    assert not robots.is_allowed("BOT", "/")
    assert not robots.is_allowed("gpt", "/x/y")


def test_groups_naming_the_same_agent_merge() -> None:
    robots = parse_robots(
        "User-agent: GPTBot\nDisallow: /a/\n\nUser-agent: *\nDisallow: /\n\n"
        "User-agent: gptbot\nDisallow: /b/\n"
    )
    assert not robots.is_allowed("GPTBot", "/a/1")
    assert not robots.is_allowed("GPTBot", "/b/1")
    assert robots.is_allowed("GPTBot", "/c/1")  # the * group does not apply to a named agent
    assert not robots.is_allowed("CCBot", "/c/1")
    assert robots.agents_named() == ("GPTBot",)
    assert [g.line for g in robots.groups_for("GPTBOT")] == [1, 7]


def test_unknown_lines_do_not_end_a_user_agent_run() -> None:
    for line in (
        "Content-Usage: train-ai=n",
        "Content-Signal: ai-train=no",
        "License: https://example.com/license.xml",
        "Sitemap: https://example.com/sitemap.xml",
        "Crawl-delay: 10",
        "X-Anything: at all",
    ):
        robots = parse_robots(f"User-agent: CCBot\n{line}\nUser-agent: GPTBot\nDisallow: /\n")
        assert not robots.is_allowed("CCBot", "/page"), line
        assert robots.groups[0].agents == ("CCBot", "GPTBot")
        assert any("User-agent joins the group of line 1" in w for w in robots.warnings), line
    plain = parse_robots("User-agent: CCBot\nUser-agent: GPTBot\nDisallow: /\n")
    assert plain.warnings == ()


def test_raw_unicode_url_is_percent_encoded_by_default() -> None:
    robots = parse_robots("User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/ツ\n")
    assert robots.is_allowed("FooBot", "http://foo.bar/foo/bar/ツ")
    assert robots.is_allowed("FooBot", "http://foo.bar/foo/bar/%e3%83%84")
    assert not robots.is_allowed("FooBot", "http://foo.bar/foo/bar/ツ", normalize=False)


def test_robots_txt_itself_is_always_allowed() -> None:
    robots = parse_robots("User-agent: *\nDisallow: /\n")
    assert robots.is_allowed("AnyBot", "https://example.com/robots.txt")
    assert not robots.is_allowed("AnyBot", "https://example.com/robots.txt.bak")
    assert robots_for_status(503).is_allowed("AnyBot", "/robots.txt")


def test_check_reports_the_deciding_line() -> None:
    robots = parse_robots("User-agent: *\nAllow: /p\nDisallow: /\n")
    verdict = robots.check("AnyBot", "/page")
    assert verdict.allowed and verdict.rule is not None and verdict.rule.line == 2
    assert verdict.reason == "allowed by line 2: Allow: /p"
    verdict = robots.check("AnyBot", "/x")
    assert not verdict.allowed and verdict.rule is not None and verdict.rule.raw == "Disallow: /"
    assert not verdict.agent_named
    assert parse_robots("").check("AnyBot", "/x").reason == "no rule in any group matches"


def _reference_matches(path: str, pattern: str) -> bool:
    """Google's RobotsMatchStrategy::Matches, position set by position set (the brute force)."""
    positions = [0]
    for i, ch in enumerate(pattern):
        if ch == "$" and i == len(pattern) - 1:
            return positions[-1] == len(path)
        if ch == "*":
            positions = list(range(positions[0], len(path) + 1))
        else:
            positions = [p + 1 for p in positions if p < len(path) and path[p] == ch]
            if not positions:
                return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.text("/ab*$", max_size=8), st.text("/ab$", max_size=10))
def test_pattern_matcher_agrees_with_googles_algorithm(pattern: str, path: str) -> None:
    assert compile_pattern(pattern)(path) is _reference_matches(path, pattern)


def _brute_force_allowed(rules: list[tuple[bool, str]], path: str) -> bool:
    """Google's decision, trying every rule: longest match wins, Allow wins a tie."""
    best = {True: 0, False: 0}
    for allow, pattern in rules:
        if _reference_matches(path, pattern):
            best[allow] = max(best[allow], len(pattern))
    return not best[False] > best[True]


_RULE = st.tuples(st.booleans(), st.text("/ab*$", max_size=6))


@settings(max_examples=400, deadline=None)
@given(st.lists(_RULE, max_size=12), st.text("/ab", max_size=8).filter(lambda s: s[:1] != "/"))
def test_indexed_lookup_agrees_with_brute_force(rules: list[tuple[bool, str]], tail: str) -> None:
    body = "User-agent: *\n" + "".join(
        f"{'Allow' if allow else 'Disallow'}: {pattern}\n" for allow, pattern in rules
    )
    path = "/" + tail
    expected = _brute_force_allowed(rules, path)
    assert parse_robots(body).is_allowed("Bot", path, normalize=False) is expected


def test_pathological_wildcards_stay_fast() -> None:
    pattern = "/" + "*a" * 2000 + "b"
    robots = parse_robots(f"User-agent: *\nDisallow: {pattern}\n")
    start = time.perf_counter()
    assert robots.is_allowed("AnyBot", "/" + "a" * 16000)
    assert time.perf_counter() - start < 2.0


# --- aipref Content-Usage and Content-Signal ---------------------------------------


ATTACH_EXAMPLE = """\
User-Agent: *
Allow: /
Disallow: /never/
Content-Usage: / train-ai=n
Content-Usage: /ai-ok/ train-ai=y

User-Agent: ExampleBot
Allow: /
Content-Usage: / train-ai=y
"""


def test_attach_draft_example_table() -> None:
    robots = parse_robots(ATTACH_EXAMPLE)
    for path, crawl, pref in (
        ("/test", True, Pref.DISALLOW),
        ("/never/test", False, None),
        ("/ai-ok/test", True, Pref.ALLOW),
    ):
        assert robots.is_allowed("SomeBot", path) is crawl
        match = robots.content_usage("SomeBot", path)
        assert (match.value.get("train-ai") if match else None) is pref
    example = robots.content_usage("ExampleBot", "/never/test")
    assert example is not None and example.value.get("train-ai") is Pref.ALLOW
    assert robots.warnings == ()


def test_attach_draft_intro_example_and_interleaving() -> None:
    robots = parse_robots("User-Agent: *\nContent-Usage: /a/ search=n\nAllow: /\n")
    match = robots.content_usage("Bot", "/a/b")
    assert match is not None and match.value.get("search") is Pref.DISALLOW
    assert robots.content_usage("Bot", "/b") is None


def test_content_usage_paths_are_percent_normalised() -> None:
    robots = parse_robots("User-agent: *\nContent-Usage: /café/ train-ai=n\n")
    assert robots.content_usage("Bot", "/caf%C3%A9/menu") is not None
    assert robots.content_usage("Bot", "/café/menu") is not None
    assert robots.groups[0].content_usage[0].path == "/caf%C3%A9/"


def test_content_usage_parse_failure_is_all_unknown() -> None:
    robots = parse_robots("User-agent: *\nContent-Usage: / Train-AI=n\n")
    match = robots.content_usage("Bot", "/x")
    assert match is not None and dict(match.value.prefs) == {}
    assert any("upper-case key" in w for w in robots.warnings)


def test_content_usage_without_path_applies_to_root_with_a_warning() -> None:
    robots = parse_robots("User-agent: *\nContent-Usage: train-ai=n, search=y\n")
    match = robots.content_usage("Bot", "/deep/page")
    assert match is not None and match.value.get("train-ai") is Pref.DISALLOW
    assert match.lines[0].path == "/"
    assert any("names no path" in w for w in robots.warnings)


def test_pref_lines_before_any_group_apply_to_every_agent() -> None:
    robots = parse_robots(
        "Content-Usage: / train-ai=n\nContent-Signal: ai-input=no\nUser-agent: GPTBot\nAllow: /\n"
    )
    usage = robots.content_usage("GPTBot", "/x")
    assert usage is not None and usage.value.get("train-ai") is Pref.DISALLOW
    signal = robots.content_signal("Other", "/x")
    assert signal is not None and signal.value.get("ai-input") is Signal.NO
    assert sum("before any User-agent" in w for w in robots.warnings) == 2


def test_content_signal_may_be_path_scoped() -> None:
    robots = parse_robots(
        "User-agent: *\nContent-Signal: search=yes, ai-train=no\n"
        "Content-Signal: /blog/ ai-train=yes\nAllow: /\n"
    )
    root = robots.content_signal("Bot", "/shop")
    assert root is not None and root.value.get("ai-train") is Signal.NO
    blog = robots.content_signal("Bot", "/blog/post")
    assert blog is not None and blog.value.get("ai-train") is Signal.YES
    assert blog.value.get("search") is None


def test_equal_length_paths_combine_most_restrictively() -> None:
    robots = parse_robots(
        "User-agent: *\nContent-Usage: /a* train-ai=y\nContent-Usage: /ab train-ai=n, search=y\n"
    )
    match = robots.content_usage("Bot", "/abc")
    assert match is not None
    assert match.value.get("train-ai") is Pref.DISALLOW
    assert match.value.get("search") is Pref.ALLOW


# --- License, Sitemap -------------------------------------------------------------


def test_license_lines_are_global_and_repeatable() -> None:
    robots = parse_robots(
        "License: https://a.example/l.xml\nUser-agent: *\nLicense: https://b.example/l.xml\n"
        "Disallow: /x\nLicense: https://a.example/l.xml\nLicense: not a url\nlicence: ftp://x/y\n"
    )
    assert robots.licenses == ("https://a.example/l.xml", "https://b.example/l.xml")
    assert sum("License" in w for w in robots.warnings) == 2


# --- fetch status --------------------------------------------------------------


def test_status_semantics() -> None:
    ok = robots_for_status(200, b"User-agent: *\nDisallow: /x\n")
    assert ok.access is Access.PARSED and ok.status == 200 and not ok.is_allowed("B", "/x")
    assert ok.reason == "HTTP 200: parsed"
    for status in (400, 401, 403, 404, 410, 301):
        stand_in = robots_for_status(status)
        assert stand_in.access is Access.ALLOW_ALL and stand_in.is_allowed("B", "/x"), status
        assert str(status) in stand_in.reason
    for status in (429, 500, 502, 503, 599, 600, 100):
        stand_in = robots_for_status(status)
        assert stand_in.access is Access.DISALLOW_ALL and not stand_in.is_allowed("B", "/x")
    unreachable = robots_for_status(None)
    assert not unreachable.is_allowed("B", "/") and "unreachable" in unreachable.reason
    assert unreachable.content_usage("B", "/") is None
    assert robots_for_status(204).groups == ()


def test_pickles_after_use() -> None:
    robots = parse_robots(ATTACH_EXAMPLE)
    assert robots.content_usage("Bot", "/x") is not None  # fills the lookup cache
    for clone in (pickle.loads(pickle.dumps(robots)), copy.deepcopy(robots)):
        assert clone == robots
        assert not clone.is_allowed("Bot", "/never/x")
        match = clone.content_usage("Bot", "/ai-ok/x")
        assert match is not None and match.value.get("train-ai") is Pref.ALLOW


# --- size, encoding, junk ----------------------------------------------------------


def test_ten_megabyte_file_is_cut_at_500_kib_on_a_line_boundary() -> None:
    head = "User-agent: *\nDisallow: /private/\nDisallow: /ツ/\n"
    filler = "".join(f"Disallow: /generated/{i:07d}/ツ\n" for i in range(310_000))
    body = (head + filler + "Disallow: /late/\n").encode()
    assert len(body) > 10_000_000
    start = time.perf_counter()
    robots = parse_robots(body)
    parsed_in = time.perf_counter() - start
    assert not robots.is_allowed("Bot", "/private/x")
    assert not robots.is_allowed("Bot", "/ツ/x")  # no Latin-1 fallback from a split character
    assert robots.is_allowed("Bot", "/late/x")  # beyond the limit: never read
    assert not any("Latin-1" in w for w in robots.warnings)
    assert robots.warnings[0].startswith("read the first ")
    rules = robots.groups[0].rules
    assert sum(len(r.raw) + 1 for r in rules) + len("User-agent: *\n") <= MAX_POLICY_BYTES
    start = time.perf_counter()
    for i in range(200):
        robots.is_allowed("Bot", f"/generated/{i:07d}/x")
    queried_in = time.perf_counter() - start
    assert parsed_in < 5.0 and queried_in < 5.0


def test_one_huge_line_never_raises() -> None:
    robots = parse_robots(b"Disallow: /" + b"a" * 10_000_000)
    assert robots.groups == ()
    assert robots.is_allowed("Bot", "/aaa")


def test_non_utf8_file_falls_back_to_latin1() -> None:
    robots = parse_robots(b"User-agent: *\nDisallow: /\xe9t\xe9/\nAllow: /\xe9t\xe9/public\n")
    assert any("Latin-1" in w for w in robots.warnings)
    assert not robots.is_allowed("Bot", "/%E9t%E9/x", normalize=False)
    assert robots.is_allowed("Bot", "/%E9t%E9/public/x")
    assert robots.is_allowed("Bot", "/%C3%A9t%C3%A9/x")  # the UTF-8 spelling is another path


def test_warnings_are_capped() -> None:
    robots = parse_robots("\n".join(f"junk line {i} here" for i in range(500)))
    assert len(robots.warnings) == 51
    assert robots.warnings[-1] == "450 more warnings not shown"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.text(max_size=40), st.text(max_size=60))
def test_parse_never_raises_on_bytes(data: bytes, agent: str, url: str) -> None:
    robots = parse_robots(data)
    robots.is_allowed(agent, url)
    robots.content_usage(agent, url)
    robots.content_signal(agent, url)
    robots.agents_named()


_LINE = st.one_of(
    st.sampled_from(["User-agent", "Allow", "Disallow", "Content-Usage", "Content-Signal"]).flatmap(
        lambda k: st.text(max_size=30).map(lambda v: f"{k}: {v}")
    ),
    st.text(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=30), st.text(max_size=20), st.text(max_size=40))
def test_parse_never_raises_on_robots_shaped_text(lines: list[str], agent: str, url: str) -> None:
    robots = parse_robots("\n".join(lines))
    robots.check(agent, url)
    robots.content_usage(agent, url)
    robots.content_signal("*", url)

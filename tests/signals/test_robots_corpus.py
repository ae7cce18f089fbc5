"""robots.txt parser against the real-world-shaped corpus in tests/corpus/robots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.core import Permission, Usage
from clearance.signals.agents import known_agents, training_tokens
from clearance.signals.aipref import Pref
from clearance.signals.content_signal import Signal
from clearance.signals.mapping import evidence_from_robots
from clearance.signals.robots import RobotsTxt, parse_robots

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "robots"


def load(name: str) -> RobotsTxt:
    return parse_robots((CORPUS / name).read_bytes())


CASES = [
    # news publisher: wildcard * group plus one group per AI crawler
    (
        "news_publisher.txt",
        "Googlebot",
        "https://www.example-news.com/2026/01/02/world/a.html",
        True,
    ),
    ("news_publisher.txt", "Googlebot", "/ads/banner.js", False),
    ("news_publisher.txt", "Googlebot", "/ads/public/logo.png", True),
    ("news_publisher.txt", "Googlebot", "/svc/news/v3/all/pshb.rss", True),
    ("news_publisher.txt", "Googlebot", "/svc/other", False),
    ("news_publisher.txt", "Googlebot", "/feed.jsonp", False),
    ("news_publisher.txt", "Googlebot", "/feed.jsonp?cb=1", True),
    ("news_publisher.txt", "Googlebot", "/section?a=1&login=x", False),
    ("news_publisher.txt", "Googlebot", "/restaurants/searchresults", False),
    ("news_publisher.txt", "GPTBot", "/2026/01/02/world/a.html", False),
    ("news_publisher.txt", "gptbot", "/", False),
    ("news_publisher.txt", "ClaudeBot", "/x", False),
    ("news_publisher.txt", "Claude-Web", "/x", False),
    ("news_publisher.txt", "Claude-SearchBot", "/x", True),  # not named: the * group
    ("news_publisher.txt", "Mediapartners-Google", "/ads/banner.js", True),  # empty Disallow
    ("news_publisher.txt", "GPTBot", "/robots.txt", True),
    # code host: everything in the * group. baidu's group has only Crawl-delay, which
    # does not end its User-agent run, so "User-agent: *" joins it (Google's reading)
    ("code_host.txt", "Googlebot", "/owner/repo", True),
    ("code_host.txt", "Googlebot", "/owner/repo/pulse", False),
    ("code_host.txt", "Googlebot", "/owner/repo/tree/main/src", False),
    ("code_host.txt", "Googlebot", "/owner/repo.git", False),
    ("code_host.txt", "Googlebot", "/owner/repo.git/info", True),
    ("code_host.txt", "Googlebot", "/search", False),
    ("code_host.txt", "Googlebot", "/search/code", True),
    ("code_host.txt", "Googlebot", "/owner?tab=repositories", False),
    ("code_host.txt", "Googlebot", "/owner?tab=achievements&achievement=pull-shark", True),
    ("code_host.txt", "Googlebot", "/x/.git/config", False),
    ("code_host.txt", "baidu", "/owner/repo/pulse", False),
    ("code_host.txt", "baidu", "/owner/repo", True),
    # encyclopedia: localized special pages, raw and %-encoded; AI group with one allowance
    ("encyclopedia.txt", "Googlebot", "/wiki/Main_Page", True),
    ("encyclopedia.txt", "Googlebot", "/wiki/Special:Random", False),
    ("encyclopedia.txt", "Googlebot", "/wiki/Sp%C3%A9cial:Recherche", False),
    ("encyclopedia.txt", "Googlebot", "/wiki/Spécial:Recherche", False),
    ("encyclopedia.txt", "Googlebot", "/wiki/Sp%c3%a9cial%3aRecherche", False),
    ("encyclopedia.txt", "Googlebot", "/wiki/خاص:Search", False),
    ("encyclopedia.txt", "Googlebot", "/w/index.php?title=X&action=edit", False),
    ("encyclopedia.txt", "Googlebot", "/w/load.php?modules=site", True),
    ("encyclopedia.txt", "Googlebot", "/w/api.php?action=mobileview&page=X", True),
    ("encyclopedia.txt", "HTTrack", "/wiki/Main_Page", False),
    ("encyclopedia.txt", "IsraBot", "/w/index.php", True),
    ("encyclopedia.txt", "Offline", "/wiki/Main_Page", False),
    ("encyclopedia.txt", "GPTBot", "/wiki/Some_Article", False),
    ("encyclopedia.txt", "CCBot", "/wiki/Main_Page", True),
    ("encyclopedia.txt", "Google-Extended", "/w/index.php", True),  # own group: /w/ not listed
    # Cloudflare managed: * allows everything except two folders, AI crawlers blocked
    ("cloudflare_managed.txt", "Googlebot", "/products/shoe", True),
    ("cloudflare_managed.txt", "Googlebot", "/wp-admin/options.php", False),
    ("cloudflare_managed.txt", "Googlebot", "/wp-admin/admin-ajax.php", True),
    ("cloudflare_managed.txt", "meta-externalagent", "/products/shoe", False),
    ("cloudflare_managed.txt", "OAI-SearchBot", "/products/shoe", True),
    # aipref publisher
    ("aipref_content_usage.txt", "AnyBot", "/members/profile", False),
    ("aipref_content_usage.txt", "OtherBot", "/members/profile", True),
    ("aipref_content_usage.txt", "StrictBot", "/article", False),
    # RSL publisher
    ("rsl_license.txt", "AnyBot", "/search?q=x", False),
    ("rsl_license.txt", "GPTBot", "/search?q=x", True),
    ("rsl_license.txt", "GPTBot", "/premium/story", False),
    # Latin-1 file: é is the single octet E9, encoded as %E9
    ("latin1.txt", "Googlebot", "/caf%E9/carte", False),
    ("latin1.txt", "Googlebot", "/caf%E9/menu", True),
    ("latin1.txt", "Googlebot", "/priv%E9e", False),
    ("latin1.txt", "Googlebot", "/cafe/", True),
    ("latin1.txt", "GPTBot", "/cafe/", False),
    # messy hand-edited file: typos, colonless lines, BOM, CRLF, a re-opened * group
    ("messy.txt", "AnyBot", "/private/x", False),
    ("messy.txt", "AnyBot", "/tmp/x", False),
    ("messy.txt", "AnyBot", "/cgi-bin/x", False),
    ("messy.txt", "AnyBot", "/odd", True),
    ("messy.txt", "SlowBot", "/odd/thing", False),
    ("messy.txt", "OddBot", "/private/x", True),
    ("messy.txt", "Googlebot", "/nogoogle/x", False),
    ("messy.txt", "Googlebot", "/private/x", True),
    # an HTML error page served with 200: no rules, so everything is allowed
    ("html_error_page.txt", "GPTBot", "/anything", True),
    # ai-robots-txt/ai.robots.txt's own robots.txt: one group naming every AI crawler
    ("ai_robots_txt.txt", "img2dataset", "/", False),
    ("ai_robots_txt.txt", "AI2Bot", "/a", False),
    ("ai_robots_txt.txt", "panscient.com", "/a", False),
    ("ai_robots_txt.txt", "Brightbot 1.0", "/a", False),
    ("ai_robots_txt.txt", "iaskspider", "/a", False),
    ("ai_robots_txt.txt", "Googlebot", "/a", True),
]


@pytest.mark.parametrize(("name", "agent", "url", "expected"), CASES)
def test_corpus_answers(name: str, agent: str, url: str, expected: bool) -> None:
    assert load(name).is_allowed(agent, url) is expected


def test_every_corpus_file_is_covered() -> None:
    files = {p.name for p in CORPUS.glob("*.txt")}
    assert files == {name for name, *_ in CASES}


def test_news_publisher_named_agents_and_sitemaps() -> None:
    robots = load("news_publisher.txt")
    named = robots.agents_named()
    for token in ("GPTBot", "CCBot", "Google-Extended", "anthropic-ai", "ClaudeBot", "Bytespider"):
        assert token in named
    assert len(robots.sitemaps) == 3
    assert robots.warnings == ()


def test_code_host_warns_that_crawl_delay_does_not_end_the_group() -> None:
    robots = load("code_host.txt")
    assert robots.groups[0].agents == ("baidu", "*")
    assert robots.warnings == (
        "line 8: User-agent joins the group of line 4: only Allow and Disallow end a group, "
        "not 'crawl-delay' (Google reads it so)",
    )


def test_encyclopedia_names_tokens_up_to_first_invalid_character() -> None:
    robots = load("encyclopedia.txt")
    assert robots.names("Mediapartners-Google")
    assert robots.names("sitecheck")  # sitecheck.internetseer.com
    assert robots.names("Offline")  # "Offline Explorer"
    assert any("Offline Explorer" in w for w in robots.warnings)


def test_cloudflare_content_signal() -> None:
    robots = load("cloudflare_managed.txt")
    match = robots.content_signal("Googlebot", "/products/shoe")
    assert match is not None
    assert match.value.get("search") is Signal.YES
    assert match.value.get("ai-train") is Signal.NO
    assert match.value.get("ai-input") is None
    assert match.lines[0].line == 29
    # The signal lives in the * group: a named crawler does not get it, and a
    # disallowed path carries no preference at all.
    assert robots.content_signal("GPTBot", "/products/shoe") is None
    assert robots.content_signal("Googlebot", "/wp-admin/options.php") is None
    assert robots.warnings == ()


def test_aipref_content_usage_table() -> None:
    robots = load("aipref_content_usage.txt")
    default = robots.content_usage("AnyBot", "/article")
    assert default is not None
    assert default.value.get("train-ai") is Pref.DISALLOW
    assert default.value.get("search") is Pref.ALLOW
    open_data = robots.content_usage("AnyBot", "/open-data/set.csv")
    assert open_data is not None and open_data.value.get("train-ai") is Pref.ALLOW
    assert open_data.value.get("search") is None  # the longest path alone applies
    # Identical paths with conflicting values combine most-restrictively.
    press = robots.content_usage("AnyBot", "/press/release")
    assert press is not None and press.value.get("train-ai") is Pref.DISALLOW
    assert [p.line for p in press.lines] == [9, 10]
    assert robots.content_usage("AnyBot", "/members/profile") is None
    other = robots.content_usage("OtherBot", "/members/profile")
    assert other is not None and other.value.get("train-ai") is Pref.ALLOW and other.agent_named
    assert robots.content_usage("StrictBot", "/article") is None
    assert robots.warnings == ()


def test_rsl_licenses_are_global_and_absolute() -> None:
    robots = load("rsl_license.txt")
    assert robots.licenses == (
        "https://publisher.example.com/license.xml",
        "https://publisher.example.com/images/license.xml",
    )
    assert robots.sitemaps == ("https://publisher.example.com/sitemap.xml",)
    assert any("relative/license.xml" in w for w in robots.warnings)
    # A License line inside a group does not split the group's User-agent run.
    assert robots.groups[1].agents == ("GPTBot",)


def test_latin1_file_is_read_with_a_warning() -> None:
    robots = load("latin1.txt")
    assert any("Latin-1" in w for w in robots.warnings)
    assert [r.pattern for r in robots.groups[0].rules] == ["/caf%E9/", "/priv%E9", "/caf%E9/menu"]


def test_messy_file_warnings_name_each_oddity() -> None:
    robots = load("messy.txt")
    text = "\n".join(robots.warnings)
    for needle in ("'Dissallow' read as Disallow", "'useragent' read as User-agent", "Noindex"):
        assert needle in text
    assert robots.groups[1].agents == ("SlowBot", "OddBot")


def test_ai_robots_txt_names_every_crawler_of_the_table() -> None:
    # The file lists exactly the tokens of the bundled crawler table (the same project's
    # robots.json), some of which Google's product-token rule cannot match.
    robots = load("ai_robots_txt.txt")
    assert len(robots.groups) == 1
    for agent in known_agents().values():
        assert robots.names(agent.token), agent.token
        assert not robots.is_allowed(agent.token, "/any"), agent.token
    evidence = evidence_from_robots(robots, "/any", training_tokens=training_tokens())
    assert [(e.usage, e.permission) for e in evidence] == [(Usage.TRAIN_AI, Permission.DENY)]
    assert "img2dataset" in evidence[0].detail and "quillbot.com" in evidence[0].detail


def test_html_error_page_is_flagged() -> None:
    robots = load("html_error_page.txt")
    assert robots.groups == ()
    assert robots.warnings[0] == "the body looks like HTML, not robots.txt"

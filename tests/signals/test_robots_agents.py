"""Crawler names in robots.txt: every token of the crawler table can be named by a site.

Google's product-token rule keeps only the leading ``[A-Za-z_-]`` run of a
User-agent value, so ``img2dataset`` reads as ``img`` and ``AI2Bot`` as ``AI``:
an opt-out written for exactly the tool that builds training sets would never
match. These tests hold the parser to the crawler table bundled with Clearance
(``clearance/data/ai-robots.json``, the ai-robots-txt/ai.robots.txt community
list): whatever a token holds (digits, dots, dashes, spaces, a version), a group
that names it, in any letter case, denies ``train-ai`` for the tokens the table
classes as training and disallows crawling for every token.
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from clearance.core import Permission, Usage
from clearance.core.policy import resolve
from clearance.signals.agents import AgentClass, KnownAgent, known_agents, training_tokens
from clearance.signals.mapping import evidence_from_robots
from clearance.signals.robots import (
    agent_key,
    agent_name,
    is_valid_product_token,
    parse_robots,
    product_token,
)

AGENTS = sorted(known_agents().values(), key=lambda a: a.token.lower())
TRAINING = [a for a in AGENTS if a.agent_class is AgentClass.TRAINING]


def spellings(token: str) -> list[str]:
    """Ways a site writes a table token: as listed, in other letter cases, with a version,
    with a trailing comment, with extra blanks between words."""
    name = agent_name(token)
    return list(
        dict.fromkeys(
            [
                token,
                token.lower(),
                token.upper(),
                token.swapcase(),
                f"{name}/1.0",
                f"{token} (+https://example.com/bot.html)",
                "   ".join(token.split()),
            ]
        )
    )


def train_ai(body: str, path: str = "/any/page.html") -> Permission:
    """What the public parse + mapping + resolve path says about train-ai for one path."""
    robots = parse_robots(body)
    evidence = evidence_from_robots(robots, path, training_tokens=training_tokens())
    return resolve(evidence, Usage.TRAIN_AI).permission


def test_the_table_holds_tokens_googles_rule_cannot_match() -> None:
    odd = {a.token for a in AGENTS if not is_valid_product_token(a.token)}
    for token in ("img2dataset", "AI2Bot", "Ai2Bot-Dolma", "panscient.com", "quillbot.com"):
        assert token in odd
    assert product_token("img2dataset") == "img"
    assert len(TRAINING) >= 90


@pytest.mark.parametrize("agent", TRAINING, ids=lambda a: a.token)
def test_every_training_token_denies_train_ai_in_every_spelling(agent: KnownAgent) -> None:
    for written in spellings(agent.token):
        body = f"User-agent: {written}\nDisallow: /\n"
        assert train_ai(body) is Permission.DENY, written
        assert parse_robots(body).names(agent.token), written


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.token)
def test_every_table_token_is_refused_the_crawl(agent: KnownAgent) -> None:
    body = f"User-agent: *\nAllow: /\n\nUser-agent: {agent.token.upper()}\nDisallow: /private/\n"
    robots = parse_robots(body)
    assert not robots.is_allowed(agent.token, "/private/x")
    assert robots.is_allowed(agent.token, "/public/x")
    assert robots.check(agent.token, "/private/x").agent_named


def test_issue_example_img2dataset_disallow_all() -> None:
    assert train_ai("User-agent: img2dataset\nDisallow: /\n") is Permission.DENY
    robots = parse_robots("User-agent: img2dataset\nDisallow: /\n")
    assert robots.agents_named() == ("img2dataset",)
    assert not robots.is_allowed("img2dataset", "/x")


def test_a_training_token_among_others_in_one_group() -> None:
    body = "User-agent: Googlebot\nUser-agent: AI2Bot\nUser-agent: bingbot\nDisallow: /archive/\n"
    assert train_ai(body, "/archive/2020/a.html") is Permission.DENY
    assert train_ai(body, "/news/a.html") is Permission.UNKNOWN


def test_a_name_is_not_a_prefix_of_another() -> None:
    # "img" is not img2dataset, and a group for img2dataset is not one for AI2Bot.
    assert train_ai("User-agent: img\nDisallow: /\n") is Permission.UNKNOWN
    robots = parse_robots("User-agent: img2dataset\nDisallow: /\n")
    assert not robots.names("img2data")
    assert not robots.names("AI2Bot")


def test_googles_token_still_matches_for_the_crawl() -> None:
    # Google's library reads "User-agent: img2dataset" as a group for "img"; that is kept.
    robots = parse_robots("User-agent: img2dataset\nDisallow: /\n")
    assert robots.names("img")
    assert not robots.is_allowed("img", "/x")


def test_the_warning_names_both_readings() -> None:
    robots = parse_robots("User-agent: img2dataset\nUser-agent: 2bot\nDisallow: /\n")
    assert any("'img2dataset'" in w and "'img'" in w for w in robots.warnings)
    assert any("'2bot'" in w for w in robots.warnings)
    assert robots.groups[0].agents == ("img",)
    assert robots.groups[0].user_agents == ("img2dataset", "2bot")


def test_agent_name_and_key() -> None:
    assert agent_name("GPTBot/1.1") == "GPTBot"
    assert agent_name("AI2Bot (+https://allenai.org/crawler)") == "AI2Bot"
    assert agent_name("Brightbot   1.0") == "Brightbot 1.0"
    assert agent_name("One, Two, Three") == "One"
    assert agent_name("panscient.com") == "panscient.com"
    assert agent_key("Ai2Bot-Dolma") == agent_key("AI2BOT-DOLMA") == "ai2bot-dolma"
    assert agent_key("Jävla-Foobot") == agent_key("jÄvla-foobot")


# --- cases from other implementations' suites ----------------------------------


def test_protego_agents_with_digits_and_non_ascii() -> None:
    # scrapy/protego tests/test_protego.py test_allowed_wildcards, test_1996rfc_examples,
    # test_unicode_url_and_useragent.
    robots = parse_robots("User-agent: Rule1TestBot\nDisallow:  /foo*\n")
    assert not robots.is_allowed("Rule1TestBot", "/foo.html")
    assert robots.is_allowed("Rule1TestBot", "/fo.html")
    robots = parse_robots("User-agent: 2bot\nAllow: /tmp/\nDisallow: /\n")
    assert not robots.is_allowed("2bot", "/tmp")
    assert robots.is_allowed("2bot", "/tmp/")
    robots = parse_robots(
        "User-Agent: *\nDisallow: /admin/\nUser-Agent: UnicödeBöt\nDisallow: /some/page.html\n"
    )
    assert robots.is_allowed("UnicödeBöt", "/admin/")
    assert not robots.is_allowed("UnicödeBöt", "/some/page.html")
    robots = parse_robots("User-Agent: Jävla-Foobot\nDisallow: /\n")
    assert not robots.is_allowed("jävla-foobot", "/foo/bar.html")
    assert robots.is_allowed("jävla-fanbot", "/foo/bar.html")


def test_crawler_commons_agent_names() -> None:
    # crawler-commons SimpleRobotRulesParserTest: testMultiWordAgentName,
    # testAgentTokenMatch, testMatchingOfUserAgentNamesIndependentFromSequentialOrder.
    robots = parse_robots("User-agent: Download Ninja\nDisallow: /index.html\nAllow: /\n")
    assert not robots.is_allowed("Download Ninja", "http://www.domain.com/index.html")
    assert robots.is_allowed("Download Ninja", "http://www.domain.com/anypage.html")
    for body in (
        "User-agent: foo/1.2\nDisallow: /index.html\nAllow: /\n",
        "User-agent: foo bar\nDisallow: /index.html\nAllow: /\n",
    ):
        robots = parse_robots(body)
        assert not robots.is_allowed("foo", "http://www.domain.com/index.html")
        assert robots.is_allowed("foo", "http://www.domain.com/anypage.html")
    block1 = "User-agent: crawlerbot\nDisallow: /foo/bar\n"
    block2 = "User-agent: crawler\nAllow: /foo/bar\n"
    for body in (block1 + "\n" + block2, block2 + "\n" + block1):
        robots = parse_robots(body)
        assert not robots.is_allowed("crawlerbot", "https://example.com/foo/bar")
        assert robots.is_allowed("crawler", "https://example.com/foo/bar")
    # A full User-Agent header written as the name is not matched by a token inside it
    # (testMatchingUserAgentNamesHttpHeader, exact matching).
    robots = parse_robots(
        "User-agent: Mozilla/5.0 (compatible; Butterfly/1.0; +http://labs.topsy.com/butterfly/)"
        " Gecko/2009032608 Firefox/3.0.8\nDisallow: /\n"
    )
    assert robots.is_allowed("butterfly", "http://example.org/")


# --- parent names: decided, not derived ----------------------------------------

HEDWIG = """
user-agent: hedwig-news
disallow: /
allow: /group1
user-agent: *
disallow: /
allow: /group2
user-agent: hedwig
disallow: /
allow: /group3
"""


def group_followed(robots_body: str, agent: str) -> str | None:
    """protego's test_user_agent_precedence helper: the first /groupN the agent may fetch."""
    robots = parse_robots(robots_body)
    return next((p for p in ("/group1", "/group2", "/group3") if robots.is_allowed(agent, p)), None)


@pytest.mark.parametrize(
    ("agent", "group"),
    [
        ("hedwig-news", "/group1"),
        ("HEDWIG-NEWS", "/group1"),
        ("hedwig", "/group3"),
        ("hedwi", "/group2"),
        ("a", "/group2"),
        # No group is chosen by spelling: protego (substring) sends these to /group1,
        # /group3 and /group3; RFC 9309 matches names exactly.
        ("hedwig-news2", "/group2"),
        ("hedwig-new", "/group2"),
        ("hedwig-images", "/group2"),
    ],
)
def test_user_agent_precedence_is_exact(agent: str, group: str) -> None:
    assert group_followed(HEDWIG, agent) == group


def test_agent_for_picks_the_most_specific_documented_token() -> None:
    # Google documents crawlers that obey several tokens (a news or image crawler that
    # also obeys "Googlebot"): the caller lists them, most specific first.
    robots = parse_robots(HEDWIG)
    assert robots.agent_for(["hedwig-news", "hedwig"]) == "hedwig-news"
    assert robots.agent_for(["hedwig-images", "hedwig"]) == "hedwig"
    assert group_followed(HEDWIG, robots.agent_for(["hedwig-images", "hedwig"])) == "/group3"
    assert robots.agent_for(["otherbot-news", "otherbot"]) == "otherbot-news"
    assert group_followed(HEDWIG, "otherbot-news") == "/group2"
    assert robots.agent_for([]) == "*"


def test_train_ai_checks_each_table_token_on_its_own() -> None:
    # A group for AI2Bot reserves train-ai whether or not Ai2Bot-Dolma is named, because
    # both are table tokens; no token inherits another's group.
    robots = parse_robots("User-agent: AI2Bot\nDisallow: /\n")
    assert robots.names("AI2Bot") and not robots.names("Ai2Bot-Dolma")
    assert train_ai("User-agent: AI2Bot\nDisallow: /\n") is Permission.DENY


# --- properties ---------------------------------------------------------------

_TOKEN = st.text("abcXYZ_-", min_size=1, max_size=8)
_NAME_CHARS = st.characters(
    min_codepoint=0x21,
    max_codepoint=0x24F,
    blacklist_characters="#/(;,:*",
    blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cf"),  # a written name has no blanks
)
_NAME = st.lists(st.text(_NAME_CHARS, min_size=1, max_size=6), min_size=1, max_size=3).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_NAME, st.sampled_from(["", "/1.0", "/2.1 (+https://example.com)", " # comment"]))
def test_any_written_name_names_its_group(name: str, tail: str) -> None:
    body = f"User-agent: *\nAllow: /\n\nUser-agent: {name}{tail}\nDisallow: /\n"
    robots = parse_robots(body)
    assert robots.names(name)
    assert robots.names(name.casefold())
    assert not robots.is_allowed(name, "/x")
    if name.isascii():
        assert robots.names(name.swapcase())


@settings(max_examples=300, deadline=None)
@given(_TOKEN, st.text("abcXYZ_-0129. /", min_size=1, max_size=12))
def test_a_valid_token_matches_where_google_matches(agent: str, value: str) -> None:
    """For an RFC 9309 product token, every group Google's rule gives it still applies,
    and when the value is itself a whole token the answer is exactly Google's."""
    robots = parse_robots(f"User-agent: {value}\nDisallow: /\n")
    google = product_token(value.strip()).lower() == agent.lower() and value.strip()[:1] != "*"
    if google:
        assert robots.names(agent)
    if is_valid_product_token(value.strip()):
        assert robots.names(agent) is google

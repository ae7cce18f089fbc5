"""Section A of the mapping: robots.txt, ai.txt, aipref Content-Usage and Content-Signal."""

from __future__ import annotations

from pathlib import Path

from clearance.core import Evidence, Permission, Usage, resolve, resolve_all
from clearance.signals.aipref import parse_content_usage
from clearance.signals.aitxt import parse_aitxt
from clearance.signals.content_signal import parse_content_signal
from clearance.signals.mapping import (
    PROTOCOL_USAGES,
    SECTION_A_SOURCES,
    evidence_from_aitxt,
    evidence_from_content_signal,
    evidence_from_content_usage,
    evidence_from_robots,
)
from clearance.signals.robots import parse_robots, robots_for_status

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "robots"
TRAINING = ("GPTBot", "CCBot", "Google-Extended", "ClaudeBot", "Bytespider", "anthropic-ai")
A, D = Permission.ALLOW, Permission.DENY


def summary(items: list[Evidence]) -> set[tuple[str, Usage, Permission]]:
    return {(e.source, e.usage, e.permission) for e in items}


def test_content_usage_current_labels() -> None:
    items = evidence_from_content_usage(parse_content_usage("train-ai=n, search=y"))
    assert summary(items) == {
        ("content-usage", Usage.TRAIN_AI, D),
        ("content-usage", Usage.SEARCH, A),
    }
    deny = next(e for e in items if e.usage is Usage.TRAIN_AI)
    assert deny.detail == "Content-Usage header: train-ai=n"
    assert deny.raw == "train-ai=n, search=y"


def test_content_usage_legacy_labels() -> None:
    items = evidence_from_content_usage(
        parse_content_usage("train-genai=n, ai-use=y, tdm=n, ai-output=n")
    )
    assert summary(items) == {
        ("content-usage", Usage.TRAIN_GENAI, D),
        ("content-usage", Usage.AI_INPUT, A),
        ("content-usage", Usage.AI_INPUT, D),
        ("content-usage", Usage.TDM, D),
    }


def test_all_and_bots_reach_every_usage_a_protocol_can_name() -> None:
    for label in ("all", "bots"):
        items = evidence_from_content_usage(parse_content_usage(f"{label}=n"))
        assert {e.usage for e in items} == set(PROTOCOL_USAGES)
        assert {e.permission for e in items} == {D}
        assert "legacy label" in items[0].detail


def test_broad_label_yields_to_a_more_specific_one() -> None:
    items = evidence_from_content_usage(parse_content_usage("all=n, search=y"))
    assert resolve(items, Usage.SEARCH).permission is A
    assert resolve(items, Usage.TRAIN_AI).permission is D
    items = evidence_from_content_usage(parse_content_usage("all=n, train-genai=y"))
    decisions = resolve_all(items)
    assert decisions[Usage.TRAIN_GENAI].permission is A
    assert decisions[Usage.AI_INPUT].permission is D
    assert decisions[Usage.TRAIN_AI].permission is Permission.UNKNOWN


def test_invalid_content_usage_gives_no_evidence() -> None:
    assert evidence_from_content_usage(parse_content_usage("Train-AI=n")) == []
    assert evidence_from_content_usage(parse_content_usage('train-ai="n"')) == []


def test_content_signal() -> None:
    items = evidence_from_content_signal(
        parse_content_signal("search=yes, ai-input=yes, ai-train=no, other=no")
    )
    assert summary(items) == {
        ("content-signal", Usage.SEARCH, A),
        ("content-signal", Usage.AI_INPUT, A),
        ("content-signal", Usage.TRAIN_AI, D),
    }
    assert all(e.raw == "search=yes, ai-input=yes, ai-train=no, other=no" for e in items)


def test_robots_training_reservation_for_named_tokens() -> None:
    robots = parse_robots((CORPUS / "news_publisher.txt").read_bytes())
    items = evidence_from_robots(
        robots, "https://www.example-news.com/a.html", training_tokens=TRAINING
    )
    assert summary(items) == {("robots.txt", Usage.TRAIN_AI, D)}
    (deny,) = items
    for token in TRAINING:
        assert token in deny.detail
    assert "GPTBot (line 48: Disallow: /); CCBot (line 45: Disallow: /)" in deny.detail
    assert deny.raw == "Disallow: /"


def test_robots_reservation_is_per_path() -> None:
    robots = parse_robots((CORPUS / "encyclopedia.txt").read_bytes())
    article = evidence_from_robots(robots, "/wiki/Some_Article", training_tokens=TRAINING)
    assert summary(article) == {("robots.txt", Usage.TRAIN_AI, D)}
    assert article[0].detail.count("(line 109: Disallow: /wiki/)") == 3
    assert evidence_from_robots(robots, "/wiki/Main_Page", training_tokens=TRAINING) == []


def test_star_group_counts_only_when_asked() -> None:
    robots = parse_robots("User-agent: *\nDisallow: /private/\n")
    assert evidence_from_robots(robots, "/private/a", training_tokens=TRAINING) == []
    items = evidence_from_robots(
        robots, "/private/a", training_tokens=TRAINING, include_global=True
    )
    assert summary(items) == {("robots.txt", Usage.TRAIN_AI, D)}
    assert "the * group" in items[0].detail
    assert (
        evidence_from_robots(robots, "/public", training_tokens=TRAINING, include_global=True) == []
    )


def test_status_stand_ins_state_no_preference() -> None:
    for status in (404, 503, None):
        robots = robots_for_status(status)
        assert (
            evidence_from_robots(robots, "/x", training_tokens=TRAINING, include_global=True) == []
        )


def test_robots_content_signal_and_usage_for_the_agent() -> None:
    robots = parse_robots((CORPUS / "cloudflare_managed.txt").read_bytes())
    items = evidence_from_robots(robots, "/products/shoe", training_tokens=TRAINING)
    assert summary(items) == {
        ("robots.txt", Usage.TRAIN_AI, D),
        ("content-signal", Usage.SEARCH, A),
        ("content-signal", Usage.TRAIN_AI, D),
    }
    signal = next(e for e in items if e.source == "content-signal")
    assert signal.raw == "Content-signal: search=yes,ai-train=no"
    assert signal.detail.startswith("robots.txt line 29: ")
    decisions = resolve_all(items)
    assert decisions[Usage.TRAIN_AI].permission is D
    assert decisions[Usage.SEARCH].permission is A

    robots = parse_robots((CORPUS / "aipref_content_usage.txt").read_bytes())
    # Two Content-Usage lines for the same path: one combined statement, most restrictive.
    (press,) = evidence_from_robots(robots, "/press/x", agent="AnyBot")
    assert (press.source, press.usage, press.permission) == ("content-usage", Usage.TRAIN_AI, D)
    assert press.raw.splitlines() == [
        "Content-Usage: /press/ train-ai=y",
        "Content-Usage: /press/ train-ai=n",
    ]
    assert press.detail == "robots.txt line 9, line 10: train-ai=n"
    assert evidence_from_robots(robots, "/members/x", agent="AnyBot") == []
    items = evidence_from_robots(robots, "/members/x", agent="OtherBot")
    assert summary(items) == {("content-usage", Usage.TRAIN_AI, A)}


def test_aitxt() -> None:
    ai = parse_aitxt("User-Agent: *\nDisallow: *.jpg\nAllow: *.png\n")
    (deny,) = evidence_from_aitxt(ai, "https://example.com/cat.jpg")
    assert (deny.source, deny.usage, deny.permission) == ("ai.txt", Usage.TRAIN_AI, D)
    assert deny.raw == "Disallow: *.jpg" and "line 2" in deny.detail
    (allow,) = evidence_from_aitxt(ai, "/dog.png")
    assert allow.permission is A
    assert evidence_from_aitxt(ai, "/song.mp3") == []


def test_every_piece_of_evidence_is_explained() -> None:
    robots = parse_robots((CORPUS / "cloudflare_managed.txt").read_bytes())
    items = [
        *evidence_from_robots(robots, "/products/shoe", training_tokens=TRAINING),
        *evidence_from_content_usage(parse_content_usage("all=n")),
        *evidence_from_aitxt(parse_aitxt("User-Agent: *\nDisallow: *\n"), "/a.jpg"),
    ]
    assert {e.source for e in items} <= set(SECTION_A_SOURCES)
    assert all(e.detail and e.raw for e in items)

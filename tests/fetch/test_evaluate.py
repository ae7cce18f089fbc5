"""`clearance signals` end to end against a local site that publishes every protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from clearance.cli import main
from clearance.core import Permission, Usage
from clearance.fetch import FetchConfig
from clearance.fetch.evaluate import WebMode, evaluate_urls
from tests.localsite import LocalSite, serve

RSL = """<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/news/">
    <license>
      <permits type="usage">ai-input,search</permits>
      <payment type="use"><amount currency="USD">0.01</amount></payment>
    </license>
  </content>
</rsl>"""


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with serve(LocalSite()) as s:
        base = s.origin
        html = "text/html; charset=utf-8"
        s.routes.update(
            {
                "/robots.txt": (
                    200,
                    {"Content-Type": "text/plain"},
                    (
                        "User-agent: GPTBot\nDisallow: /private/\n\n"
                        "User-agent: *\nAllow: /\nContent-Usage: /notes/ train-ai=n, search=y\n"
                        "Content-Signal: /signal/ ai-input=no, search=yes\n"
                        f"License: {base}/license.xml\n"
                    ).encode(),
                ),
                "/ai.txt": (200, {}, b"User-agent: *\nDisallow: *.jpg\n"),
                "/.well-known/tdmrep.json": (
                    200,
                    {"Content-Type": "application/json"},
                    json.dumps(
                        [
                            {"location": "/books/*", "tdm-reservation": 1},
                            {"location": "/books/*", "tdm-reservation": 0},
                            {"location": "/*", "tdm-reservation": 0},
                        ]
                    ).encode(),
                ),
                "/license.xml": (200, {"Content-Type": "application/rsl+xml"}, RSL.encode()),
                "/books/b1.html": (200, {"Content-Type": html}, b"<html><head></head></html>"),
                "/open.html": (
                    200,
                    {"Content-Type": html, "tdm-reservation": "1"},
                    b'<html><head><meta name="tdm-reservation" content="0"></head></html>',
                ),
                "/header.html": (
                    200,
                    {"Content-Type": html, "tdm-reservation": "1"},
                    b"<html></html>",
                ),
                "/noai.html": (
                    200,
                    {"Content-Type": html, "X-Robots-Tag": "noai"},
                    b"<html></html>",
                ),
                "/meta.html": (
                    200,
                    {"Content-Type": html},
                    b'<html><head><meta name="robots" content="noai, noimageai"></head></html>',
                ),
                "/pic.jpg": (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8\xff"),
                "/private/x.html": (200, {"Content-Type": html}, b"<html></html>"),
                "/notes/a.html": (200, {"Content-Type": html}, b"<html></html>"),
                "/signal/a.html": (200, {"Content-Type": html}, b"<html></html>"),
                "/news/story.html": (200, {"Content-Type": html}, b"<html></html>"),
                "/paid.html": (402, {"crawler-price": "USD 0.01"}, b""),
                "/usage.html": (200, {"Content-Type": html, "Content-Usage": "train-ai=n"}, b""),
            }
        )
        yield s


def evaluate(site: LocalSite, *paths: str, web: WebMode = WebMode.FULL) -> dict[str, Any]:
    run = evaluate_urls(
        [site.url(p) for p in paths], FetchConfig(allow_private=True, timeout=2), web=web
    )
    return {r.url.removeprefix(site.origin): r for r in run.results}


def perm(result: Any, usage: Usage) -> Permission:
    return result.permission(usage)  # type: ignore[no-any-return]


def test_every_protocol_and_precedence(site: LocalSite) -> None:
    r = evaluate(
        site,
        "/books/b1.html",
        "/open.html",
        "/header.html",
        "/noai.html",
        "/meta.html",
        "/pic.jpg",
        "/private/x.html",
        "/notes/a.html",
        "/signal/a.html",
        "/news/story.html",
        "/paid.html",
        "/usage.html",
    )
    # TDMRep: first matching rule of tdmrep.json wins (reserved for /books/*)
    assert perm(r["/books/b1.html"], Usage.TDM) is Permission.DENY
    assert perm(r["/books/b1.html"], Usage.TRAIN_GENAI) is Permission.DENY  # implied by tdm
    # TDMRep precedence: file (0) < header (1) < HTML meta (0)
    assert perm(r["/header.html"], Usage.TDM) is Permission.DENY
    assert perm(r["/open.html"], Usage.TDM) is Permission.ALLOW
    # noai in X-Robots-Tag and in meta robots
    for page in ("/noai.html", "/meta.html"):
        assert perm(r[page], Usage.TRAIN_AI) is Permission.DENY
        assert perm(r[page], Usage.AI_INPUT) is Permission.DENY
    # ai.txt blocks .jpg media for training
    assert perm(r["/pic.jpg"], Usage.TRAIN_AI) is Permission.DENY
    assert perm(r["/open.html"], Usage.TRAIN_AI) is Permission.ALLOW  # tdm not reserved (0)
    # robots.txt group for an AI-training token reserves train-ai; crawl still allowed for us
    assert perm(r["/private/x.html"], Usage.TRAIN_AI) is Permission.DENY
    assert r["/private/x.html"].crawl_allowed
    # aipref Content-Usage and Content-Signal inside the * group, path-scoped
    assert perm(r["/notes/a.html"], Usage.TRAIN_AI) is Permission.DENY
    assert perm(r["/notes/a.html"], Usage.SEARCH) is Permission.ALLOW
    assert perm(r["/signal/a.html"], Usage.AI_INPUT) is Permission.DENY
    assert perm(r["/open.html"], Usage.SEARCH) is Permission.UNKNOWN
    # RSL via robots.txt License: paid use -> license, with the payment listed
    assert perm(r["/news/story.html"], Usage.AI_INPUT) is Permission.LICENSE
    assert any(lic["source"] == "rsl" for lic in r["/news/story.html"].licenses)
    assert perm(r["/news/story.html"], Usage.TRAIN_AI) is Permission.DENY  # not permitted
    # HTTP 402 pay-per-crawl
    assert perm(r["/paid.html"], Usage.TDM) is Permission.LICENSE
    assert any(lic["source"] == "http-402" for lic in r["/paid.html"].licenses)
    # Content-Usage header
    assert perm(r["/usage.html"], Usage.TRAIN_AI) is Permission.DENY


def test_site_files_fetched_once_per_origin(site: LocalSite) -> None:
    paths = [f"/open.html?i={i}" for i in range(50)]
    evaluate(site, *paths, web=WebMode.ORIGIN)
    assert site.count("/robots.txt") == 1 and site.count("/ai.txt") == 1
    assert site.count("/.well-known/tdmrep.json") == 1 and site.count("/open.html") == 0


def test_unavailable_robots_disallows_and_leaves_usages_unknown() -> None:
    with serve(LocalSite()) as s:
        s.routes["/robots.txt"] = (503, {}, b"down")
        s.routes["/a.html"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
        r = evaluate(s, "/a.html")["/a.html"]
        assert not r.crawl_allowed
        assert all(perm(r, u) is Permission.UNKNOWN for u in (Usage.TDM, Usage.TRAIN_AI))
        assert any("robots.txt unavailable" in w for w in r.warnings)


def test_malformed_files_do_not_break_evaluation() -> None:
    with serve(LocalSite()) as s:
        s.routes["/robots.txt"] = (200, {}, b"\xff\xfe\x00garbage\nUser-agent GPTBot\nDisallow /")
        s.routes["/.well-known/tdmrep.json"] = (200, {}, b"{not json")
        s.routes["/a.html"] = (
            200,
            {"Content-Type": "text/html", "Content-Usage": "TRAIN-AI=n"},
            b"<html><meta name=robots content=",
        )
        r = evaluate(s, "/a.html")["/a.html"]
        assert r.error is None
        # "User-agent GPTBot / Disallow /" without colons is still read, as Google's parser does
        assert perm(r, Usage.TRAIN_AI) is Permission.DENY and r.crawl_allowed
        # an uppercase key fails the whole Content-Usage header: no evidence from it
        assert not [e for e in r.evidence if e.source == "content-usage"]
        assert any("tdmrep.json" in w for w in r.warnings)


def test_cli_json_shape(site: LocalSite, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "signals",
            site.url("/books/b1.html"),
            site.url("/noai.html"),
            "--allow-private",
            "--agent",
            "ExampleBot",
            "--json",
        ]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["url"] for d in doc] == [site.url("/books/b1.html"), site.url("/noai.html")]
    first = doc[0]
    assert first["agent"] == "ExampleBot" and first["crawl"]["allowed"] is True
    assert set(first["usages"]) == {"tdm", "train-ai", "train-genai", "ai-input", "search"}
    tdm = first["usages"]["tdm"]
    assert tdm["permission"] == "deny"
    assert tdm["evidence"][0]["source"] == "tdmrep.json" and "raw" in tdm["evidence"][0]
    assert isinstance(first["licenses"], list) and isinstance(first["warnings"], list)


def test_cli_refuses_private_addresses_without_flag(
    site: LocalSite, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["signals", site.url("/noai.html"), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["crawl"]["allowed"] is False
    assert any("not a public address" in w for w in doc[0]["warnings"])
    assert site.requests == []


def test_cli_inspect_reads_embedded_signals(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    corpus = Path(__file__).parents[1] / "corpus" / "c2pa"
    files = [
        str(corpus / "c2pa_C_with_CAWG_data.jpg"),
        str(corpus / "datadiligence_sample_c2pa.png"),
        str(corpus / "c2pa_A_no_manifest.jpg"),
    ]
    assert main(["inspect", *files, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cawg = doc[files[0]]["usages"]
    assert cawg["train-genai"]["permission"] == "deny" and cawg["ai-input"]["permission"] == "deny"
    assert cawg["tdm"]["permission"] == "unknown"
    assert doc[files[1]]["usages"]["tdm"]["permission"] == "deny"
    assert all(v["permission"] == "unknown" for v in doc[files[2]]["usages"].values())
    assert main(["inspect", "missing.jpg"]) == 2


def test_a_robots_redirect_loop_is_reported_as_what_it_is() -> None:
    """Was: a warning saying "crawling disallowed", crawl.allowed true, and a 404 never answered."""
    with serve(LocalSite()) as s:
        s.routes["/robots.txt"] = (302, {"Location": "/robots.txt"}, b"")
        s.routes["/page.html"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
        run = evaluate_urls(
            [s.url("/page.html")], FetchConfig(allow_private=True, timeout=2), web=WebMode.ORIGIN
        )
    doc = run.results[0].to_dict()
    assert doc["crawl"]["allowed"] is True  # RFC 9309: past 5 redirects, unavailable
    detail = doc["crawl"]["evidence"][0]["detail"]
    assert "redirects" in detail and "404" not in detail
    robots_warnings = [w for w in doc["warnings"] if w.startswith("robots.txt")]
    assert robots_warnings and all("disallowed" not in w for w in robots_warnings)
    assert all("crawling allowed" in w for w in robots_warnings)


def test_a_tdmrep_policy_url_that_is_not_a_url_is_a_warning() -> None:
    with serve(LocalSite()) as s:
        s.routes["/.well-known/tdmrep.json"] = (
            200,
            {"Content-Type": "application/json"},
            json.dumps(
                [{"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://[::1/p"}]
            ).encode(),
        )
        s.routes["/page.html"] = (200, {"Content-Type": "text/html"}, b"<html></html>")
        run = evaluate_urls(
            [s.url("/page.html")], FetchConfig(allow_private=True, timeout=2), web=WebMode.ORIGIN
        )
    assert any("TDMRep policy" in w for w in run.results[0].warnings)


@pytest.mark.parametrize("bad", ["notaurl", "https://[::1", "https://x.example:99999/", "ftp://x/"])
def test_signals_refuses_a_bad_url_before_fetching(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["signals", bad, "--json"]) == 2  # was: exit 0, with a table of unknowns
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error:") and err.count("\n") == 1

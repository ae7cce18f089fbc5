"""RSL 1.0: document parsing, content selection, discovery, and hostile or broken XML."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.signals.rsl import (
    RSL_NS,
    RslDocument,
    parse_link_header,
    parse_rsl,
    rsl_links_from_headers,
    rsl_links_from_html,
)

CORPUS = Path(__file__).parent.parent / "corpus" / "rsl"

PAID = """<?xml version="1.0" encoding="UTF-8"?>
<rsl xmlns="https://rslstandard.org/rsl" max-age="7">
  <content url="/" server="https://license.example.com" lastmod="2025-11-01T00:00:00Z">
    <license>
      <permits type="usage">ai-input,search</permits>
      <permits type="user">commercial non-commercial</permits>
      <prohibits type="usage">ai-train</prohibits>
      <prohibits type="geo">cn</prohibits>
      <payment type="crawl">
        <amount currency="usd">0.015</amount>
        <standard>https://example.com/licenses/pay-per-crawl</standard>
      </payment>
      <legal type="warranty">ownership authority</legal>
      <reporting type="telemetry" profile="https://example.org/profiles/x"/>
    </license>
    <copyright type="organization" contactEmail="legal@example.com">Example Media</copyright>
    <terms>https://example.com/terms</terms>
  </content>
</rsl>"""


def test_paid_document_fields() -> None:
    doc = parse_rsl(PAID)
    assert doc.warnings == ()
    assert doc.max_age_days == 7
    (content,) = doc.contents
    assert content.url == "/"
    assert content.server == "https://license.example.com"
    assert content.lastmod == "2025-11-01T00:00:00Z"
    assert content.copyright == "Example Media"
    assert content.terms == "https://example.com/terms"
    (lic,) = content.licenses
    assert lic.permitted("usage") == frozenset({"ai-input", "search"})
    assert lic.permitted("user") == frozenset({"commercial", "non-commercial"})
    assert lic.prohibited("usage") == {"ai-train"}
    assert lic.prohibited("geo") == {"CN"}
    (pay,) = lic.payments
    assert pay.type == "crawl"
    assert pay.amounts[0].value == Decimal("0.015")
    assert pay.amounts[0].currency == "USD"
    assert pay.standard == ("https://example.com/licenses/pay-per-crawl",)
    assert not pay.is_free and not lic.is_free
    assert lic.legal == (("warranty", "ownership authority"),)
    assert "reporting telemetry (https://example.org/profiles/x)" in lic.conditions
    assert "0.015 USD" in pay.describe()


def test_free_and_default_payment() -> None:
    doc = parse_rsl(
        '<rsl xmlns="https://rslstandard.org/rsl"><content url="/blog/*">'
        "<license><permits type='usage'>all</permits></license>"
        "<license><permits type='usage'>search</permits><payment type='free'/></license>"
        "</content></rsl>"
    )
    a, b = doc.contents[0].licenses
    assert a.payments == () and a.is_free
    assert b.is_free and b.payments[0].type == "free"
    assert doc.contents[0].server is None


def test_prefixed_namespace_and_spaces_or_commas() -> None:
    doc = parse_rsl(
        '<r:rsl xmlns:r="https://rslstandard.org/rsl"><r:content url="/">'
        "<r:license><r:permits type='usage'>ai-input search, ai-index</r:permits></r:license>"
        "</r:content></r:rsl>"
    )
    assert doc.warnings == ()
    assert doc.contents[0].licenses[0].permitted() == frozenset({"ai-input", "search", "ai-index"})


def test_aliases_and_unknown_tokens_warn() -> None:
    doc = parse_rsl(
        '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
        "<prohibits type='usage'>train-ai ai-teleport</prohibits>"
        "<payment type='barter'/></license></content></rsl>"
    )
    lic = doc.contents[0].licenses[0]
    assert lic.prohibited() == {"ai-train", "ai-teleport"}
    assert any("train-ai" in w for w in doc.warnings)
    assert any("ai-teleport" in w for w in doc.warnings)
    assert any("barter" in w for w in doc.warnings)
    assert not lic.is_free


def test_missing_namespace_and_wrapped_root_are_lenient() -> None:
    doc = parse_rsl("<rsl><content url='/'><license/></content></rsl>")
    assert len(doc.contents) == 1
    assert any("namespace" in w for w in doc.warnings)
    wrapped = parse_rsl(
        '<rss><channel><rsl xmlns="https://rslstandard.org/rsl"><content url="/a">'
        "<license/></content></rsl></channel></rss>"
    )
    assert wrapped.contents[0].url == "/a"


def test_content_for_picks_most_specific() -> None:
    doc = parse_rsl(
        '<rsl xmlns="https://rslstandard.org/rsl">'
        '<content url="/"><license/></content>'
        '<content url="/api/*"><license/></content>'
        '<content url="/docs/exact$"><license/></content>'
        '<content url="https://other.example/"><license/></content>'
        "</rsl>"
    )
    assert doc.content_for("/blog/post").url == "/"  # type: ignore[union-attr]
    assert doc.content_for("https://site.example/api/v1/x").url == "/api/*"  # type: ignore[union-attr]
    assert doc.content_for("/docs/exact").url == "/docs/exact$"  # type: ignore[union-attr]
    assert doc.content_for("/docs/exact/more").url == "/"  # type: ignore[union-attr]
    absolute = doc.contents[3]
    assert absolute.matches("https://other.example/page")
    assert not absolute.matches("https://site.example/page")


def test_empty_url_covers_the_attachment() -> None:
    doc = parse_rsl(
        '<rsl xmlns="https://rslstandard.org/rsl"><content url=""><license/></content></rsl>'
    )
    assert doc.content_for("/anything") is doc.contents[0]


def test_encrypted_without_server_warns() -> None:
    doc = parse_rsl(
        '<rsl xmlns="https://rslstandard.org/rsl"><content url="/" encrypted="true">'
        "<license/></content></rsl>"
    )
    assert doc.contents[0].encrypted
    assert any("encrypted" in w for w in doc.warnings)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "<rsl",
        "not xml",
        "<html><body>hi</body></html>",
        '<?xml version="1.0"?><!DOCTYPE rsl [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<rsl xmlns="https://rslstandard.org/rsl"><content url="&x;"><license/></content></rsl>',
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<rsl>&lol2;</rsl>",
    ],
)
def test_broken_or_hostile_xml_gives_warnings(text: str) -> None:
    doc = parse_rsl(text)
    assert doc.contents == ()
    assert doc.warnings


def test_non_utf8_bytes() -> None:
    text = f'<rsl xmlns="{RSL_NS}"><content url="/caf\xe9"><license/></content></rsl>'
    doc = parse_rsl(text.encode("latin-1"))
    assert doc.contents[0].url == "/caf\xe9"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.xml")), ids=lambda p: p.name)
def test_corpus_parses(path: Path) -> None:
    doc = parse_rsl(path.read_bytes())
    assert doc.contents
    assert doc.warnings == ()


# --- discovery ---


def test_link_header() -> None:
    links = parse_link_header(
        '<https://example.com/license.xml>; rel="license"; type="application/rsl+xml", '
        "<https://example.com/next>; rel=next"
    )
    assert [link.href for link in links] == [
        "https://example.com/license.xml",
        "https://example.com/next",
    ]
    assert links[0].param("type") == "application/rsl+xml"
    assert links[1].param("rel") == "next"


def test_rsl_links_from_headers() -> None:
    headers = [
        ("Link", '</license.xml>; rel="license"; type="application/rsl+xml"'),
        ("Link", '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'),
        ("link", '<https://a.example/rsl.xml>; type="application/rsl+xml"; rel="LICENSE"'),
    ]
    assert rsl_links_from_headers(headers, "https://site.example/page") == (
        "https://site.example/license.xml",
        "https://a.example/rsl.xml",
    )
    assert rsl_links_from_headers({"Content-Type": "text/html"}) == ()


def test_malformed_urls_are_skipped_not_raised() -> None:
    headers = [
        ("Link", '<http://[bad/rsl.xml>; rel="license"; type="application/rsl+xml"'),
        ("Link", '</ok.xml>; rel="license"; type="application/rsl+xml"'),
    ]
    assert rsl_links_from_headers(headers, "https://site.example/") == (
        "https://site.example/ok.xml",
    )
    doc = parse_rsl(
        '<rsl xmlns="https://rslstandard.org/rsl">'
        '<content url="http://[bad/a/"><license><permits type="usage">all</permits></license>'
        '</content><content url="/a/"/></rsl>'
    )
    chosen = doc.content_for("https://site.example/a/b")
    assert chosen is not None and chosen.url == "/a/"
    assert doc.content_for("http://[also-bad/a/b") is not None


def test_rsl_links_from_html() -> None:
    html = (
        '<html><head><link rel="license" type="application/rsl+xml" href="/license.xml">'
        '<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">'
        "</head></html>"
    )
    assert rsl_links_from_html(html, "https://site.example/a/b") == (
        "https://site.example/license.xml",
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_bytes(data: bytes) -> None:
    doc = parse_rsl(data)
    assert isinstance(doc, RslDocument)
    doc.content_for("/x")
    rsl_links_from_html(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_link_header_never_raises(value: str) -> None:
    parse_link_header(value)
    rsl_links_from_headers([("link", value)])
    rsl_links_from_headers(
        [("link", f"<{value}>; rel=license; type=application/rsl+xml")], "http://a/"
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["all", "ai-all", "ai-train", "ai-input", "ai-index", "search", "junk"]),
        max_size=4,
    ),
    st.text(alphabet="/ab*$?", max_size=10),
)
def test_generated_documents(tokens: list[str], url: str) -> None:
    xml = (
        f'<rsl xmlns="https://rslstandard.org/rsl"><content url="{url}"><license>'
        f"<permits type='usage'>{' '.join(tokens)}</permits></license></content></rsl>"
    )
    doc = parse_rsl(xml)
    assert len(doc.contents) == 1
    doc.content_for("/a/b")

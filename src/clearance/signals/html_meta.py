"""Every opt-out and licensing signal a web page carries in its markup, in one lenient pass.

A page can speak through robots ``<meta>`` tags (``noai``, bot-scoped forms),
TDMRep ``<meta name="tdm-reservation">`` / ``tdm-policy``, and RSL's
``<link rel="license" type="application/rsl+xml">`` or inline
``<script type="application/rsl+xml">``. Scanning the page once with the
standard library's forgiving ``html.parser`` (which never gives up on broken
markup) and handing each protocol parser its raw values keeps the protocols
independent of HTML and the HTML handling in one place.

The result holds raw strings; ``tdmrep``, ``rsl`` and ``mapping`` interpret them.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from clearance.signals.base import join_url
from clearance.signals.xrobots import RobotsDirective, RobotsDirectives, parse_robots_content

MAX_HTML_BYTES = 5 * 1024 * 1024
"""Only the first 5 MiB of a page are read; signals live in its head."""

RSL_MEDIA_TYPE = "application/rsl+xml"

KNOWN_BOT_NAMES = frozenset(
    {
        "gptbot",
        "chatgpt-user",
        "oai-searchbot",
        "claudebot",
        "claude-user",
        "claude-searchbot",
        "anthropic-ai",
        "ccbot",
        "google-extended",
        "googlebot",
        "googlebot-image",
        "googlebot-news",
        "bingbot",
        "msnbot",
        "applebot",
        "applebot-extended",
        "meta-externalagent",
        "bytespider",
        "perplexitybot",
        "perplexity-user",
        "cohere-ai",
        "cohere-training-data-crawler",
        "ai2bot",
        "amazonbot",
        "diffbot",
        "img2dataset",
        "omgili",
        "omgilibot",
        "slurp",
        "yandex",
        "baiduspider",
        "duckassistbot",
    }
)
"""``<meta name=...>`` values read as a crawler name; any name containing ``bot`` counts too."""

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HtmlLink:
    """A ``<link rel="license">``: rel values (lower-case), href (made absolute), type."""

    rel: tuple[str, ...]
    href: str
    type: str | None = None


@dataclass(frozen=True, slots=True)
class HtmlSignals:
    """The raw signals found in one HTML document.

    ``warnings`` are about the page itself (encoding, truncation, parse errors);
    robots-directive warnings are in ``robots.warnings``.
    """

    robots: RobotsDirectives = field(default_factory=lambda: RobotsDirectives(source="meta-robots"))
    tdm_reservation: tuple[str, ...] = ()
    tdm_policy: tuple[str, ...] = ()
    license_links: tuple[HtmlLink, ...] = ()
    rsl_inline: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def rsl_links(self) -> tuple[str, ...]:
        """Hrefs of ``<link rel="license" type="application/rsl+xml">``."""
        return tuple(
            link.href
            for link in self.license_links
            if (link.type or "").split(";")[0].strip().lower() == RSL_MEDIA_TYPE
        )


def decode_html(data: bytes | str, *, limit: int = MAX_HTML_BYTES) -> tuple[str, list[str]]:
    """Decode a page: BOM, then a ``<meta charset>`` in the first 4 KiB, then UTF-8, then cp1252."""
    if isinstance(data, str):
        return data[:limit], []
    warnings: list[str] = []
    raw = bytes(data)
    if len(raw) > limit:
        warnings.append(f"page truncated to the first {limit} bytes of {len(raw)}")
        raw = raw[:limit]
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(enc, "replace"), warnings
    if raw.startswith(codecs.BOM_UTF16_BE):
        return raw[2:].decode("utf-16-be", "replace"), warnings
    m = _CHARSET.search(raw[:4096])
    if m:
        name = m.group(1).decode("ascii", "replace")
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            warnings.append(f"unknown charset {name!r}")
        else:
            if not codec.startswith("utf-16"):
                return raw.decode(codec, "replace"), warnings
    try:
        return raw.decode("utf-8"), warnings
    except UnicodeDecodeError:
        warnings.append("page is not valid UTF-8 and names no charset; decoded as cp1252")
        return raw.decode("cp1252", "replace"), warnings


def _is_bot_name(name: str) -> bool:
    if name in KNOWN_BOT_NAMES:
        return True
    return "bot" in name and re.fullmatch(r"[a-z0-9_.\-]+", name) is not None


class _Collector(HTMLParser):
    def __init__(self, base_url: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.directives: list[RobotsDirective] = []
        self.warnings: list[str] = []  # about the robots meta tags
        self.page_warnings: list[str] = []
        self.tdm_reservation: list[str] = []
        self.tdm_policy: list[str] = []
        self.links: list[HtmlLink] = []
        self.inline: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            self._meta(a)
        elif tag == "link":
            self._link(a)
        elif tag == "base" and a.get("href") and self.base_url:
            base = join_url(self.base_url, a["href"].strip())
            if base is None:
                self.page_warnings.append(f"<base href> {a['href'][:80]!r} is not a URL; ignored")
            else:
                self.base_url = base
        elif tag == "script" and a.get("type", "").split(";")[0].strip().lower() == RSL_MEDIA_TYPE:
            self._script = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.inline.append("".join(self._script))
            self._script = None

    def _meta(self, a: dict[str, str]) -> None:
        name = (a.get("name") or a.get("property") or "").strip().lower()
        content = a.get("content")
        if not name or content is None:
            return
        if name in ("tdm-reservation", "tdm:reservation"):
            self.tdm_reservation.append(content)
        elif name in ("tdm-policy", "tdm:policy"):
            self.tdm_policy.append(content)
        elif name == "robots":
            d, w = parse_robots_content(content)
            self.directives.extend(d)
            self.warnings.extend(w)
        elif _is_bot_name(name):
            bot = (a.get("name") or a.get("property") or "").strip()
            d, w = parse_robots_content(content, bot)
            self.directives.extend(d)
            self.warnings.extend(w)

    def _link(self, a: dict[str, str]) -> None:
        rel = tuple(r.lower() for r in a.get("rel", "").split())
        href = a.get("href", "").strip()
        if "license" not in rel or not href:
            return
        joined = join_url(self.base_url, href)
        if joined is None:
            self.page_warnings.append(f"licence link {href[:80]!r} is not a URL; ignored")
            return
        self.links.append(HtmlLink(rel, joined, a.get("type") or None))


def parse_html_meta(html: bytes | str, base_url: str | None = None) -> HtmlSignals:
    """Collect robots meta, TDMRep meta, and RSL/licence links from a page; never raises.

    ``base_url`` (the page's URL) resolves relative ``href`` values; a
    ``<base href>`` in the page is honoured.
    """
    text, warnings = decode_html(html)
    collector = _Collector(base_url)
    try:
        collector.feed(text)
        collector.close()
    except (AssertionError, ValueError, IndexError) as exc:  # html.parser's rare internal errors
        warnings.append(f"HTML parsing stopped early: {exc}")
    if collector._script is not None:  # unterminated <script>: html.parser keeps it unread
        collector.inline.append("".join(collector._script) + collector.rawdata)
    return HtmlSignals(
        robots=RobotsDirectives(
            tuple(collector.directives), "meta-robots", tuple(collector.warnings)
        ),
        tdm_reservation=tuple(collector.tdm_reservation),
        tdm_policy=tuple(collector.tdm_policy),
        license_links=tuple(collector.links),
        rsl_inline=tuple(collector.inline),
        warnings=(*warnings, *collector.page_warnings),
    )

"""RSL 1.0 (Really Simple Licensing): machine-readable licence terms for crawled content.

Where robots.txt says "may you fetch this", an RSL document says "on what
terms may you use it": which usages are permitted or prohibited
(``all``, ``ai-all``, ``ai-train``, ``ai-input``, ``ai-index``, ``search``), for
which users and places, and at what price. It is the one web protocol that
turns an opt-out into an offer, which is why Clearance reads it fully and
keeps the payment terms (the ``license`` permission carries them).

This module parses the XML (with ``defusedxml`` only: no DTD, no entities)
into frozen records that mirror the document, and finds RSL documents from a
``Link`` header or a page's ``<link rel="license">``. Interpretation (which
usage a token means, "a prohibition beats a permit", "a ``server`` attribute
means a licence must be obtained even when free") lives in ``mapping``.
Token lists are read comma- or space-separated, since both occur.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from clearance.signals.base import decode_text, join_url
from clearance.signals.html_meta import RSL_MEDIA_TYPE, HtmlSignals, parse_html_meta
from clearance.signals.robots_paths import request_path
from clearance.signals.tdmrep import path_of, pattern_matches
from clearance.signals.xrobots import HeaderInput, header_values

RSL_NS = "https://rslstandard.org/rsl"
USAGE_TOKENS = frozenset({"all", "ai-all", "ai-train", "ai-input", "ai-index", "search"})
USAGE_ALIASES = {"train-ai": "ai-train", "ai-training": "ai-train", "ai-use": "ai-input"}
"""Misspellings seen in the wild, read with a warning."""
PAYMENT_TYPES = frozenset(
    {
        "purchase",
        "subscription",
        "training",
        "crawl",
        "use",
        "contribution",
        "attribution",
        "free",
    }
)
_KNOWN_CONTENT_CHILDREN = frozenset(
    {"license", "copyright", "terms", "schema", "alternate", "legal"}
)


@dataclass(frozen=True, slots=True)
class RslTerm:
    """A ``<permits>`` or ``<prohibits>`` element: its ``type`` and the tokens it lists."""

    type: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RslAmount:
    """``<amount currency="USD">0.01</amount>``; ``value`` is ``None`` when not a number."""

    value: Decimal | None
    currency: str | None
    raw: str = ""


@dataclass(frozen=True, slots=True)
class RslPayment:
    """A ``<payment>``: its type (``free`` when omitted), amounts, and licence references."""

    type: str = "free"
    amounts: tuple[RslAmount, ...] = ()
    standard: tuple[str, ...] = ()
    custom: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()

    @property
    def is_free(self) -> bool:
        """True only for ``free`` with no positive amount attached."""
        return self.type == "free" and not any(a.value for a in self.amounts)

    def describe(self) -> str:
        """One line for evidence details, e.g. ``crawl 0.01 USD (standard https://...)``."""
        parts = [self.type]
        parts += [
            f"{a.value if a.value is not None else a.raw} {a.currency or ''}".strip()
            for a in self.amounts
        ]
        refs = [f"standard {u}" for u in self.standard] + [f"custom {u}" for u in self.custom]
        return " ".join(parts) + (f" ({'; '.join(refs)})" if refs else "")


@dataclass(frozen=True, slots=True)
class RslLicense:
    """One ``<license>``: usage/user/geo permits and prohibits, payments, legal and reporting."""

    permits: tuple[RslTerm, ...] = ()
    prohibits: tuple[RslTerm, ...] = ()
    payments: tuple[RslPayment, ...] = ()
    legal: tuple[tuple[str, str], ...] = ()
    reporting: tuple[tuple[str, str], ...] = ()

    def permitted(self, type_: str = "usage") -> frozenset[str] | None:
        """Tokens permitted for ``type_``; ``None`` without such a ``<permits>`` (no limit)."""
        terms = [t for t in self.permits if t.type == type_]
        return frozenset(tok for t in terms for tok in t.tokens) if terms else None

    def prohibited(self, type_: str = "usage") -> frozenset[str]:
        return frozenset(tok for t in self.prohibits if t.type == type_ for tok in t.tokens)

    @property
    def is_free(self) -> bool:
        """No payment element, or only free ones (RSL: an omitted payment means free)."""
        return all(p.is_free for p in self.payments)

    @property
    def conditions(self) -> tuple[str, ...]:
        """Conditions beyond usage: user/geo limits and reporting duties (for evidence details)."""
        out = [f"permits {t.type}: {' '.join(t.tokens)}" for t in self.permits if t.type != "usage"]
        out += [
            f"prohibits {t.type}: {' '.join(t.tokens)}" for t in self.prohibits if t.type != "usage"
        ]
        out += [f"reporting {kind} ({profile})" for kind, profile in self.reporting]
        return tuple(out)


@dataclass(frozen=True, slots=True)
class RslContent:
    """A ``<content>``: the asset pattern ``url``, licence server, and its licences."""

    url: str
    licenses: tuple[RslLicense, ...] = ()
    server: str | None = None
    encrypted: bool = False
    lastmod: str | None = None
    copyright: str | None = None
    terms: str | None = None

    def matches(self, url_or_path: str) -> bool:
        """Whether ``url`` covers the resource: an RFC 9309 path pattern (``*``, ``$``), or an
        absolute URL prefix; an empty ``url`` covers whatever it was attached to."""
        return _pattern_match(self.url, url_or_path) is not None


@dataclass(frozen=True, slots=True)
class RslDocument:
    """A parsed RSL document."""

    contents: tuple[RslContent, ...] = ()
    max_age_days: int | None = None
    warnings: tuple[str, ...] = ()

    def content_for(self, url_or_path: str) -> RslContent | None:
        """The most specific ``<content>`` covering a resource (longest matching pattern)."""
        best: tuple[int, RslContent] | None = None
        for content in self.contents:
            length = _pattern_match(content.url, url_or_path)
            if length is not None and (best is None or length > best[0]):
                best = (length, content)
        return best[1] if best else None


def _netloc(url: str) -> str | None:
    """The host part of a URL, lower-cased; ``None`` when ``urlsplit`` rejects the URL."""
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return None


def _pattern_match(pattern: str, url_or_path: str) -> int | None:
    """Length of ``pattern`` if it matches the resource, else ``None``."""
    if pattern == "":
        return 0
    target = url_or_path.strip()
    if "://" in pattern:
        host, target_host = _netloc(pattern), _netloc(target)
        if host is None or (target_host and host != target_host):
            return None
        pattern = request_path(pattern)
    target = path_of(target)
    return len(pattern) if pattern_matches(pattern, target) else None


def _local(el: Element) -> str:
    return el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""


def _ns(el: Element) -> str:
    return el.tag[1:].partition("}")[0] if isinstance(el.tag, str) and el.tag[:1] == "{" else ""


def _text(el: Element) -> str:
    return "".join(el.itertext()).strip()


def _tokens(text: str, type_: str, warnings: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for raw in re.split(r"[,\s]+", text):
        tok = raw.strip().lower()
        if not tok:
            continue
        if type_ == "usage":
            if tok in USAGE_ALIASES:
                warnings.append(f"usage token {raw!r} read as {USAGE_ALIASES[tok]!r}")
                tok = USAGE_ALIASES[tok]
            elif tok not in USAGE_TOKENS:
                warnings.append(f"unknown usage token {raw!r}")
        elif type_ == "geo":
            tok = tok.upper()
        if tok not in out:
            out.append(tok)
    return tuple(out)


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value >= 0 else None


def _payment(el: Element, warnings: list[str]) -> RslPayment:
    kind = (el.get("type") or "").strip().lower()
    if not kind:
        kind = "free"
    elif kind not in PAYMENT_TYPES:
        warnings.append(f"unknown payment type {kind!r}")
    amounts: list[RslAmount] = []
    standard: list[str] = []
    custom: list[str] = []
    accepts: list[str] = []
    for child in el:
        name = _local(child)
        if name == "amount":
            raw = _text(child)
            value = _decimal(raw)
            if value is None:
                warnings.append(f"payment amount {raw[:40]!r} is not a number")
            currency = (child.get("currency") or "").strip().upper() or None
            if currency is None:
                warnings.append("payment amount without a currency")
            amounts.append(RslAmount(value, currency, raw))
        elif name == "standard":
            standard.append(_text(child))
        elif name == "custom":
            custom.append(_text(child))
        elif name == "accepts":
            accepts.append((child.get("type") or "").strip())
    if kind == "free" and any(a.value for a in amounts):
        warnings.append("a free payment carries a positive amount; treated as paid")
    return RslPayment(kind, tuple(amounts), tuple(standard), tuple(custom), tuple(accepts))


def _license(el: Element, warnings: list[str]) -> RslLicense:
    permits: list[RslTerm] = []
    prohibits: list[RslTerm] = []
    payments: list[RslPayment] = []
    legal: list[tuple[str, str]] = []
    reporting: list[tuple[str, str]] = []
    for child in el:
        name = _local(child)
        if name in ("permits", "prohibits"):
            type_ = (child.get("type") or "usage").strip().lower()
            term = RslTerm(type_, _tokens(_text(child), type_, warnings))
            (permits if name == "permits" else prohibits).append(term)
        elif name == "payment":
            payments.append(_payment(child, warnings))
        elif name == "legal":
            legal.append(((child.get("type") or "").strip(), _text(child)))
        elif name == "reporting":
            reporting.append(((child.get("type") or "").strip(), child.get("profile") or ""))
        elif _ns(child) in (RSL_NS, "") and name:
            warnings.append(f"unknown element <{name}> in <license>")
    return RslLicense(
        tuple(permits), tuple(prohibits), tuple(payments), tuple(legal), tuple(reporting)
    )


def _content(el: Element, warnings: list[str]) -> RslContent:
    url = el.get("url")
    if url is None:
        warnings.append("<content> without a url attribute; read as covering everything")
        url = ""
    licenses: list[RslLicense] = []
    copyright_: str | None = None
    terms: str | None = None
    for child in el:
        name = _local(child)
        if name == "license":
            licenses.append(_license(child, warnings))
        elif name == "copyright":
            holder = _text(child) or child.get("contactEmail") or child.get("contactUrl") or ""
            copyright_ = holder or None
        elif name == "terms":
            terms = _text(child) or None
        elif name not in _KNOWN_CONTENT_CHILDREN and _ns(child) in (RSL_NS, "") and name:
            warnings.append(f"unknown element <{name}> in <content>")
    if not licenses:
        warnings.append(f"<content url={url!r}> has no <license>")
    encrypted = (el.get("encrypted") or "false").strip().lower() == "true"
    server = (el.get("server") or "").strip() or None
    if encrypted and server is None:
        warnings.append(f"<content url={url!r}> is encrypted but names no server")
    lastmod = el.get("lastmod")
    return RslContent(url.strip(), tuple(licenses), server, encrypted, lastmod, copyright_, terms)


def parse_rsl(data: bytes | str) -> RslDocument:
    """Parse an RSL document; malformed or hostile XML gives an empty document plus warnings."""
    text, warnings = decode_text(data)
    try:
        root = fromstring(text.encode("utf-8"), forbid_dtd=True)
    except DefusedXmlException as exc:
        return RslDocument(warnings=(*warnings, f"RSL refused: {type(exc).__name__}"))
    except (ParseError, ValueError, RecursionError) as exc:
        return RslDocument(warnings=(*warnings, f"RSL is not well-formed XML: {exc}"))
    if _local(root) != "rsl":
        found = [el for el in root.iter() if _local(el) == "rsl"]
        if not found:
            return RslDocument(warnings=(*warnings, f"root element <{_local(root)}> is not <rsl>"))
        warnings.append(f"<rsl> found inside <{_local(root)}>")
        root = found[0]
    if _ns(root) != RSL_NS:
        warnings.append(f"<rsl> namespace is {_ns(root)!r}, expected {RSL_NS!r}")
    max_age: int | None = None
    if root.get("max-age") is not None:
        try:
            max_age = int(str(root.get("max-age")).strip())
        except ValueError:
            warnings.append(f"max-age {root.get('max-age')!r} is not an integer")
    contents = [_content(el, warnings) for el in root if _local(el) == "content"]
    if not contents:
        warnings.append("<rsl> has no <content>")
    return RslDocument(tuple(contents), max_age, tuple(warnings))


# --- discovery ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkValue:
    """One link of an RFC 8288 ``Link`` header: target and lower-cased parameters."""

    href: str
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


def _link_params(s: str, pos: int) -> tuple[list[tuple[str, str]], int]:
    """Parameters after a ``<target>``, up to the comma that ends the link; returns the end."""
    params: list[tuple[str, str]] = []
    n = len(s)
    while pos < n:
        while pos < n and s[pos] in " \t":
            pos += 1
        if pos >= n or s[pos] != ";":
            break
        pos += 1
        eq = pos
        while eq < n and s[eq] not in "=;,<":
            eq += 1
        name = s[pos:eq].strip().lower()
        value = ""
        pos = eq
        if pos < n and s[pos] == "=":
            pos += 1
            while pos < n and s[pos] in " \t":
                pos += 1
            if pos < n and s[pos] == '"':
                close = s.find('"', pos + 1)
                close = n if close < 0 else close
                value, pos = s[pos + 1 : close], close + 1
            else:
                stop = pos
                while stop < n and s[stop] not in ";,":
                    stop += 1
                value, pos = s[pos:stop].strip(), stop
        if name:
            params.append((name, value))
    return params, pos


def parse_link_header(values: str | list[str]) -> tuple[LinkValue, ...]:
    """Parse ``Link`` header values leniently (several links per value, several values)."""
    out: list[LinkValue] = []
    for value in [values] if isinstance(values, str) else values:
        pos = 0
        while True:
            lt = value.find("<", pos)
            gt = value.find(">", lt + 1) if lt >= 0 else -1
            if gt < 0:
                break
            params, pos = _link_params(value, gt + 1)
            out.append(LinkValue(value[lt + 1 : gt].strip(), tuple(params)))
            pos = max(pos, gt + 1)
    return tuple(out)


def _is_rsl_license(rel: str | None, type_: str | None) -> bool:
    rels = (rel or "").lower().split()
    return "license" in rels and (type_ or "").split(";")[0].strip().lower() == RSL_MEDIA_TYPE


def rsl_links_from_headers(headers: HeaderInput, base_url: str | None = None) -> tuple[str, ...]:
    """URLs of RSL documents named by ``Link: <url>; rel="license"; type="application/rsl+xml"``."""
    links = parse_link_header(header_values(headers, "link"))
    out = [
        join_url(base_url, link.href)
        for link in links
        if _is_rsl_license(link.param("rel"), link.param("type"))
    ]
    return tuple(dict.fromkeys(url for url in out if url is not None))


def rsl_links_from_html(
    html: bytes | str | HtmlSignals, base_url: str | None = None
) -> tuple[str, ...]:
    """URLs of RSL documents named by ``<link rel="license" type="application/rsl+xml">``."""
    signals = html if isinstance(html, HtmlSignals) else parse_html_meta(html, base_url)
    return tuple(dict.fromkeys(signals.rsl_links))

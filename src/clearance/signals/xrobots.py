"""Robots directives from ``X-Robots-Tag`` headers and robots ``<meta>`` tags, incl. ``noai``.

``noai`` and ``noimageai`` (the DeviantArt convention, honoured by img2dataset
and others) ride on the same carriers as Google's ``noindex``: the
``X-Robots-Tag`` response header and ``<meta name="robots">``. Both also come
scoped to one crawler (``X-Robots-Tag: GPTBot: noai``, ``<meta name="GPTBot"
content="noai">``). This module reads every directive with its scope and
leaves the meaning to ``mapping``; it also holds the small header helpers the
other header-borne parsers (TDMRep, RSL ``Link``, pay-per-crawl) share.

Header syntax, following Google's reading: a comma-separated list; an item
``name: rest`` whose name is not a directive that takes a value
(``max-snippet``, ``unavailable_after`` ...) names a crawler, and that crawler
scopes every following item in the same header value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, cast, runtime_checkable


@runtime_checkable
class _MultiHeaders(Protocol):
    """httpx.Headers and similar: a mapping that can list repeated fields."""

    def get_list(self, key: str) -> list[str]: ...


class _HeaderItems(Protocol):
    """Anything with ``items()`` giving name/value pairs (``email.message.Message`` too)."""

    def items(self) -> Iterable[tuple[str, Any]]: ...


HeaderInput: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]] | _HeaderItems
"""Response headers: a mapping (``httpx.Headers`` too) or ``(name, value)`` pairs (with repeats)."""


def header_values(headers: HeaderInput, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order, repeats included."""
    key = name.lower()
    if isinstance(headers, _MultiHeaders):
        try:
            return [str(v) for v in headers.get_list(name)]
        except (TypeError, AttributeError):
            pass
    pairs: Iterable[object]
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        pairs = cast(_HeaderItems, headers).items()  # Message.items() keeps repeats
    else:
        pairs = cast(Iterable[object], headers)
    out: list[str] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            continue
        k, v = (x.decode("latin-1") if isinstance(x, bytes) else str(x) for x in pair)
        if k.strip().lower() == key:
            out.append(v)
    return out


KNOWN_DIRECTIVES = frozenset(
    {
        "all",
        "none",
        "index",
        "noindex",
        "follow",
        "nofollow",
        "noarchive",
        "nocache",
        "nosnippet",
        "noimageindex",
        "notranslate",
        "nositelinkssearchbox",
        "indexifembedded",
        "noodp",
        "noydir",
        "noyaca",
        "noai",
        "noimageai",
        "max-snippet",
        "max-image-preview",
        "max-video-preview",
        "unavailable_after",
    }
)
"""Directives we recognise; others are kept (with a warning) but mean nothing to us."""

VALUED_DIRECTIVES = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after"}
)
"""Directives written ``name: value``; any other ``name:`` prefix names a crawler."""

_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SCOPED = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*:\s*(.*)$", re.DOTALL)
_MAX_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class RobotsDirective:
    """One directive: its lower-case ``name``, optional ``value``, and the crawler it is scoped to.

    ``bot`` is ``None`` for a directive that applies to every crawler.
    """

    name: str
    value: str | None = None
    bot: str | None = None


@dataclass(frozen=True, slots=True)
class RobotsDirectives:
    """Every robots directive one carrier (the headers, or a page's meta tags) gave."""

    directives: tuple[RobotsDirective, ...] = ()
    source: str = "x-robots-tag"
    warnings: tuple[str, ...] = ()

    @property
    def bots(self) -> tuple[str, ...]:
        """The crawlers some directive is scoped to, in order of first appearance."""
        out: list[str] = []
        for d in self.directives:
            if d.bot is not None and d.bot not in out:
                out.append(d.bot)
        return tuple(out)

    def for_bot(self, bot: str | None = None) -> tuple[RobotsDirective, ...]:
        """Directives that apply to ``bot``: the unscoped ones plus those naming it (any case).

        With ``bot=None`` only the unscoped directives are returned.
        """
        want = bot.lower() if bot is not None else None
        return tuple(
            d for d in self.directives if d.bot is None or (want and d.bot.lower() == want)
        )

    def names(self, bot: str | None = None) -> frozenset[str]:
        """Directive names that apply to ``bot`` (see ``for_bot``)."""
        return frozenset(d.name for d in self.for_bot(bot))

    def has(self, name: str, bot: str | None = None) -> bool:
        return name.lower() in self.names(bot)


def parse_robots_content(
    content: str, bot: str | None = None
) -> tuple[list[RobotsDirective], list[str]]:
    """Parse one directive list (a header value or a meta ``content``).

    ``bot`` is the scope the list starts in (a meta tag's crawler name); inside
    the list, ``Name: directive`` switches the scope as in ``X-Robots-Tag``.
    """
    directives: list[RobotsDirective] = []
    warnings: list[str] = []
    scope = bot
    items = content.split(",")
    if len(items) > _MAX_ITEMS:
        warnings.append(f"more than {_MAX_ITEMS} robots directives; the rest are ignored")
        items = items[:_MAX_ITEMS]
    for item in items:
        text = item.strip()
        if not text:
            continue
        m = _SCOPED.match(text)
        if m and m.group(1).lower() not in VALUED_DIRECTIVES:
            scope = m.group(1)
            text = m.group(2).strip()
            if not text:
                continue
            m = _SCOPED.match(text)
        if m and m.group(1).lower() in VALUED_DIRECTIVES:
            directives.append(RobotsDirective(m.group(1).lower(), m.group(2).strip(), scope))
            continue
        for word in text.split():
            name = word.lower()
            if not _TOKEN.match(name):
                warnings.append(f"ignored robots item {word!r}")
                continue
            if name not in KNOWN_DIRECTIVES:
                warnings.append(f"unknown robots directive {word!r}")
            directives.append(RobotsDirective(name, None, scope))
    return directives, warnings


def parse_x_robots_tag(values: str | Iterable[str]) -> RobotsDirectives:
    """Parse one or more ``X-Robots-Tag`` header values (each header starts unscoped)."""
    if isinstance(values, str):
        values = [values]
    directives: list[RobotsDirective] = []
    warnings: list[str] = []
    for value in values:
        d, w = parse_robots_content(str(value))
        directives.extend(d)
        warnings.extend(w)
    return RobotsDirectives(tuple(directives), "x-robots-tag", tuple(warnings))


def x_robots_tag_from_headers(headers: HeaderInput) -> RobotsDirectives:
    """Every ``X-Robots-Tag`` header of a response, repeats included."""
    return parse_x_robots_tag(header_values(headers, "x-robots-tag"))

"""Paths and patterns of robots.txt: percent-normalising, request paths, crawler names, matching.

Why a module of its own: these are the RFC 9309 / Google ``robots.cc`` string
rules (``MaybeEscapePattern``, ``GetPathParamsQuery``, ``Matches``, the
product-token rule) that the parser (``robots``), ai.txt (``aitxt``) and the
TDMRep/RSL location patterns apply; they know nothing about groups or files.
``_PatternIndex`` answers longest-match lookups without trying every pattern on
every path.

Two readings of a path live here. Google's (``escape_pattern``) only encodes
non-ASCII octets and upper-cases escapes; its library leaves the rest to the
caller. RFC 9309's (``canonical_path`` / ``canonical_pattern``) also makes the
spellings the RFC calls equal compare equal: an escaped unreserved character is
the character (section 2.2.2: ``/foo/bar/%62%61%7A`` is ``/foo/bar/baz``), an
escaped ``$`` or ``*`` is the literal one (section 2.2.3: ``/path/foo-%24``
matches ``/path/foo-$``), and characters a URI may not hold are escaped.

Crawler names: Google's product token is the leading ``[A-Za-z_-]`` run of a
User-agent value, so ``img2dataset`` reads as ``img`` and can never be matched.
``agent_key`` is the name as written instead (up to a ``/version`` or a
comment, blanks collapsed, case-folded), which is how a site names a crawler
whose token holds digits, dots or spaces; ``robots`` matches both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Generic, TypeVar

T = TypeVar("T")

_PATH_START = re.compile(r"[/?;]")
_ESCAPE = re.compile(rb"%[0-9a-fA-F]{2}|[\x80-\xff]")
_TOKEN = re.compile(r"[A-Za-z_-]*")
_NAME_END = re.compile(r"[/(;,]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Octets a canonical path keeps as they are: unreserved plus the reserved characters other
# than "$" and "*" (RFC 3986 section 2.2), whose escaped and literal forms differ in meaning.
_KEEP = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?[]@!&'()+,;="
)
_PLAIN = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!&'()+,;=]*")
_OCTET = re.compile(rb"%([0-9A-Fa-f]{2})|(.)", re.S)


def escape_pattern(text: str, *, latin1: bool = False) -> str:
    """Google's ``MaybeEscapePattern``: %-encode non-ASCII octets, upper-case %xx escapes."""
    if text.isascii() and "%" not in text:
        return text
    raw = text.encode("latin-1", "replace") if latin1 else text.encode("utf-8", "surrogatepass")

    def fix(m: re.Match[bytes]) -> bytes:
        s = m.group(0)
        return s.upper() if s[:1] == b"%" else b"%%%02X" % s[0]

    return _ESCAPE.sub(fix, raw).decode("ascii")


def _canonical_octet(m: re.Match[bytes]) -> bytes:
    hex_digits, octet = m.group(1), m.group(2)
    if hex_digits is not None:
        value = int(hex_digits, 16)
        return bytes((value,)) if chr(value) in _UNRESERVED else b"%" + hex_digits.upper()
    return octet if octet[0] in _KEEP else b"%%%02X" % octet[0]


def canonical_path(text: str, *, latin1: bool = False) -> str:
    """A path in RFC 9309's comparison form: every spelling the RFC calls equal made one.

    An escape of an unreserved character becomes the character; other escapes
    are upper-cased; non-ASCII octets (UTF-8, or Latin-1 for a Latin-1 file),
    characters a URI may not hold, a stray ``%``, and the literal ``$`` and
    ``*`` become escapes. The other reserved characters stay as written (RFC
    3986: escaping them changes what they mean). Idempotent.
    """
    if _PLAIN.fullmatch(text):
        return text
    raw = text.encode("latin-1", "replace") if latin1 else text.encode("utf-8", "surrogatepass")
    return _OCTET.sub(_canonical_octet, raw).decode("ascii")


def canonical_pattern(pattern: str, *, latin1: bool = False) -> str:
    """A robots pattern in the comparison form of ``canonical_path``.

    ``*`` stays the wildcard and a final ``$`` the end anchor; every other ``$``
    is a literal one, and ``%2A``/``%24`` stay literal (RFC 9309 section 2.2.3),
    so the pattern matches exactly the canonical paths its spellings match.
    """
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    out = "*".join(canonical_path(piece, latin1=latin1) for piece in body.split("*"))
    return out + "$" if anchored else out


def request_path(url: str) -> str:
    """Google's ``GetPathParamsQuery``: path, params and query of a URL; always starts with /."""
    start = 2 if url.startswith("//") else 0
    early = _PATH_START.search(url, start)
    proto = url.find("://", start)
    if early is not None and (proto < 0 or early.start() < proto):
        proto = -1
    proto = start if proto < 0 else proto + 3
    m = _PATH_START.search(url, proto)
    if m is None:
        return "/"
    path_start = m.start()
    hash_pos = url.find("#", start)
    if 0 <= hash_pos < path_start:
        return "/"
    path = url[path_start : hash_pos if hash_pos >= 0 else len(url)]
    return path if path.startswith("/") else "/" + path


def product_token(value: str) -> str:
    """The leading ``[A-Za-z_-]`` run of a User-agent value (``Foo Bar`` and ``Foo/2`` give Foo)."""
    m = _TOKEN.match(value)
    return m.group(0) if m else ""


def is_valid_product_token(value: str) -> bool:
    """Whether ``value`` is a whole, non-empty product token (``IsValidUserAgentToObey``)."""
    return bool(value) and value.isascii() and product_token(value) == value


def agent_name(value: str) -> str:
    """The crawler a User-agent value names, as written: up to a ``/version`` or a comment.

    ``img2dataset``, ``panscient.com`` and ``Brightbot 1.0`` are kept whole;
    ``GPTBot/1.1`` and ``AI2Bot (+https://...)`` give ``GPTBot`` and ``AI2Bot``;
    runs of blanks become one space.
    """
    return " ".join(_NAME_END.split(value, 1)[0].split())


@lru_cache(maxsize=4096)
def agent_key(value: str) -> str:
    """``agent_name`` case-folded: two names are the same crawler when their keys are equal."""
    return agent_name(value).casefold()


def _compile(pattern: str) -> Callable[[str], bool]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    if "*" not in body:
        if anchored:
            return lambda path: path == body
        return lambda path: path.startswith(body)
    first, *middle, last = body.split("*")

    def match(path: str) -> bool:
        if not path.startswith(first):
            return False
        pos = len(first)
        for seg in middle:
            if seg:
                i = path.find(seg, pos)
                if i < 0:
                    return False
                pos = i + len(seg)
        if anchored:
            return len(path) - len(last) >= pos and path.endswith(last)
        return not last or path.find(last, pos) >= 0

    return match


compile_pattern = lru_cache(maxsize=4096)(_compile)
"""A robots pattern as a predicate on a path: prefix match, ``*`` any run, final ``$`` end."""


def pattern_matches(pattern: str, path: str) -> bool:
    """Whether a robots ``pattern`` matches a request ``path`` (Google's ``Matches``)."""
    return compile_pattern(pattern)(path)


class _PatternIndex(Generic[T]):
    """Patterns for longest-match lookups without trying every pattern on every path.

    Literal patterns (no ``*``) sit in dicts: a prefix pattern is found by looking
    up the path's prefixes of the lengths that occur, an anchored one by the path
    itself. Only wildcard patterns are tried one by one, longest first. A
    pattern's priority is its length, ``*`` and ``$`` included, as in Google's.
    """

    def __init__(self, entries: Sequence[tuple[str, T]]) -> None:
        self.prefix: dict[str, list[T]] = {}
        self.exact: dict[str, list[T]] = {}
        self.wild: list[tuple[int, Callable[[str], bool], T]] = []
        for pattern, item in entries:
            if not pattern:
                continue  # an empty pattern matches with priority 0: it never decides
            if "*" in pattern:
                self.wild.append((len(pattern), compile_pattern(pattern), item))
            elif pattern.endswith("$"):
                self.exact.setdefault(pattern[:-1], []).append(item)
            else:
                self.prefix.setdefault(pattern, []).append(item)
        self.lengths = sorted({len(k) for k in self.prefix}, reverse=True)
        self.wild.sort(key=lambda t: -t[0])

    def longest(self, path: str) -> list[T]:
        """Every item whose pattern matches ``path`` with the highest priority."""
        best, hits = -1, []
        exact = self.exact.get(path)
        if exact:
            best, hits = len(path) + 1, list(exact)
        for n in self.lengths:
            if n < best:
                break
            found = self.prefix.get(path[:n]) if n <= len(path) else None
            if found:
                best, hits = (n, hits + found) if n == best else (n, list(found))
                break
        for n, match, item in self.wild:
            if n < best:
                break
            if match(path):
                best, hits = (n, [*hits, item]) if n == best else (n, [item])
        return hits


class PatternSet:
    """Which of many robots-style patterns match a path, all at once (not only the longest).

    Why: a dataset scan decides a site's many URLs by *which* of the site's
    patterns each URL's path matches; URLs that match the same patterns get the
    same answer from every rule-based protocol (longest match, first match,
    ``$`` anchors: all are functions of the matching set). Literal prefixes are
    found by dict lookups of the path's prefixes of the lengths that occur, as
    in ``_PatternIndex``; only wildcard patterns are tried one by one.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(dict.fromkeys(patterns))
        self.prefix: dict[str, int] = {}
        self.exact: dict[str, int] = {}
        self.wild: list[tuple[int, Callable[[str], bool]]] = []
        for i, pattern in enumerate(self.patterns):
            if "*" in pattern:
                self.wild.append((i, compile_pattern(pattern)))
            elif pattern.endswith("$"):
                self.exact[pattern[:-1]] = i
            else:
                self.prefix[pattern] = i
        self.lengths = sorted({len(k) for k in self.prefix})

    def matching(self, path: str) -> tuple[int, ...]:
        """The indices (into ``patterns``) of every pattern that matches ``path``, sorted."""
        size = len(path)
        out = [i for n in self.lengths if n <= size and (i := self.prefix.get(path[:n], -1)) >= 0]
        exact = self.exact.get(path)
        if exact is not None:
            out.append(exact)
        out += [i for i, match in self.wild if match(path)]
        return tuple(sorted(out))

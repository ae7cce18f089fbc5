"""IETF AI Preferences (aipref): the ``Content-Usage`` statement and its RFC 9651 parser.

Why this module exists: aipref statements ride on two carriers, the HTTP
``Content-Usage`` header and ``Content-Usage`` rules inside robots.txt groups,
and both use the same serialisation: an RFC 9651 structured-field Dictionary
such as ``train-ai=n, search=y``. The vocabulary draft makes the parse strict on
purpose (an uppercase key fails the whole field, so every preference is
unknown; a value that is not the Token ``y``/``n`` is unknown), which a lenient
``key=value`` split would get wrong. So this module carries a small but correct
RFC 9651 Dictionary parser (section 4.2.2, with Integer, Decimal, String,
Token, Byte Sequence, Boolean, Date, Display String and Inner List values) and
turns its result into per-label preferences.

Nothing here decides what a label means for Clearance: ``mapping`` does that.
Labels of older drafts (``train-genai``, ``ai-use``, ``tdm``, ``all``,
``bots``, ``ai-output``) are still read, because files written against them
are in the wild. Combining statements follows vocab section 5.1: any ``n``
wins, then any ``y``, else unknown.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias

CURRENT_LABELS: tuple[str, ...] = ("train-ai", "search")
"""Labels defined by the current vocabulary draft."""

LEGACY_LABELS: tuple[str, ...] = ("train-genai", "ai-use", "tdm", "all", "bots", "ai-output")
"""Labels of earlier vocabulary drafts, still read as legacy input."""


class Pref(StrEnum):
    """An explicit preference: the Token ``y`` (allow) or ``n`` (disallow)."""

    ALLOW = "y"
    DISALLOW = "n"


# --- RFC 9651 values -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """An RFC 9651 Token (distinct from a String with the same characters)."""

    value: str


@dataclass(frozen=True, slots=True)
class Date:
    """An RFC 9651 Date: seconds since the Unix epoch."""

    seconds: int


@dataclass(frozen=True, slots=True)
class DisplayString:
    """An RFC 9651 Display String (Unicode text, percent-encoded on the wire)."""

    value: str


BareItem: TypeAlias = int | Decimal | str | Token | bytes | bool | Date | DisplayString
Parameters: TypeAlias = tuple[tuple[str, BareItem], ...]


@dataclass(frozen=True, slots=True)
class Item:
    """A bare item with its parameters."""

    value: BareItem
    params: Parameters = ()


@dataclass(frozen=True, slots=True)
class InnerList:
    """A parenthesised list of items, with the list's own parameters."""

    items: tuple[Item, ...]
    params: Parameters = ()


Member: TypeAlias = Item | InnerList


class StructuredFieldError(ValueError):
    """The text is not a valid RFC 9651 structured field (internal; never escapes this module)."""


_KEY_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz*")
_KEY_REST = _KEY_FIRST | frozenset("0123456789_-.")
_ALPHA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")
_TCHAR = _ALPHA | _DIGITS | frozenset("!#$%&'*+-.^_`|~")
_TOKEN_REST = _TCHAR | frozenset(":/")
_BASE64 = _ALPHA | _DIGITS | frozenset("+/=")
_LCHEX = frozenset("0123456789abcdef")


class _Parser:
    """RFC 9651 section 4.2 parsing over one ASCII string; raises StructuredFieldError."""

    __slots__ = ("pos", "s")

    def __init__(self, s: str) -> None:
        self.s = s
        self.pos = 0

    def peek(self) -> str:
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def skip(self, chars: str) -> None:
        while self.pos < len(self.s) and self.s[self.pos] in chars:
            self.pos += 1

    def dictionary(self) -> dict[str, Member]:
        out: dict[str, Member] = {}
        while self.pos < len(self.s):
            key = self.key()
            member: Member
            if self.peek() == "=":
                self.pos += 1
                member = self.item_or_inner_list()
            else:
                member = Item(True, self.parameters())
            out[key] = member  # a later duplicate overwrites the value in place
            self.skip(" \t")
            if self.pos >= len(self.s):
                return out
            if self.take() != ",":
                raise StructuredFieldError("expected ',' between dictionary members")
            self.skip(" \t")
            if self.pos >= len(self.s):
                raise StructuredFieldError("trailing ',' in dictionary")
        return out

    def key(self) -> str:
        start = self.pos
        if self.peek() not in _KEY_FIRST:
            raise StructuredFieldError(f"invalid key at offset {start}")
        self.pos += 1
        while self.peek() in _KEY_REST:
            self.pos += 1
        return self.s[start : self.pos]

    def item_or_inner_list(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return Item(self.bare_item(), self.parameters())

    def inner_list(self) -> InnerList:
        self.pos += 1  # "("
        items: list[Item] = []
        while self.pos < len(self.s):
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.parameters())
            items.append(Item(self.bare_item(), self.parameters()))
            if self.peek() not in (" ", ")"):
                raise StructuredFieldError("expected ' ' or ')' in inner list")
        raise StructuredFieldError("unterminated inner list")

    def parameters(self) -> Parameters:
        params: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params[key] = value
        return tuple(params.items())

    def bare_item(self) -> BareItem:
        ch = self.peek()
        if ch == "-" or ch in _DIGITS:
            return self.number()
        if ch == '"':
            return self.string()
        if ch == "*" or ch in _ALPHA:
            return self.token()
        if ch == ":":
            return self.byte_sequence()
        if ch == "?":
            return self.boolean()
        if ch == "@":
            self.pos += 1
            seconds = self.number()
            if not isinstance(seconds, int):
                raise StructuredFieldError("a Date must be an Integer")
            return Date(seconds)
        if ch == "%":
            return self.display_string()
        raise StructuredFieldError(f"unexpected {ch!r} at offset {self.pos}")

    def number(self) -> int | Decimal:
        sign = 1
        if self.peek() == "-":
            self.pos += 1
            sign = -1
        if not self.peek() or self.peek() not in _DIGITS:
            raise StructuredFieldError("expected a digit")
        start = self.pos
        dot = -1
        while self.pos < len(self.s):
            ch = self.s[self.pos]
            if ch in _DIGITS:
                self.pos += 1
            elif ch == "." and dot < 0:
                if self.pos - start > 12:
                    raise StructuredFieldError("decimal integer part too long")
                dot = self.pos
                self.pos += 1
            else:
                break
            if dot < 0 and self.pos - start > 15:
                raise StructuredFieldError("integer too long")
            if dot >= 0 and self.pos - start > 16:
                raise StructuredFieldError("decimal too long")
        text = self.s[start : self.pos]
        if dot < 0:
            return sign * int(text)
        if text.endswith(".") or len(text) - (dot - start) - 1 > 3:
            raise StructuredFieldError("a Decimal needs 1 to 3 fractional digits")
        return sign * Decimal(text)

    def string(self) -> str:
        self.pos += 1  # '"'
        out: list[str] = []
        while self.pos < len(self.s):
            ch = self.take()
            if ch == "\\":
                nxt = self.take()
                if nxt not in ('"', "\\"):
                    raise StructuredFieldError("invalid escape in String")
                out.append(nxt)
            elif ch == '"':
                return "".join(out)
            elif not " " <= ch <= "~":
                raise StructuredFieldError("control or non-ASCII character in String")
            else:
                out.append(ch)
        raise StructuredFieldError("unterminated String")

    def token(self) -> Token:
        start = self.pos
        self.pos += 1
        while self.peek() in _TOKEN_REST:
            self.pos += 1
        return Token(self.s[start : self.pos])

    def byte_sequence(self) -> bytes:
        self.pos += 1  # ":"
        end = self.s.find(":", self.pos)
        if end < 0:
            raise StructuredFieldError("unterminated Byte Sequence")
        body = self.s[self.pos : end]
        self.pos = end + 1
        if any(c not in _BASE64 for c in body):
            raise StructuredFieldError("invalid base64 in Byte Sequence")
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise StructuredFieldError("invalid base64 in Byte Sequence") from exc

    def boolean(self) -> bool:
        self.pos += 1  # "?"
        ch = self.take()
        if ch == "1":
            return True
        if ch == "0":
            return False
        raise StructuredFieldError("a Boolean is ?0 or ?1")

    def display_string(self) -> DisplayString:
        self.pos += 1  # "%"
        if self.take() != '"':
            raise StructuredFieldError('a Display String starts with %"')
        buf = bytearray()
        while self.pos < len(self.s):
            ch = self.take()
            if not " " <= ch <= "~":
                raise StructuredFieldError("control or non-ASCII character in Display String")
            if ch == "%":
                hexpair = self.s[self.pos : self.pos + 2]
                if len(hexpair) != 2 or any(c not in _LCHEX for c in hexpair):
                    raise StructuredFieldError("invalid percent-encoding in Display String")
                buf.append(int(hexpair, 16))
                self.pos += 2
            elif ch == '"':
                try:
                    return DisplayString(buf.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise StructuredFieldError("Display String is not UTF-8") from exc
            else:
                buf.append(ord(ch))
        raise StructuredFieldError("unterminated Display String")


def parse_sf_dictionary(value: str | bytes) -> dict[str, Member]:
    """Parse an RFC 9651 Dictionary; raise ``ValueError`` (``StructuredFieldError``) on failure.

    Leading and trailing spaces are discarded as section 4.2 says; anything
    that is not ASCII fails the parse. An empty field is an empty dictionary.
    """
    if isinstance(value, bytes):
        try:
            text = value.decode("ascii")
        except UnicodeDecodeError as exc:
            raise StructuredFieldError("structured fields are ASCII") from exc
    else:
        text = value
        if not text.isascii():
            raise StructuredFieldError("structured fields are ASCII")
    parser = _Parser(text.strip(" "))
    return parser.dictionary()


# --- aipref statements -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsagePrefs:
    """One aipref statement: explicit ``y``/``n`` per label; every other label is unknown.

    ``prefs`` holds only labels whose value is the Token ``y`` or ``n`` (known
    and unknown labels alike; ``mapping`` reads the ones it knows). ``valid``
    is false when the Dictionary failed to parse, in which case ``prefs`` is
    empty. ``raw`` is the text as given.
    """

    prefs: Mapping[str, Pref] = field(default_factory=dict)
    raw: str = ""
    valid: bool = True
    warnings: tuple[str, ...] = ()

    def get(self, label: str) -> Pref | None:
        """The explicit preference for ``label``, or None when it is unknown."""
        return self.prefs.get(label)

    def known(self) -> dict[str, Pref]:
        """Only the labels of the current and legacy vocabularies."""
        return {k: v for k, v in self.prefs.items() if k in CURRENT_LABELS or k in LEGACY_LABELS}


_UPPER_KEY = re.compile(r"(?:^|,)\s*[A-Za-z0-9_.*-]*[A-Z]")


def parse_content_usage(value: str | bytes) -> UsagePrefs:
    """Parse one ``Content-Usage`` value (a header field value or a robots.txt rule's preference).

    Never raises: a value that fails RFC 9651 parsing gives a statement with
    every preference unknown, and says why in ``warnings``.
    """
    raw = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        members = parse_sf_dictionary(value)
    except (ValueError, RecursionError) as exc:
        hint = ""
        if _UPPER_KEY.search(raw):
            hint = " (keys are lower case: an upper-case key fails the whole field)"
        return UsagePrefs(
            {},
            raw,
            False,
            (
                f"Content-Usage {raw!r} is not a valid dictionary: "
                f"{exc}{hint}; every preference is unknown",
            ),
        )
    prefs: dict[str, Pref] = {}
    warnings: list[str] = []
    for key, member in members.items():
        item = member.value if isinstance(member, Item) else None
        if isinstance(item, Token) and item.value in ("y", "n"):
            prefs[key] = Pref(item.value)
            continue
        if key in CURRENT_LABELS or key in LEGACY_LABELS:
            warnings.append(f"Content-Usage {key}: value is not the token y or n; unknown")
    if not members:
        warnings.append("empty Content-Usage statement")
    return UsagePrefs(prefs, raw, True, tuple(warnings))


def parse_content_usage_fields(values: Iterable[str | bytes]) -> UsagePrefs:
    """Parse repeated ``Content-Usage`` header lines as one field (joined with ``", "``)."""
    parts = [v.decode("latin-1") if isinstance(v, bytes) else v for v in values]
    return parse_content_usage(", ".join(parts))


def combine(statements: Iterable[UsagePrefs]) -> UsagePrefs:
    """Combine statements per label (vocab section 5.1): any ``n`` wins, then any ``y``."""
    out: dict[str, Pref] = {}
    raws: list[str] = []
    warnings: list[str] = []
    for st in statements:
        raws.append(st.raw)
        warnings.extend(st.warnings)
        for label, pref in st.prefs.items():
            if pref is Pref.DISALLOW or label not in out:
                out[label] = pref
    return UsagePrefs(out, " | ".join(raws), True, tuple(warnings))

"""Bounds on what a caller may hand Clearance: ids, counts, names, dates and URLs.

Why a module of its own: every face (CLI flags, HTTP fields, library calls)
must refuse the same out-of-range input with the same one-line ``UserError``,
*before* it reaches a database that would answer with an overflow (SQLite's
64-bit integers, PostgreSQL's 32-bit ``integer`` columns) or a job that would
choke on it later. The limits are documented in ``docs/security.md``; change
them there too.

Text that comes from a person (an owner's or a character's name) is refused
when it carries control characters (terminal escape sequences), bidirectional
overrides (text that displays differently from what it says) or unpaired
surrogates (undecodable bytes, which no database column can store). Text that
comes from *data* (a file name used as a title, an upload's name) cannot be
refused, so ``clean_data_text`` makes it storable instead.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import SplitResult, urlsplit

from clearance.core.errors import UserError

MAX_ID = 2**31 - 1
"""The largest row id: PostgreSQL's ``integer``. Ids are positive."""

MAX_COUNT = 2**31 - 1
"""The largest ``--limit`` / ``--offset``."""

MAX_NAME_CHARS = 255
"""Owner, licensee, character and actor names (the ``parties.name`` column)."""

MAX_TEXT_FIELD_CHARS = 4096
"""Titles, contract references and other free-text fields typed by a person."""

MAX_PRICE = Decimal(10) ** 12
"""The largest licence price (exclusive): a trillion units of any currency."""

MAX_PRICE_DECIMALS = 9
"""Digits after the decimal point a price may carry (a billionth of a unit)."""

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _bad_char(ch: str) -> bool:
    """Characters no name may hold: controls, line separators, surrogates, bidi overrides."""
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI_CONTROLS


def check_id(value: int, what: str = "id") -> int:
    """``value`` if it can name a row (1..MAX_ID); else a ``UserError`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise UserError(f"{what} {value!r} is out of range (1..{MAX_ID})")
    return value


def check_count(value: int, what: str, *, minimum: int = 1) -> int:
    """``value`` if it is a usable limit/offset (``minimum``..MAX_COUNT); else ``UserError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_COUNT:
        raise UserError(f"{what} {value!r} is out of range ({minimum}..{MAX_COUNT})")
    return value


def clean_name(text: str, what: str = "name") -> str:
    """A person's or party's name, stripped: 1..255 characters, none of them a control."""
    if not isinstance(text, str):
        raise UserError(f"the {what} must be text")
    bad = next((ch for ch in text if _bad_char(ch)), None)
    if bad is not None:
        raise UserError(
            f"the {what} {text!r} contains the control character {_codepoint(bad)}",
            hint="names may not hold control characters, escape sequences or bidi overrides",
        )
    clean = text.strip()
    if not clean:
        raise UserError(f"the {what} is empty")
    if len(clean) > MAX_NAME_CHARS:
        raise UserError(f"the {what} is {len(clean)} characters, over {MAX_NAME_CHARS}")
    return clean


def storable(text: str, *, limit: int = MAX_NAME_CHARS) -> bool:
    """Whether ``text`` can be stored and looked up at all: no NUL, no surrogates, not too long.

    For lookups by name: a name that fails this cannot be in the registry, so
    the answer is "not found" rather than a database error.
    """
    return (
        len(text) <= limit
        and "\x00" not in text
        and not any(unicodedata.category(ch) == "Cs" for ch in text)
    )


def clean_text_field(text: str | None, what: str) -> str | None:
    """Free text typed by a person (a title, a reference): no controls, at most 4096 chars."""
    if text is None:
        return None
    bad = next((ch for ch in text if _bad_char(ch) and ch not in "\t"), None)
    if bad is not None:
        raise UserError(f"the {what} contains the control character {_codepoint(bad)}")
    if len(text) > MAX_TEXT_FIELD_CHARS:
        raise UserError(f"the {what} is {len(text)} characters, over {MAX_TEXT_FIELD_CHARS}")
    return text


def clean_data_text(text: str, *, limit: int = MAX_TEXT_FIELD_CHARS) -> str:
    """Text that comes from data (a file name, an upload's name), made storable and printable.

    Undecodable bytes (surrogate escapes) become U+FFFD, control characters and
    bidi overrides become ``\\xNN``/``\\uNNNN`` escapes, and the result is cut
    to ``limit`` characters. Never raises: data cannot be refused for its name.
    """
    out: list[str] = []
    for ch in text:
        if unicodedata.category(ch) == "Cs":
            out.append("\ufffd")
        elif _bad_char(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    joined = "".join(out)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def split_http_url(url: str) -> SplitResult:
    """``urlsplit`` of an absolute http(s) URL with a host and a valid port, else ``UserError``.

    ``urlsplit`` itself raises ``ValueError`` on ``https://[::1`` and leaves a
    bad port (``:99999``) to blow up later, when ``.port`` is read; both are
    one clear user error here.
    """
    if not isinstance(url, str):
        raise UserError("a URL must be text")
    text = url.strip()
    if any(_bad_char(ch) for ch in text):
        raise UserError(f"not a valid URL (control characters): {url!r}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535
    except ValueError as exc:
        raise UserError(f"not a valid URL ({exc}): {url!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UserError(f"not an http(s) URL: {url!r}")
    return parts


def utc_datetime(value: datetime, what: str = "date") -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC); ``UserError`` if out of range."""
    try:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except OverflowError:
        raise UserError(f"the {what} {value.isoformat()} is out of range") from None


__all__ = [
    "MAX_COUNT",
    "MAX_ID",
    "MAX_NAME_CHARS",
    "MAX_PRICE",
    "MAX_PRICE_DECIMALS",
    "MAX_TEXT_FIELD_CHARS",
    "check_count",
    "check_id",
    "clean_data_text",
    "clean_name",
    "clean_text_field",
    "split_http_url",
    "storable",
    "utc_datetime",
]

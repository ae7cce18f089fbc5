"""Parsing what a user names on ``works add``: a file, a folder, or a bare identifier.

A work can be registered without any file, for creators with a site but no
files at hand: ``https://example.com/a.jpg`` (one URL), ``https://example.com/art/*``
(every URL under a prefix), ``domain:example.com`` (a whole site and its
subdomains), ``isbn:…``, ``isrc:…`` and ``iscc:…``. Identifiers are validated
and normalised here so the same work is always stored under the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlunsplit

from clearance.core.errors import InputNotFound, UserError
from clearance.core.models import Identifier, IdentifierScheme
from clearance.core.validation import split_http_url

_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$")
_ISCC = re.compile(r"^ISCC:[A-Z2-7]{10,}$")


@dataclass(frozen=True, slots=True)
class Target:
    """One thing named on the command line: a path to fingerprint, or an identifier."""

    path: Path | None = None
    identifier: Identifier | None = None


def _host(text: str) -> str:
    host = text.strip().lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UserError(f"invalid host name {text!r}") from None
    if not _HOST.match(host):
        raise UserError(f"invalid host name {text!r}")
    return host


_PLAIN_URL = re.compile(
    r"(?i:(https?))://([A-Za-z0-9.-]+)(?::([0-9]{0,5}))?"
    r"(/[!\"$-\x3e@-~]*)?(?:\?([!\"$-~]*))?(?:#[!-~]*)?"
)
"""A plain ASCII http(s) URL without user info, brackets or odd characters: the common case,
normalised without ``urlsplit`` and IDNA (``normalise_url`` falls back to them for the rest)."""


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports and the fragment.

    Plain ASCII URLs (nearly all of them) take a fast path that gives the same
    answer as the general one (a property test holds the two together); the
    bulk query normalises tens of thousands a second.
    """
    if isinstance(url, str):
        text = url.strip()
        plain = _PLAIN_URL.fullmatch(text)
        if plain is not None:
            scheme, host, port, path, query = plain.groups()
            host = host.lower().rstrip(".")
            if _HOST.match(host) and (not port or int(port) <= 65535):
                scheme = scheme.lower()
                number = int(port) if port else None
                if number and number != (80 if scheme == "http" else 443):
                    host = f"{host}:{number}"
                return f"{scheme}://{host}{path or '/'}" + (f"?{query}" if query else "")
    return _normalise_url(url)


def _normalise_url(url: str) -> str:
    """The general case of ``normalise_url``: ``urlsplit``, IDNA, every check."""
    parts = split_http_url(url)
    assert parts.hostname is not None  # split_http_url checked it
    host = _host(parts.hostname)
    port = (
        parts.port
        if parts.port not in (None, 80 if parts.scheme.lower() == "http" else 443)
        else None
    )
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def normalise_isbn(text: str) -> str:
    """Validate an ISBN-10 or ISBN-13 checksum and return the ISBN-13 digits."""
    digits = re.sub(r"[\s-]", "", text).upper()
    if re.fullmatch(r"[0-9]{9}[0-9X]", digits):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(digits))
        if total % 11:
            raise UserError(f"invalid ISBN-10 checksum: {text!r}")
        core = "978" + digits[:9]
        check = (10 - sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(core)) % 10) % 10
        return core + str(check)
    if re.fullmatch(r"[0-9]{13}", digits):
        if sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(digits)) % 10:
            raise UserError(f"invalid ISBN-13 checksum: {text!r}")
        return digits
    raise UserError(f"not an ISBN: {text!r}")


def parse_identifier(text: str) -> Identifier:
    """Parse ``scheme:value`` or an http(s) URL (``*`` at the end makes a prefix)."""
    raw = text.strip()
    lower = raw.lower()
    if lower.startswith(("http://", "https://")):
        if raw.endswith("*"):
            return Identifier(IdentifierScheme.URL_PREFIX, normalise_url(raw[:-1]))
        return Identifier(IdentifierScheme.URL, normalise_url(raw))
    scheme, sep, value = raw.partition(":")
    if not sep:
        raise UserError(f"not an identifier: {text!r}")
    scheme = scheme.lower()
    if scheme == "domain":
        return Identifier(IdentifierScheme.DOMAIN, _host(value))
    if scheme == "isbn":
        return Identifier(IdentifierScheme.ISBN, normalise_isbn(value))
    if scheme == "isrc":
        code = re.sub(r"[\s-]", "", value).upper()
        if not _ISRC.match(code):
            raise UserError(f"not an ISRC (CC-XXX-YY-NNNNN): {value!r}")
        return Identifier(IdentifierScheme.ISRC, code)
    if scheme == "iscc":
        code = "ISCC:" + value.strip().upper().removeprefix("ISCC:")
        if not _ISCC.match(code):
            raise UserError(f"not an ISCC code: {value!r}")
        return Identifier(IdentifierScheme.ISCC, code)
    if scheme == "sha256":
        digest = value.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise UserError(f"not a SHA-256 hex digest: {value!r}")
        return Identifier(IdentifierScheme.SHA256, digest)
    raise UserError(
        f"unknown identifier scheme {scheme!r}",
        hint="use a URL, URL*, domain:, isbn:, isrc:, iscc: or sha256:",
    )


_ID_PREFIXES = ("http://", "https://", "domain:", "isbn:", "isrc:", "iscc:", "sha256:")


TARGET_KINDS = ("url", "prefix", "domain", "identifier")


def target_text(kind: str, value: str) -> str:
    """What a form names (one page's ``url``, a URL ``prefix``, a ``domain`` or another
    ``identifier``) as the text ``parse_identifier`` reads: the HTTP API's and the web
    app's one rule."""
    value = value.strip()
    if not value:
        raise UserError(f"give the {kind} to register" if kind in TARGET_KINDS else "give a target")
    if kind == "url":
        if value.endswith("*"):
            raise UserError("a url is one page; register a URL pattern as a prefix")
        return value
    if kind == "prefix":
        return value if value.endswith("*") else value + "*"
    if kind == "domain":
        return "domain:" + value.removeprefix("domain:").strip("/")
    if kind == "identifier":
        return value
    raise UserError(
        f"unknown kind of target {kind[:20]!r}", hint="url, prefix, domain or identifier"
    )


def parse_target(text: str) -> Target:
    """A path that exists, else an identifier; a missing path is a user error."""
    if text.lower().startswith(_ID_PREFIXES):
        return Target(identifier=parse_identifier(text))
    path = Path(text).expanduser()
    if not path.exists():
        raise InputNotFound(f"no such file or directory: {text}")
    if not (path.is_file() or path.is_dir()):  # a FIFO would hang, /dev/zero never end
        raise UserError(f"not a regular file or folder: {text}")
    return Target(path=path)

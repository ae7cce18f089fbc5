"""Shared shapes for the signal parsers: decoding policy files and collecting warnings.

Every parser returns a frozen result with a ``warnings`` tuple, so callers can
show what was odd about a file without the parser ever raising.
"""

from __future__ import annotations

from urllib.parse import urljoin

MAX_POLICY_BYTES = 500 * 1024
"""RFC 9309 asks parsers to read at least 500 KiB; we read exactly that much of any policy file."""


def decode_text(data: bytes | str, *, limit: int = MAX_POLICY_BYTES) -> tuple[str, list[str]]:
    """Decode a policy file leniently: UTF-8 (with BOM), else Latin-1, truncated to ``limit`` bytes.

    Returns the text and the warnings raised on the way (truncation, bad encoding).
    """
    warnings: list[str] = []
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > limit:
        warnings.append(f"truncated to the first {limit} bytes of {len(raw)}")
        raw = raw[:limit]
        # Never cut a UTF-8 sequence in half: drop an incomplete trailing character.
        for cut in range(1, 4):
            if len(raw) >= cut and (raw[-cut] & 0xC0) == 0xC0:
                if (raw[-cut] >= 0xF0 and cut < 4) or (raw[-cut] >= 0xE0 and cut < 3) or cut < 2:
                    raw = raw[:-cut]
                break
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), warnings
    except UnicodeDecodeError:
        warnings.append("not valid UTF-8; decoded as Latin-1")
        return raw.decode("latin-1"), warnings


def join_url(base: str | None, href: str) -> str | None:
    """``href`` resolved against ``base`` (as is without one); ``None`` when either is unparsable.

    ``urljoin`` raises on a malformed authority such as ``http://[x/``; a parser
    skips such a link rather than stop reading the rest of the file.
    """
    if not base:
        return href
    try:
        return urljoin(base, href)
    except ValueError:
        return None

"""Canonical bytes for JSON that is hashed or signed, and strict reading of JSON evidence.

A signature over JSON is only checkable by someone else if both sides turn the
same document into the same bytes. We use RFC 8785 (JSON Canonicalization
Scheme: sorted keys, no whitespace, ECMAScript number formatting, UTF-8) via
the ``rfc8785`` package rather than ``json.dumps(sort_keys=True)``, whose
float formatting and key order are Python's, not a standard.

Reading is strict where Python's ``json`` is lenient in ways an attacker can
use: a duplicated key (two parsers may keep different values), ``NaN`` and
``Infinity`` (not JSON) and invalid UTF-8 are all refused as malformed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

import rfc8785

from clearance.core.errors import InputNotFound
from clearance.core.files import read_regular
from clearance.evidence.errors import MalformedEvidence


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; a value JCS cannot represent is malformed evidence.

    Values without floats, with integers within ±2**53 and keys below U+D800 (every
    document Clearance signs) take ``json.dumps``'s C encoder, whose output is then
    byte for byte RFC 8785's: keys sorted alike (code points and UTF-16 units agree
    below U+D800), the same string escapes (the short forms, ``\\u00xx`` for other
    controls, nothing else), integers as digits. Anything else goes to ``rfc8785``.
    A property test holds the two to each other.
    """
    if _plain(value):
        try:
            return json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JCS's own rules (an error) apply
            pass
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MalformedEvidence(f"cannot canonicalise JSON: {exc}") from None


_MAX_EXACT = 2**53


def _plain(value: Any) -> bool:
    """Whether ``json.dumps`` writes ``value`` exactly as RFC 8785 does (see ``canonical_json``)."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, int):
        return -_MAX_EXACT < value < _MAX_EXACT
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and max(k, default="") < "\ud800" and _plain(v)
            for k, v in value.items()
        )
    return False


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_json(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes | str, what: str) -> Any:
    """Parse ``data`` strictly; ``what`` names it in the error (e.g. ``manifest.json``)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvidence(f"{what} is not valid JSON: {exc}") from None


MAX_JSON_FILE = 256 * 1024 * 1024
"""The largest manifest or proof file read."""


def read_json(path: Path, what: str | None = None) -> Any:
    """Read and strictly parse the JSON file at ``path``."""
    label = what or str(path)
    try:
        data = read_regular(path, MAX_JSON_FILE)
    except FileNotFoundError:
        raise InputNotFound(f"{label} does not exist") from None
    except IsADirectoryError:
        raise MalformedEvidence(f"{label} is a directory, not a JSON file") from None
    except OSError as exc:
        raise MalformedEvidence(f"cannot read {label}: {exc}") from None
    return parse_json(data, label)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, what: str) -> bytes:
    """Strict standard base64 (padding required, no stray characters)."""
    if not isinstance(text, str):
        raise MalformedEvidence(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedEvidence(f"{what} is not valid base64") from None


def hex32(text: object, what: str) -> bytes:
    """A 32-byte digest written as 64 lower- or upper-case hex digits."""
    if not isinstance(text, str) or len(text) != 64:
        raise MalformedEvidence(f"{what} must be 64 hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedEvidence(f"{what} must be 64 hex digits") from None

"""The signed root statement that makes a scan's manifest evidence for a third party.

``manifest.json`` gains an ``attestation`` object::

    {"statement": {...},                 the small document that is signed
     "signature": {...} | null,          Ed25519 over the statement's RFC 8785 bytes
     "fields": {"/config": hex, ...}}    a digest per manifest field, for naming edits

The statement commits to the run's Merkle root, its size, the run's purpose,
mode and registry state, the SHA-256 of the whole manifest (without the
attestation) and the SHA-256 of ``fields``. So one signature covers every
byte of the manifest, while a proof for a rights holder needs to carry only
the statement and the signature (a few hundred bytes), never the manifest.

``fields`` holds the digest of every top-level manifest field and of each
member of a top-level object with at most ``FIELD_DETAIL_MAX`` members, keyed
by JSON Pointer (RFC 6901). It is what lets ``verify`` say *which* field was
edited (``/config/mode``) rather than just "the manifest changed"; it is
trusted only when its own digest matches the statement.

Without a key the statement is written unsigned: it still catches accidents,
but anyone who can edit the manifest can rewrite it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from clearance.evidence import keys
from clearance.evidence.canonical import b64decode, b64encode, canonical_json, digest_json, hex32
from clearance.evidence.errors import MalformedEvidence

STATEMENT_FORMAT = "clearance.root-statement"
STATEMENT_VERSION = 1
ATTESTATION = "attestation"
FIELD_DETAIL_MAX = 32


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def manifest_body(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest without its attestation: what the statement's digest covers."""
    return {k: v for k, v in manifest.items() if k != ATTESTATION}


def field_digests(body: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in body.items():
        out[_pointer(key)] = digest_json(value)
        if isinstance(value, dict) and len(value) <= FIELD_DETAIL_MAX:
            for sub, v in value.items():
                out[_pointer(key, sub)] = digest_json(v)
    return dict(sorted(out.items()))


def make_statement(body: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    merkle = body.get("merkle")
    if not isinstance(merkle, dict):
        raise MalformedEvidence("the manifest has no merkle section to attest")
    raw_config = body.get("config")
    config: Mapping[str, Any] = raw_config if isinstance(raw_config, dict) else {}
    return {
        "format": STATEMENT_FORMAT,
        "format_version": STATEMENT_VERSION,
        "run_root": merkle.get("root"),
        "items": merkle.get("items"),
        "shards": len(merkle.get("shards") or []),
        "purpose": config.get("purpose"),
        "mode": config.get("mode"),
        "registry_state": body.get("registry_state"),
        "manifest_sha256": digest_json(dict(body)),
        "fields_sha256": digest_json(dict(fields)),
    }


def sign_statement(statement: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    public = key.public_key()
    return {
        "alg": keys.ALGORITHM,
        "public_key": keys.public_b64(public),
        "key_id": keys.key_id(public),
        "value": b64encode(keys.sign(key, canonical_json(dict(statement)))),
    }


def attest(manifest: Mapping[str, Any], key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """``manifest`` with its ``attestation`` (signed when ``key`` is given)."""
    body = manifest_body(manifest)
    fields = field_digests(body)
    statement = make_statement(body, fields)
    signature = sign_statement(statement, key) if key is not None else None
    return {
        **body,
        ATTESTATION: {"statement": statement, "signature": signature, "fields": fields},
    }


@dataclass(frozen=True, slots=True)
class SignedRoot:
    """A statement and its signature, checked for shape (not yet for validity)."""

    statement: dict[str, Any]
    signature: dict[str, Any] | None

    @property
    def run_root(self) -> bytes:
        return hex32(self.statement.get("run_root"), "statement run_root")

    @property
    def key_id(self) -> str | None:
        return None if self.signature is None else str(self.signature.get("key_id"))

    def public_key(self) -> Ed25519PublicKey | None:
        if self.signature is None:
            return None
        raw = b64decode(self.signature.get("public_key"), "signature public_key")
        return keys.public_from_raw(raw, "signature public_key")

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is ``key``'s over the statement."""
        if self.signature is None:
            return False
        value = b64decode(self.signature.get("value"), "signature value")
        return keys.check(key, value, canonical_json(self.statement))

    def to_dict(self) -> dict[str, Any]:
        return {"statement": self.statement, "signature": self.signature}


def signed_root(doc: object, what: str) -> SignedRoot:
    """Read ``{"statement", "signature"}`` (an attestation, or a proof's ``root``) strictly."""
    if not isinstance(doc, dict):
        raise MalformedEvidence(f"{what} must be an object")
    statement, signature = doc.get("statement"), doc.get("signature")
    if not isinstance(statement, dict):
        raise MalformedEvidence(f"{what} has no statement")
    if statement.get("format") != STATEMENT_FORMAT:
        raise MalformedEvidence(f"{what} statement is not a {STATEMENT_FORMAT}")
    if statement.get("format_version") != STATEMENT_VERSION:
        raise MalformedEvidence(
            f"{what} statement has format_version {statement.get('format_version')!r}; "
            f"this Clearance reads {STATEMENT_VERSION}"
        )
    hex32(statement.get("run_root"), f"{what} run_root")
    if signature is not None:
        if not isinstance(signature, dict):
            raise MalformedEvidence(f"{what} signature must be an object or null")
        if signature.get("alg") != keys.ALGORITHM:
            raise MalformedEvidence(
                f"{what} signature algorithm {signature.get('alg')!r} is not {keys.ALGORITHM}"
            )
        b64decode(signature.get("value"), f"{what} signature value")
        b64decode(signature.get("public_key"), f"{what} signature public_key")
    return SignedRoot(statement, signature)

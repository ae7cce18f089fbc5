"""Ed25519 keys: generate a pair, load them, sign and check.

Why Ed25519 (via ``cryptography``): small keys and signatures, deterministic
signing (no nonce to get wrong), and verifiers in every language. A private key
is stored as unencrypted PKCS#8 PEM with mode 0600 (protect the file, or keep
it in a secrets manager and write it out only for the run); a public key as
SubjectPublicKeyInfo PEM. Manifests and proofs carry the raw 32-byte public
key in base64, and its *key id*: the first 16 hex digits of its SHA-256.

``--pubkey`` accepts a PEM public key file or a file holding that base64 line,
so the key can be copied out of a manifest or a web page as it is.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from clearance.core.errors import InputNotFound, UserError
from clearance.core.files import atomic_write_bytes, read_regular
from clearance.evidence.canonical import b64decode, b64encode
from clearance.evidence.errors import MalformedEvidence

ALGORITHM = "Ed25519"
PUBLIC_SUFFIX = ".pub"
_MAX_KEY_FILE = 64 * 1024


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_b64(key: Ed25519PublicKey) -> str:
    return b64encode(raw_public(key))


def key_id(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def generate_keypair(out: str | os.PathLike[str], *, force: bool = False) -> tuple[Path, Path]:
    """Write a new private key to ``out`` (mode 0600) and its public key to ``out.pub``.

    Refuses to overwrite either file unless ``force``: losing a signing key by
    accident is worse than an extra flag.
    """
    private = Path(out)
    public = private.with_name(private.name + PUBLIC_SUFFIX)
    if private.is_dir():
        raise UserError(f"{private} is a directory", hint="give a file name for the private key")
    if not private.parent.is_dir():
        raise InputNotFound(f"directory {private.parent} does not exist")
    for path in (private, public):
        if path.exists() and not force:
            raise UserError(f"{path} exists", hint="choose another name, or pass --force")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tmp = private.with_name(f".{private.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, private)
        atomic_write_bytes(public, pub_pem)
    except OSError as exc:  # a read-only or pseudo file system (/proc), no permission
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"cannot write the key to {private}: {exc.strerror or exc}") from None
    return private, public


def _read_key_file(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    try:
        return read_regular(p, _MAX_KEY_FILE)
    except FileNotFoundError:
        raise InputNotFound(f"{what} {p} does not exist") from None
    except IsADirectoryError:
        raise MalformedEvidence(f"{what} {p} is a directory, not a key file") from None
    except OSError as exc:
        raise MalformedEvidence(f"cannot read {what} {p}: {exc}") from None


def load_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path`` (as ``clearance keys generate`` wrote)."""
    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise MalformedEvidence(
            f"signing key {path} is encrypted", hint="give an unencrypted PKCS#8 PEM key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise MalformedEvidence(
            f"signing key {path} is not a PEM private key",
            hint="create one with: clearance keys generate --out KEY",
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedEvidence(f"signing key {path} is not an Ed25519 key")
    return key


def parse_public_key(data: bytes, what: str) -> Ed25519PublicKey:
    """A public key from PEM bytes or from a base64 line of the raw 32-byte key."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text)
        except (ValueError, UnsupportedAlgorithm):
            raise MalformedEvidence(f"{what} is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise MalformedEvidence(f"{what} is not an Ed25519 public key")
        return key
    try:
        raw = b64decode(text.decode("ascii"), what)
    except UnicodeDecodeError:
        raise MalformedEvidence(f"{what} is neither PEM nor base64") from None
    return public_from_raw(raw, what)


def public_from_raw(raw: bytes, what: str) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise MalformedEvidence(f"{what} must be a 32-byte Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The public key in the file ``path`` (PEM, or one base64 line of the raw key)."""
    return parse_public_key(_read_key_file(path, "public key"), f"public key {path}")


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    return key.sign(message)


def check(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s over ``message``."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True

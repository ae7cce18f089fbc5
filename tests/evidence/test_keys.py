"""Key files: generated safely, and every malformed key is a clear user error."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clearance.core.errors import InputNotFound, UserError
from clearance.evidence import (
    MalformedEvidence,
    generate_keypair,
    keys,
    load_public_key,
    load_signing_key,
)
from clearance.scan import scan
from tests.evidence.conftest import dataset


def test_generate_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "k")
    assert public == tmp_path / "k.pub"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    key = load_signing_key(private)
    assert keys.raw_public(key.public_key()) == keys.raw_public(load_public_key(public))
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(UserError, match="exists"):
        generate_keypair(tmp_path / "k")
    again, _ = generate_keypair(tmp_path / "k", force=True)
    assert keys.raw_public(load_signing_key(again).public_key()) != keys.raw_public(
        key.public_key()
    )
    with pytest.raises(InputNotFound):
        generate_keypair(tmp_path / "no" / "such" / "k")


def test_a_public_key_as_a_base64_line(tmp_path: Path) -> None:
    _, public = generate_keypair(tmp_path / "k")
    line = tmp_path / "k.b64"
    line.write_text(keys.public_b64(load_public_key(public)) + "\n", encoding="ascii")
    assert keys.raw_public(load_public_key(line)) == keys.raw_public(load_public_key(public))


def test_malformed_keys(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01 not a key")
    with pytest.raises(MalformedEvidence, match="not a PEM private key"):
        load_signing_key(garbage)
    with pytest.raises(MalformedEvidence, match="base64"):
        load_public_key(garbage)
    with pytest.raises(InputNotFound):
        load_signing_key(tmp_path / "missing")
    with pytest.raises(MalformedEvidence, match="directory"):
        load_signing_key(tmp_path)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    other = tmp_path / "ec.pem"
    other.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(MalformedEvidence, match="not an Ed25519 key"):
        load_signing_key(other)
    ec_pub = tmp_path / "ec.pub"
    ec_pub.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(MalformedEvidence, match="not an Ed25519 public key"):
        load_public_key(ec_pub)
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        load_signing_key(generate_keypair(tmp_path / "e")[0]).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(MalformedEvidence, match="encrypted"):
        load_signing_key(encrypted)
    short = tmp_path / "short.b64"
    short.write_text("AAAA", encoding="ascii")
    with pytest.raises(MalformedEvidence, match="32-byte"):
        load_public_key(short)


def test_a_bad_sign_key_stops_the_scan_before_any_work(tmp_path: Path, registry: str) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("nope", encoding="ascii")
    out = tmp_path / "out"
    with pytest.raises(MalformedEvidence):
        scan(dataset(tmp_path / "d.jsonl", 5), out, registry=registry, web="off", sign_key=bad)
    assert not out.exists()

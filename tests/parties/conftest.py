"""Shared helpers for the parties tests: an Ed25519 key pair and a loopback site that
publishes a domain verification file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearance.evidence.keys import generate_keypair, load_signing_key
from clearance.registry.parties import WELL_KNOWN
from tests.localsite import LocalSite, serve


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One private key file and its ``.pub`` (generated once: tests only read them)."""
    return generate_keypair(tmp_path_factory.mktemp("keys") / "ann.key")


@pytest.fixture(scope="session")
def signing_key(keypair: tuple[Path, Path]) -> Ed25519PrivateKey:
    return load_signing_key(keypair[0])


@pytest.fixture
def site() -> Iterator[LocalSite]:
    """A loopback site; set ``site.routes[WELL_KNOWN]`` to publish a verification file."""
    with serve(LocalSite()) as running:
        yield running


def publish(site: LocalSite, body: str, status: int = 200) -> None:
    site.routes[WELL_KNOWN] = (status, {"Content-Type": "text/plain"}, body.encode())


def domain_of(site: LocalSite) -> str:
    return f"{site.host}:{site.port}"

"""A creator's verified identity over HTTP: a domain verified on a loopback site through the
guarded fetcher, a signing key bound with its proof (made by the commands the page shows),
and every bad input answered inline with a 4xx, never a 500."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearance.evidence import keys as ed25519
from clearance.registry import open_store
from clearance.registry.parties import get_party, key_proof_message
from tests.localsite import LocalSite, serve
from tests.web.conftest import Site, form_token, new_client, served_site, sign_up

WELL_KNOWN = "/.well-known/clearance-verification.txt"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def private_site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A site whose server may fetch loopback addresses (``allow_private``), as tests need."""
    yield from served_site(request.param, tmp_path_factory, allow_private=True)


def _challenge(html: str) -> str:
    found = re.search(r'<pre tabindex="0" class="token">([^<]+)</pre>', html)
    assert found is not None, "the page shows no line to publish"
    return unescape(found.group(1))


def test_a_creator_verifies_a_domain_on_a_loopback_site(private_site: Site) -> None:
    client = new_client(private_site)
    sign_up(client, "lena@example.com", "Lena Prints", "creator")
    page = client.get("/creator/identity")
    assert page.status_code == 200 and 'data-level="self"' in page.text
    assert 'data-level="self"' in client.get("/creator").text
    with serve(LocalSite()) as local:
        domain = f"127.0.0.1:{local.port}"
        token = form_token(client, "/creator/identity")
        answer = client.post("/creator/identity/domain", data={"csrf": token, "domain": domain})
        assert answer.status_code == 200
        line = _challenge(answer.text)
        assert line.startswith("clearance-verification=")
        assert f"http://{domain}{WELL_KNOWN}" in answer.text
        # asked again: the same line, not a new one
        again = client.post("/creator/identity/domain", data={"csrf": token, "domain": domain})
        assert _challenge(again.text) == line
        # not published yet: the site answers 404, an inline error
        early = client.post(
            "/creator/identity/domain/confirm", data={"csrf": token, "domain": domain}
        )
        assert early.status_code == 422 and 'role="alert"' in early.text
        assert "answered HTTP 404" in early.text
        assert "Waiting for a check" in early.text  # the pending domain is listed
        local.routes[WELL_KNOWN] = (200, {"Content-Type": "text/plain"}, b"# ours\nnope\n")
        wrong = client.post(
            "/creator/identity/domain/confirm", data={"csrf": token, "domain": domain}
        )
        assert wrong.status_code == 422 and "does not hold the token" in wrong.text
        local.routes[WELL_KNOWN] = (200, {"Content-Type": "text/plain"}, line.encode() + b"\n")
        done = client.post(
            "/creator/identity/domain/confirm", data={"csrf": token, "domain": domain}
        )
        assert done.status_code == 303 and done.headers["location"] == "/creator/identity"
        assert local.count(WELL_KNOWN) == 3
    page = client.get("/creator/identity")
    assert "verified. Your level: domain." in page.text and 'data-level="domain"' in page.text
    assert 'data-level="domain"' in client.get("/creator").text
    with open_store(private_site.settings.registry) as store:
        info = get_party(store, "Lena Prints")
    assert info.party.verification.value == "domain"
    assert [(i.value, i.verified_by) for i in info.identities] == [(domain, "Lena Prints")]


def test_domain_bad_input_is_inline(private_site: Site) -> None:
    client = new_client(private_site)
    sign_up(client, "odd@example.com", "Odd Domains", "creator")
    token = form_token(client, "/creator/identity")
    cases = [
        ("/creator/identity/domain", "", 400, "enter the domain"),
        ("/creator/identity/domain", "not a domain!", 400, "is not a domain name"),
        ("/creator/identity/domain", "x" * 400, 400, "is not a domain name"),
        ("/creator/identity/domain/confirm", "", 400, "enter the domain"),
        ("/creator/identity/domain/confirm", "never.example", 409, "no token was issued"),
    ]
    for path, domain, status, message in cases:
        answer = client.post(path, data={"csrf": token, "domain": domain})
        assert answer.status_code == status, (path, domain, answer.status_code)
        assert message in answer.text and 'role="alert"' in answer.text
        assert 'aria-invalid="true"' in answer.text
    # a site that cannot be reached: 502 inline (a closed port on loopback)
    with serve(LocalSite()) as local:
        closed = f"127.0.0.1:{local.port}"
    client.post("/creator/identity/domain", data={"csrf": token, "domain": closed})
    gone = client.post("/creator/identity/domain/confirm", data={"csrf": token, "domain": closed})
    assert gone.status_code == 502 and "cannot read" in gone.text


def test_without_allow_private_a_loopback_domain_is_refused(site: Site) -> None:
    # without allow_private the guarded fetcher refuses a loopback address: 403, inline
    strict = new_client(site)
    sign_up(strict, "strict@example.com", "Strict Host", "creator")
    token = form_token(strict, "/creator/identity")
    with serve(LocalSite()) as local:
        domain = f"127.0.0.1:{local.port}"
        strict.post("/creator/identity/domain", data={"csrf": token, "domain": domain})
        blocked = strict.post(
            "/creator/identity/domain/confirm", data={"csrf": token, "domain": domain}
        )
        assert local.requests == []
    assert blocked.status_code == 403 and "allow-private" in blocked.text


def test_a_creator_binds_a_key_with_the_proof_the_page_explains(
    private_site: Site, tmp_path: Path
) -> None:
    client = new_client(private_site)
    sign_up(client, "kai@example.com", "Kai O'Neil", "creator")
    page = client.get("/creator/identity")
    assert "openssl pkeyutl -sign" in page.text
    private_path, public_path = ed25519.generate_keypair(tmp_path / "my.key")
    public = ed25519.load_public_key(public_path)
    b64 = ed25519.public_b64(public)
    token = form_token(client, "/creator/identity")
    bad = [
        ({"public_key": "", "proof": "x"}, 400, "paste your public key"),
        ({"public_key": "not a key", "proof": "x"}, 422, "public_key"),
        ({"public_key": b64, "proof": ""}, 400, "paste the proof"),
        ({"public_key": b64, "proof": "!!"}, 422, "proof"),
        ({"public_key": b64, "proof": "AAAA"}, 400, "base64 Ed25519 signature"),
    ]
    other = ed25519.sign(ed25519.load_signing_key(private_path), b"something else")
    bad.append(({"public_key": b64, "proof": ed25519.b64encode(other)}, 400, "not this key's"))
    for fields, status, message in bad:
        answer = client.post("/creator/identity/key", data={"csrf": token, **fields})
        assert answer.status_code == status, (fields, answer.status_code, answer.text[-500:])
        assert message in unescape(answer.text) and 'role="alert"' in answer.text
    # after a wrong proof the commands carry the pasted key, ready to run
    commands = re.search(r"<pre tabindex=\"0\" data-commands>(.*?)</pre>", answer.text, re.S)
    assert commands is not None
    lines = unescape(commands.group(1)).strip().splitlines()
    assert b64 in lines[1]
    if shutil.which("openssl") is None:
        proof = ed25519.b64encode(
            ed25519.sign(
                ed25519.load_signing_key(private_path), key_proof_message("Kai O'Neil", public)
            )
        )
    else:  # the page's own commands make the proof
        script = "\n".join(lines[1:])
        proof = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout.strip()
    done = client.post(
        "/creator/identity/key",
        data={"csrf": token, "public_key": public_path.read_text(), "proof": proof},
    )
    assert done.status_code == 303, done.text[-800:]
    page = client.get("/creator/identity")
    assert f"Key {ed25519.key_id(public)} bound. Your level: key." in unescape(page.text)


def test_identity_forms_need_their_token(private_site: Site) -> None:
    client = new_client(private_site)
    sign_up(client, "tok@example.com", "Token Less", "creator")
    for path, data in (
        ("/creator/identity/domain", {"domain": "example.org"}),
        ("/creator/identity/domain/confirm", {"domain": "example.org"}),
        ("/creator/identity/key", {"public_key": "x", "proof": "y"}),
    ):
        for extra in ({}, {"csrf": "forged"}):
            answer = client.post(path, data={**data, **extra})
            assert answer.status_code == 403, path
    dev = new_client(private_site)
    sign_up(dev, "devid@example.com", "Dev Identity", "developer")
    assert dev.get("/creator/identity").status_code == 403
    anon: TestClient = new_client(private_site)
    assert anon.get("/creator/identity").headers["location"] == "/signin?next=/creator/identity"

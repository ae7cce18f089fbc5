"""An admin's disputes and verification requests over HTTP: both sides with their levels,
resolving with a reason (audited with the admin's party as the actor), the operator's
verification, and every bad input inline with a 4xx, never a 500."""

from __future__ import annotations

from html import unescape

from fastapi.testclient import TestClient

from clearance.registry import open_store
from clearance.registry.accounts import create_account
from clearance.registry.parties import get_party
from tests.web.conftest import Site, form_token, new_client, sign_up


def _admin(site: Site, email: str, party: str) -> TestClient:
    with open_store(site.settings.registry) as store:
        create_account(store, email, "operator passphrase", party=party, role="admin")
    client = new_client(site)
    token = form_token(client, "/signin")
    answer = client.post(
        "/signin", data={"csrf": token, "email": email, "password": "operator passphrase"}
    )
    assert answer.status_code == 303
    return client


def _register_url(client: TestClient, url: str) -> None:
    token = form_token(client, "/creator")
    answer = client.post(
        "/creator/works/identifier",
        data={"csrf": token, "kind": "url", "value": url, "title": "Harbour at dusk"},
    )
    assert answer.status_code == 303, answer.text[-500:]


def test_an_admin_resolves_a_dispute_with_both_sides_shown(site: Site) -> None:
    first, second = new_client(site), new_client(site)
    sign_up(first, "rosa@example.com", "Rosa Photo", "creator")
    sign_up(second, "zed@example.com", "Zed Copies", "creator")
    url = "https://rosa.example/harbour.jpg"
    _register_url(first, url)
    _register_url(second, url)  # the same URL: a disputed claim on Rosa's work
    with open_store(site.settings.registry) as store:
        work = store.list_works(owner="Rosa Photo")[0]
    assert work.disputed
    # the creator sees the other claim, with its level, on the works list and the work page
    listed = first.get("/creator").text
    assert "Zed Copies (disputed)" in listed and "disputed" in listed
    assert "Zed Copies: disputed, claimant" in first.get(f"/creator/works/{work.id}").text
    # and the newcomer sees their claim on a work Rosa holds, with both levels
    theirs = second.get("/creator").text
    assert "Your claims on works another party holds" in theirs and "Rosa Photo" in theirs

    admin = _admin(site, "ops-d@example.com", "Ops Desk")
    home = admin.get("/admin").text
    assert 'href="/admin/disputes"' in home and "data-pending" not in home
    listing = admin.get("/admin/disputes")
    assert listing.status_code == 200 and f"Dispute {work.id}" in listing.text
    shown = admin.get(f"/admin/disputes/{work.id}")
    assert shown.status_code == 200
    for party in ("Rosa Photo", "Zed Copies"):
        assert f'data-claim="{party}"' in shown.text
    assert shown.text.count('class="level level-self"') >= 2

    token = form_token(admin, f"/admin/disputes/{work.id}")
    path = f"/admin/disputes/{work.id}/resolve"
    cases = [
        ({"keep": "", "reason": "first"}, 400, "choose the claim to keep"),
        ({"keep": "Rosa Photo", "reason": ""}, 400, "say why"),
        ({"keep": "Nobody", "reason": "x"}, 400, "holds no open claim"),
        ({"keep": "Rosa\x00", "reason": "x"}, 400, "party"),
    ]
    for fields, status, message in cases:
        answer = admin.post(path, data={"csrf": token, **fields})
        assert answer.status_code == status, (fields, answer.status_code)
        assert message in unescape(answer.text) and 'role="alert"' in answer.text
    assert admin.post(path, data={"keep": "Rosa Photo", "reason": "x"}).status_code == 403
    assert (
        admin.post(
            "/admin/disputes/999999/resolve", data={"csrf": token, "keep": "A", "reason": "x"}
        ).status_code
        == 404
    )
    assert admin.get("/admin/disputes/abc").status_code == 400
    # a creator cannot resolve
    assert (
        first.post(path, data={"csrf": token, "keep": "Rosa Photo", "reason": "x"}).status_code
        == 403
    )

    done = admin.post(
        path, data={"csrf": token, "keep": "Rosa Photo", "reason": "her original, dated 2019"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/admin/disputes/{work.id}"
    after = admin.get(f"/admin/disputes/{work.id}").text
    assert "Rosa Photo keeps the work" in after and "her original, dated 2019" in after
    assert "resolved" in after and "Resolve dispute" not in after
    assert f"Dispute {work.id}" not in admin.get("/admin/disputes").text
    assert f"Dispute {work.id}" in admin.get("/admin/disputes?resolved=1").text
    assert "rejected" in second.get("/creator").text  # Zed's claim, now rejected
    again = admin.post(path, data={"csrf": token, "keep": "Rosa Photo", "reason": "again"})
    assert again.status_code == 400 and "is not disputed" in again.text
    with open_store(site.settings.registry) as store:
        entries = [e for e in store.audit_log() if e.action == "claim.resolve"]
    assert [(e.actor, e.entity_id, e.detail["keep"]) for e in entries] == [
        ("Ops Desk", work.id, "Rosa Photo")
    ]


def test_an_admin_sees_waiting_domains_and_verifies_a_party(site: Site) -> None:
    creator = new_client(site)
    sign_up(creator, "vera@example.com", "Vera Verlag", "creator")
    token = form_token(creator, "/creator/identity")
    answer = creator.post(
        "/creator/identity/domain", data={"csrf": token, "domain": "vera.example"}
    )
    assert answer.status_code == 200
    admin = _admin(site, "ops-v@example.com", "Ops Verifier")
    page = admin.get("/admin/verification")
    assert page.status_code == 200 and "Vera Verlag" in page.text and "vera.example" in page.text
    assert "Verify Vera Verlag" in page.text and "Verify Ops Verifier" not in page.text
    prefilled = admin.get("/admin/verification?party=Vera%20Verlag").text
    assert 'name="party" value="Vera Verlag"' in prefilled
    token = form_token(admin, "/admin/verification")
    cases = [
        ({"party": "", "reason": "x"}, 400, "name the party"),
        ({"party": "Vera Verlag", "reason": ""}, 400, "needs a reason"),
        ({"party": "Nobody Here", "reason": "x"}, 404, "no party named"),
    ]
    for fields, status, message in cases:
        answer = admin.post("/admin/verification", data={"csrf": token, **fields})
        assert answer.status_code == status, (fields, answer.status_code)
        assert message in unescape(answer.text) and 'role="alert"' in answer.text
    assert (
        admin.post("/admin/verification", data={"party": "Vera Verlag", "reason": "x"}).status_code
        == 403
    )
    assert (
        creator.post(
            "/admin/verification", data={"csrf": token, "party": "Vera Verlag", "reason": "x"}
        ).status_code
        == 403
    )
    done = admin.post(
        "/admin/verification",
        data={"csrf": token, "party": "Vera Verlag", "reason": "called the publisher's office"},
    )
    assert done.status_code == 303
    assert "is verified by the operator (level admin)" in admin.get("/admin/verification").text
    assert 'data-level="admin"' in creator.get("/creator").text
    assert 'level-admin">admin' in admin.get("/admin/parties").text
    with open_store(site.settings.registry) as store:
        info = get_party(store, "Vera Verlag")
        entries = [e for e in store.audit_log() if e.action == "party.verify"]
    assert info.party.verification.value == "admin"
    assert entries[-1].actor == "Ops Verifier"
    assert entries[-1].detail["value"] == "called the publisher's office"

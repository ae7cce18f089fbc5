"""The web app over HTTP (no browser): accounts and sessions, CSRF, every creator's and
developer's page, the admin's, and bad input answered inline with a 4xx, never a 500."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from clearance.evidence.proofs import verify_proof
from clearance.registry import open_store
from clearance.registry.accounts import create_account
from clearance.signals.iptc_xmp import DataMining, read_iptc_data_mining
from tests.samples import write_image
from tests.web.conftest import Site, csrf_of, form_token, new_client, sign_up, wait_for_scan


def test_sign_up_sets_a_strict_session_cookie_and_sign_out_ends_it(site: Site) -> None:
    client = new_client(site)
    sign_up(client, "ann@example.com", "Ann Web", "creator")
    cookie = client.cookies.get("clearance_session")
    assert cookie
    page = client.get("/creator")
    assert page.status_code == 200 and "Ann Web" in page.text
    # the cookie's attributes as the server set them
    jar = new_client(site)
    token = form_token(jar, "/signin")
    answer = jar.post(
        "/signin", data={"csrf": token, "email": "ANN@example.com", "password": "a long passphrase"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/creator"
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header
    # signing out deletes the session: the old cookie no longer signs anyone in
    out = client.post("/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    again = new_client(site)
    again.cookies.set("clearance_session", cookie)
    assert again.get("/creator").headers["location"].startswith("/signin")


def test_every_form_needs_its_token(site: Site) -> None:
    client = new_client(site)
    client.get("/signup")  # the anonymous token cookie is set
    for data in ({}, {"csrf": "forged"}):
        answer = client.post(
            "/signup",
            data={**data, "email": "x@example.com", "name": "X", "password": "a long passphrase"},
        )
        assert answer.status_code == 403 and "expired" in answer.text
    signed = new_client(site)
    sign_up(signed, "csrf@example.com", "Csrf Co", "creator")
    answer = signed.post("/creator/terms", data={"csrf": "forged", "perm_train-ai": "deny"})
    assert answer.status_code == 403
    # a form posted from another site is refused even with the right token
    token = form_token(signed, "/creator/terms")
    answer = signed.post(
        "/creator/terms",
        data={"csrf": token, "perm_train-ai": "deny"},
        headers={"origin": "https://evil.example"},
    )
    assert answer.status_code == 403


def test_sign_up_errors_are_inline(site: Site) -> None:
    client = new_client(site)
    sign_up(client, "taken@example.com", "Taken Name", "creator")
    cases = [
        ({"email": "not-an-email", "name": "Bob"}, "email address"),
        ({"email": "bob@example.com", "name": "Bob", "password": "short"}, "at least 10"),
        ({"email": "taken@example.com", "name": "Other"}, "sign in instead"),
        ({"email": "new@example.com", "name": "Taken Name"}, "already in the registry"),
        ({"email": "new@example.com", "name": ""}, "enter your name"),
        ({"email": "new@example.com", "name": "Bob", "role": "admin"}, "creator or developer"),
        ({"email": "new@example.com", "name": "Bob\x00"}, "name"),
    ]
    fresh = new_client(site)
    for fields, message in cases:
        token = form_token(fresh, "/signup")
        data = {"csrf": token, "password": "a long passphrase", "role": "creator", **fields}
        answer = fresh.post("/signup", data=data)
        assert answer.status_code in (400, 409), (fields, answer.status_code)
        assert message in answer.text and 'role="alert"' in answer.text
        assert 'value="' + fields["email"] in answer.text  # what was typed stays
    token = form_token(fresh, "/signin")
    wrong = fresh.post(
        "/signin", data={"csrf": token, "email": "taken@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == 401 and "wrong email or password" in wrong.text


def test_pages_need_the_right_account(site: Site) -> None:
    anon = new_client(site)
    for path in ("/creator", "/developer", "/admin", "/creator/statements"):
        answer = anon.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == f"/signin?next={path}"
    dev = new_client(site)
    sign_up(dev, "dev-only@example.com", "Dev Only", "developer")
    assert dev.get("/creator").status_code == 403
    assert dev.get("/admin/keys").status_code == 403
    assert dev.get("/developer/scans/999").status_code == 404
    assert dev.get("/developer/scans/abc").status_code == 400


def test_a_creator_registers_sets_terms_and_publishes(site: Site, tmp_path: Path) -> None:
    client = new_client(site)
    sign_up(client, "pia@example.com", "Pia", "creator")
    token = form_token(client, "/creator")
    image = write_image(tmp_path / "harbour.jpg", 11).read_bytes()
    # the drop zone's request: JSON back
    answer = client.post(
        "/creator/works/upload",
        data={"csrf": token},
        files={"file": ("harbour.jpg", image, "image/jpeg")},
        headers={"x-requested-with": "clearance-upload"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["registered"][0].startswith("harbour.jpg as work ")
    # the plain form: several files, one broken, registered with a note
    answer = client.post(
        "/creator/works/upload",
        data={"csrf": token},
        files=[
            ("file", ("poem.txt", b"a poem of the harbour at dawn " * 20, "text/plain")),
            ("file", ("broken.jpg", b"\xff\xd8\xff not a jpeg", "image/jpeg")),
        ],
    )
    assert answer.status_code == 303
    listing = client.get("/creator")
    assert "Registered 1 file(s)" in listing.text and "broken.jpg" in listing.text
    assert "harbour.jpg" in listing.text and "poem.txt" in listing.text
    answer = client.post(
        "/creator/works/identifier",
        data={"csrf": token, "kind": "prefix", "value": "https://pia.example/art/", "title": "Art"},
    )
    assert answer.status_code == 303
    assert "url-prefix:https://pia.example/art/" in client.get("/creator").text

    # presets and the full form
    terms = form_token(client, "/creator/terms")
    assert (
        client.post(
            "/creator/terms", data={"csrf": terms, "scope": "default", "perm_train-ai": "deny"}
        ).status_code
        == 303
    )
    answer = client.post(
        "/creator/terms",
        data={
            "csrf": terms,
            "scope": "default",
            "currency": "EUR",
            "perm_output": "license",
            "price_output": "0.01",
            "per_output": "output",
        },
    )
    assert answer.status_code == 303
    with open_store(site.settings.registry) as store:
        stated = store.party_terms("Pia").permissions
    assert {u.value: p.value for u, p in stated.items()} == {
        "train-ai": "deny",
        "output": "license",
    }
    page = client.get("/creator/terms").text
    assert "Disallow: / for every known AI training crawler" in page

    publish = client.get("/creator/publish")
    assert publish.status_code == 200 and "DMI-PROHIBITED-AIMLTRAINING" in publish.text
    robots = client.get("/creator/publish/robots.txt")
    assert "User-agent: GPTBot" in robots.text and "Disallow: /" in robots.text
    assert "attachment" in robots.headers["content-disposition"]
    assert json.loads(client.get("/creator/publish/tdmrep.json").text)[0]["tdm-reservation"] == 1
    assert "<rsl" in client.get("/creator/publish/rsl.xml").text
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, "JPEG")
    stamped = client.post(
        "/creator/publish/stamp",
        data={"csrf": terms},
        files={"file": ("mine.jpg", buffer.getvalue(), "image/jpeg")},
    )
    assert stamped.status_code == 200 and stamped.headers["content-type"] == "image/jpeg"
    assert read_iptc_data_mining(stamped.content).code is DataMining.PROHIBITED_AIML_TRAINING
    refused = client.post(
        "/creator/publish/stamp",
        data={"csrf": terms},
        files={"file": ("x.png", b"\x89PNG\r\n\x1a\n", "image/png")},
    )
    assert refused.status_code == 415 and "only JPEG" in refused.text


def test_creator_form_errors_are_inline_never_500(site: Site) -> None:
    client = new_client(site)
    sign_up(client, "err@example.com", "Err Co", "creator")
    token = form_token(client, "/creator")
    bad_posts = [
        ("/creator/works/upload", {}, "choose one or more files"),
        ("/creator/works/identifier", {"kind": "url", "value": ""}, "give the url"),
        ("/creator/works/identifier", {"kind": "url", "value": "https://a.example/*"}, "one page"),
        ("/creator/works/identifier", {"kind": "identifier", "value": "isbn:123"}, "ISBN"),
        ("/creator/works/identifier", {"kind": "bogus", "value": "x"}, "choose what"),
        ("/creator/terms", {"scope": "default", "perm_train-ai": "license"}, "needs a price"),
        (
            "/creator/terms",
            {"scope": "default", "perm_output": "license", "price_output": "-1"},
            "price",
        ),
        (
            "/creator/terms",
            {"scope": "default", "currency": "EURO", "perm_output": "license", "price_output": "1"},
            "currency",
        ),
        ("/creator/terms", {"scope": "default", "perm_search": "maybe"}, "choose one"),
        ("/creator/terms", {"scope": "default"}, "nothing to change"),
        ("/creator/terms", {"scope": "999999", "perm_search": "deny"}, "no work"),
        ("/creator/terms", {"scope": "x", "perm_search": "deny"}, "scope"),
        ("/creator/requests/99999/accept", {}, "no licence request"),
        ("/creator/requests/1/maybe", {}, "accept or reject"),
    ]
    for path, data, message in bad_posts:
        answer = client.post(path, data={"csrf": token, **data})
        assert 400 <= answer.status_code < 500, (path, data, answer.status_code)
        assert message.lower() in answer.text.lower(), (path, data, answer.text[-600:])
    too_many = [("file", (f"{i}.txt", b"x", "text/plain")) for i in range(21)]
    answer = client.post("/creator/works/upload", data={"csrf": token}, files=too_many)
    assert answer.status_code == 400 and "could not be read" in answer.text
    answer = client.post(
        "/creator/terms",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= answer.status_code < 500 and "<html" in answer.text
    answer = client.get("/creator/statements?period=not-a-period")
    assert answer.status_code == 400 and 'aria-invalid="true"' in answer.text
    assert client.get("/creator/publish/passwd").status_code == 400
    assert client.get("/creator/works/0").status_code == 400


def test_admin_pages(site: Site) -> None:
    with open_store(site.settings.registry) as store:
        create_account(
            store, "op@example.com", "operator passphrase", party="Operator", role="admin"
        )
    admin = new_client(site)
    token = form_token(admin, "/signin")
    answer = admin.post(
        "/signin",
        data={"csrf": token, "email": "op@example.com", "password": "operator passphrase"},
    )
    assert answer.headers["location"] == "/admin"
    home = admin.get("/admin").text
    assert 'href="/admin/disputes"' in home and 'href="/admin/verification"' in home
    assert "data-pending" not in home
    parties = admin.get("/admin/parties")
    assert parties.status_code == 200 and "Operator" in parties.text
    token = form_token(admin, "/admin/keys")
    made = admin.post("/admin/keys", data={"csrf": token, "party": "Operator", "role": "owner"})
    assert made.status_code == 200 and "clr_" in made.text and "shown only once" in made.text
    key_id = made.text.split("/admin/keys/")[1][:12]
    assert admin.post(f"/admin/keys/{key_id}/revoke", data={"csrf": token}).status_code == 303
    assert "revoked" in admin.get("/admin/keys").text
    bad = admin.post("/admin/keys", data={"csrf": token, "party": "Operator", "role": "king"})
    assert bad.status_code == 400 and "unknown role" in bad.text
    assert admin.post("/admin/keys/zzz/revoke", data={"csrf": token}).status_code == 400


def test_a_developer_scans_requests_and_the_creator_is_paid(site: Site, tmp_path: Path) -> None:
    creator = new_client(site)
    sign_up(creator, "lia@example.com", "Lia", "creator")
    token = form_token(creator, "/creator")
    images = [write_image(tmp_path / f"lia{i}.jpg", 40 + i) for i in range(2)]
    for path in images:
        creator.post(
            "/creator/works/upload",
            data={"csrf": token},
            files={"file": (path.name, path.read_bytes(), "image/jpeg")},
        )
    terms = {"csrf": token, "scope": "default", "currency": "EUR"}
    terms |= {"perm_train-genai": "license", "price_train-genai": "0.50", "per_train-genai": "item"}
    assert creator.post("/creator/terms", data=terms).status_code == 303

    data = site.datasets / "lia-set"
    data.mkdir()
    for path in images:
        shutil.copy(path, data / path.name)
    write_image(data / "other.jpg", 77)

    dev = new_client(site)
    sign_up(dev, "gen@example.com", "GenCo", "developer")
    token = form_token(dev, "/developer")
    for fields, message in (
        ({"path": "../etc"}, "has an empty"),
        ({"path": "missing"}, "there is no"),
        ({"path": ""}, "give a dataset path"),
        ({"path": "lia-set", "purpose": "world-domination"}, "purpose"),
    ):
        answer = dev.post("/developer/scans", data={"csrf": token, "web": "off", **fields})
        assert answer.status_code == 400 and message in answer.text, fields
    answer = dev.post(
        "/developer/scans",
        data={"csrf": token, "web": "off"},
        files={"manifest": ("rows.txt", b"x", "text/plain")},
    )
    assert answer.status_code == 400 and ".jsonl" in answer.text

    def scan() -> int:
        answer = dev.post(
            "/developer/scans",
            data={"csrf": token, "path": "lia-set", "purpose": "train-genai", "web": "off"},
        )
        assert answer.status_code == 303, answer.text
        job = int(answer.headers["location"].rsplit("/", 1)[1])
        assert "done" in wait_for_scan(dev, job)
        return job

    rows = "".join(
        json.dumps({"text": f"a caption about boats, number {i}"}) + "\n" for i in range(5)
    )
    answer = dev.post(
        "/developer/scans",
        data={"csrf": token, "purpose": "train-genai", "web": "off"},
        files={"manifest": ("captions.jsonl", rows.encode(), "application/jsonl")},
    )
    assert answer.status_code == 303
    uploaded = int(answer.headers["location"].rsplit("/", 1)[1])
    assert "done" in wait_for_scan(dev, uploaded)
    assert "<dt>include</dt><dd>5</dd>" in dev.get(f"/developer/scans/{uploaded}").text

    first = scan()
    page = dev.get(f"/developer/scans/{first}").text
    assert "Read the report" in page and "Request licences" in page
    assert "<dt>needs license</dt><dd>2</dd>" in page  # Lia's two images
    report = dev.get(f"/developer/scans/{first}/report")
    assert report.status_code == 200 and "<html" in report.text.lower()
    policy = report.headers["content-security-policy"]
    assert "connect-src 'none'" in policy and "sandbox allow-scripts" in policy
    for kind in ("eu-summary", "ab2013", "policy"):
        doc = dev.get(f"/developer/scans/{first}/documents/{kind}")
        assert doc.status_code == 200 and doc.text.startswith("#"), kind
    assert dev.get(f"/developer/scans/{first}/documents/nope").status_code == 400
    proof = dev.get(f"/developer/scans/{first}/proof?owner=Lia")
    assert proof.status_code == 200, proof.text[-500:]
    jobs = site.client.app.state.web.jobs  # type: ignore[attr-defined]
    manifest = json.loads((jobs.output(jobs.get("GenCo", first)) / "manifest.json").read_text())
    check = verify_proof(proof.json(), manifest=manifest, require_signature=False)
    assert check.ok and len(check.items) == 2  # Lia's two images, each with its decision
    assert dev.get(f"/developer/scans/{first}/proof?owner=Nobody").status_code == 404
    answer = dev.post(f"/developer/scans/{first}/licenses", data={"csrf": token})
    assert answer.status_code == 303
    licences = dev.get("/developer/licences").text
    assert "Lia" in licences and "pending" in licences

    requests = creator.get("/creator/requests").text
    request_id = int(requests.split("/creator/requests/")[1].split("/")[0])
    assert "1.00" in requests  # 2 items at 0.50
    ctoken = csrf_of(requests)
    accepted = creator.post(f"/creator/requests/{request_id}/accept", data={"csrf": ctoken})
    assert accepted.status_code == 303
    again = creator.post(f"/creator/requests/{request_id}/accept", data={"csrf": ctoken})
    assert again.status_code == 409  # already decided: a page, not a 500
    assert "accepted" in dev.get("/developer/licences").text

    second = scan()  # now licensed: the works are included, and a run can be recorded
    assert dev.post(f"/developer/scans/{second}/run", data={"csrf": token}).status_code == 400
    answer = dev.post(
        f"/developer/scans/{second}/run", data={"csrf": token, "name": "gen-1", "model": "m1"}
    )
    assert answer.status_code == 303
    statement = creator.get("/creator/statements")
    assert "1.00 EUR" in statement.text
    csv = creator.get("/creator/statements.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "gen-1" in csv.text
    found = creator.get("/creator/found").text
    assert "gen-1" in found and "GenCo" in found


def test_garbage_to_every_form_is_never_a_500(site: Site) -> None:
    """Every POST page, with path values and fields of every odd kind, answers below 500."""
    from fastapi.routing import APIRoute

    from clearance.web import account, admin, creator, developer, publish, royalties, terms
    from clearance.web.render import WebRoute

    with open_store(site.settings.registry) as store:
        create_account(store, "fuzz@example.com", "fuzz passphrase", party="Fuzz", role="admin")
    client = new_client(site)
    token = form_token(client, "/signin")
    client.post(
        "/signin", data={"csrf": token, "email": "fuzz@example.com", "password": "fuzz passphrase"}
    )
    token = form_token(client, "/admin/keys")
    routes = [
        r
        for module in (account, creator, terms, royalties, publish, developer, admin)
        for r in module.router.routes
        if isinstance(r, APIRoute) and isinstance(r, WebRoute) and "POST" in r.methods
        if r.path != "/signout"  # the one form meant to end the session
    ]
    assert len(routes) >= 12
    values = ["", "0", "-1", "99999999999999999999", "x" * 5000, "\x00", "é✓", "../../etc", "*"]
    fields = ["email", "name", "role", "kind", "value", "title", "scope", "currency", "path",
              "purpose", "mode", "web", "party", "period", "usage", "owner", "model",
              "perm_train-ai", "price_train-ai", "per_train-ai", "perm_output"]  # fmt: skip
    for route in routes:
        for i, value in enumerate(values):
            path = route.path
            for name in ("request_id", "job_id", "key_id", "decision", "name"):
                segment = quote(value.replace("/", "_")[:40] or "1", safe="")
                path = path.replace("{" + name + "}", segment)
            data = {
                "csrf": token,
                **{f: values[(i + k) % len(values)] for k, f in enumerate(fields)},
            }
            answer = client.post(path, data=data)
            assert answer.status_code < 500, (route.path, value, answer.text[-400:])
    assert client.get("/admin").status_code == 200  # still signed in: nothing broke the session

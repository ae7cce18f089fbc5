"""The web app in a real browser: a creator's and a developer's main paths in Debian's
Chromium, driven by Playwright, with axe-core checking every main page at desktop and
phone width.

One browser and one server (uvicorn on loopback, the app ``clearance serve`` runs) for
the module. axe-core comes from the npm registry (``make install`` runs ``npm ci`` into
``node_modules/``); it is injected into each page (the context bypasses the app's CSP
for that injection only). Screenshots go to ``docs/screenshots/`` when missing or with
``CLEARANCE_UPDATE_SCREENSHOTS=1``, so a test run leaves the tree clean. Skipped only
when Playwright, Chromium or axe-core is missing.

The server runs with ``allow_private`` so the creator can verify a domain on a loopback
site (``tests/localsite.py``); the admin resolves a dispute between two creators.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clearance.cli.webapp import create_site
from clearance.config import Settings
from clearance.registry import init_store, open_store
from clearance.registry.accounts import create_account
from tests.localsite import LocalSite, serve
from tests.samples import write_image

ROOT = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


@dataclass
class Served:
    url: str
    registry: str
    datasets: Path
    browser: Any
    shots: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sync_api = pytest.importorskip("playwright.sync_api")
    uvicorn = pytest.importorskip("uvicorn")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make install installs it)")
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make install runs npm ci)")
    root = tmp_path_factory.mktemp("browser")
    registry = str(root / "registry.db")
    init_store(registry).close()
    datasets = root / "datasets"
    datasets.mkdir()
    settings = Settings(
        registry=registry,
        web_datasets=str(datasets),
        web_scans=str(root / "scans"),
        allow_private=True,  # the creator's domain is a loopback site
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_site(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                yield Served(
                    f"http://127.0.0.1:{port}", registry, datasets, browser, root / "shots"
                )
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _context(served: Served) -> Any:
    context = served.browser.new_context(viewport=DESKTOP, bypass_csp=True, accept_downloads=True)
    context.set_default_timeout(15_000)
    return context


def check_page(page: Any, name: str, served: Served, *, shots: bool = True) -> None:
    """axe-core finds nothing at desktop and phone width; nothing overflows the phone; shots."""
    errors: list[str] = []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            """async () => (await axe.run(document, {runOnly: {type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        errors += [f"{name} ({label}) {v}" for v in violations]
        if label == "phone":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} is {width} px wide on a phone"
        if not shots:
            continue
        served.shots.mkdir(exist_ok=True)
        shot = served.shots / f"web-{name}-{label}.png"
        page.screenshot(path=str(shot), full_page=True)
        target = SHOTS / shot.name
        if not target.exists() or os.environ.get("CLEARANCE_UPDATE_SCREENSHOTS") == "1":
            SHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, target)
    page.set_viewport_size(DESKTOP)
    assert errors == []


def _sign_up(page: Any, served: Served, role: str, name: str, email: str) -> None:
    page.goto(served.url + "/")
    page.get_by_role("link", name=f"Sign up as a {role}").click()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long passphrase")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{served.url}/{role}")


def _nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()
    page.wait_for_load_state()


def _drop(page: Any, path: Path) -> None:
    """Drop a file on the drop zone as a person drags it from their desktop."""
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const t = new DataTransfer();
            t.items.add(new File([bytes], name, {type: 'image/jpeg'}));
            return t;
        }""",
        [path.name, data],
    )
    page.dispatch_event("form[data-dropzone]", "drop", {"dataTransfer": transfer})


def test_a_creator_and_a_developer_walk_their_main_paths(served: Served, tmp_path: Path) -> None:
    images = [write_image(tmp_path / f"lighthouse{i}.jpg", 60 + i) for i in range(2)]
    dataset = served.datasets / "coast"
    dataset.mkdir()
    for path in images:
        shutil.copy(path, dataset / path.name)
    write_image(dataset / "someone-else.jpg", 99)

    creator_ctx = _context(served)
    creator = creator_ctx.new_page()
    page_errors: list[str] = []
    creator.on("pageerror", lambda e: page_errors.append(str(e)))
    creator.goto(served.url + "/")
    check_page(creator, "home", served)
    creator.goto(served.url + "/signin")
    creator.get_by_label("Email").fill("nobody@example.com")
    creator.get_by_label("Password").fill("not the password")
    creator.get_by_role("button", name="Sign in").click()
    assert "wrong email or password" in creator.get_by_role("alert").inner_text()
    check_page(creator, "signin-error", served, shots=False)
    creator.goto(served.url + "/")
    creator.keyboard.press("Tab")
    assert creator.evaluate("document.activeElement.className") == "skip"
    _sign_up(creator, served, "creator", "Mira Studio", "mira@example.com")

    # register: one file dropped, one chosen; each shows its own progress, then the result
    _drop(creator, images[0])
    creator.locator("[data-uploads] li.note", has_text="lighthouse0.jpg as work").wait_for()
    creator.set_input_files("#file", str(images[1]))
    creator.get_by_role("button", name="Register", exact=True).first.click()
    creator.locator("[data-uploads] li.note", has_text="lighthouse1.jpg as work").wait_for()
    assert creator.locator("[data-uploads] progress").count() == 2
    creator.get_by_label("What").select_option("prefix")
    creator.get_by_label("URL, domain or identifier").fill("https://mira.example/portfolio/")
    creator.locator("form[action='/creator/works/identifier'] button").click()
    creator.get_by_text("Registered work 3 (created).").wait_for()
    assert creator.locator("table tbody tr").count() == 3
    check_page(creator, "creator-works", served)

    # verify a domain: the page gives the line to publish, the server reads it back
    with serve(LocalSite()) as local:
        _nav(creator, "Identity")
        creator.get_by_role("textbox", name="Domain").fill(f"127.0.0.1:{local.port}")
        creator.get_by_role("button", name="Get the line to publish").click()
        line = creator.locator("[data-challenge] pre.token").inner_text().strip()
        local.routes["/.well-known/clearance-verification.txt"] = (200, {}, line.encode())
        creator.locator("[data-challenge]").get_by_role("button").click()
        creator.get_by_text("verified. Your level: domain.").wait_for()
    check_page(creator, "creator-identity", served)
    _nav(creator, "My works")
    assert creator.locator("[data-level]").first.inner_text() == "domain"

    # terms in plain language: the consequences follow the choice before it is saved
    _nav(creator, "Terms")
    fieldset = creator.locator("fieldset[data-usage='train-genai']")
    fieldset.get_by_label("Your choice").select_option("license")
    assert fieldset.locator("ul.consequences[data-for='license']").is_visible()
    assert "RSL" in fieldset.locator("ul.consequences[data-for='license']").inner_text()
    fieldset.get_by_label("Price").fill("0.50")
    creator.get_by_role("button", name="Save terms").click()
    creator.get_by_text("Your terms are saved").wait_for()
    creator.get_by_role("button", name="Keep it out of generated images").click()
    creator.get_by_text("Your terms are saved").wait_for()
    assert creator.locator("#perm_output").input_value() == "deny"
    check_page(creator, "creator-terms", served)

    _nav(creator, "Publish")
    with creator.expect_download() as download:
        creator.get_by_role("link", name="Download robots.txt").click()
    assert "Disallow: /" in Path(download.value.path()).read_text(encoding="utf-8")
    check_page(creator, "creator-publish", served)

    # the developer scans the server-side dataset, watches it, reads the report, requests
    dev_ctx = _context(served)
    dev = dev_ctx.new_page()
    dev.on("pageerror", lambda e: page_errors.append(str(e)))
    _sign_up(dev, served, "developer", "Gen Labs", "gen@example.com")
    dev.get_by_label("Dataset path on this server").fill("coast")
    dev.get_by_label("The web").select_option("off")
    dev.get_by_role("button", name="Start the scan").click()
    dev.get_by_role("link", name="Show the results").click()  # htmx swaps it in when done
    check_page(dev, "developer-scan", served)
    with dev_ctx.expect_page() as report_page:
        dev.get_by_role("link", name="Read the report").click(modifiers=["Control"])
    report = report_page.value
    report.wait_for_load_state()
    assert report.locator(".card").count() >= 4
    report.close()
    dev.get_by_role("button", name="Request licences").click()
    dev.get_by_text("Sent 1 licence request(s)").wait_for()
    assert "pending" in dev.locator("table").first.inner_text()

    _nav(creator, "Requests")
    assert "1.00" in creator.locator("article").first.inner_text()  # 2 images at 0.50
    check_page(creator, "creator-requests", served)
    creator.get_by_role("button", name="Accept request 1").click()
    creator.get_by_text("Accepted request 1").wait_for()

    dev.goto(served.url + "/developer")
    dev.get_by_label("Dataset path on this server").fill("coast")
    dev.get_by_label("The web").select_option("off")
    dev.get_by_role("button", name="Start the scan").click()
    dev.get_by_role("link", name="Show the results").click()
    dev.get_by_label("Run name").fill("coast-v1")
    dev.get_by_role("button", name="Record the run").click()
    dev.get_by_text("Recorded run 'coast-v1'").wait_for()
    _nav(dev, "Licences")
    assert "accepted" in dev.locator("table").first.inner_text()
    check_page(dev, "developer-licences", served)
    _nav(dev, "Scans")
    check_page(dev, "developer-scans", served)

    _nav(creator, "Statements")
    assert "1.00 EUR" in creator.locator(".big").inner_text()
    with creator.expect_download() as download:
        creator.get_by_role("link", name="Download CSV").click()
    assert "coast-v1" in Path(download.value.path()).read_text(encoding="utf-8")
    check_page(creator, "creator-statements", served)
    _nav(creator, "Where found")
    assert "coast-v1" in creator.locator("main").inner_text()
    check_page(creator, "creator-found", served)

    # bad input, in the browser: an inline error next to the form, never a 500
    _nav(creator, "Statements")
    creator.get_by_label("Period").fill("someday")
    creator.get_by_role("button", name="Show").click()
    assert creator.get_by_role("alert").is_visible()
    assert creator.get_by_label("Period").get_attribute("aria-invalid") == "true"
    check_page(creator, "statements-error", served, shots=False)
    assert page_errors == []
    creator_ctx.close()
    dev_ctx.close()


def test_an_admin_makes_a_key_and_resolves_a_dispute(served: Served) -> None:
    from clearance.registry import parse_identifier, register_identifier

    url = parse_identifier("https://rosa.example/harbour.jpg")
    with open_store(served.registry) as store:
        create_account(store, "ops@example.com", "operator passphrase", party="Ops", role="admin")
        for party in ("Rosa Photo", "Zed Copies"):  # the same URL: Zed's claim is disputed
            done = register_identifier(store, url, owner=party, title="Harbour", actor=party)
    work_id = done.work.id
    context = _context(served)
    page = context.new_page()
    page.goto(served.url + "/signin")
    page.get_by_label("Email").fill("ops@example.com")
    page.get_by_label("Password").fill("operator passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(served.url + "/admin")
    check_page(page, "admin", served, shots=False)
    page.get_by_role("link", name="Parties").click()
    assert "Ops" in page.locator("table").first.inner_text()
    check_page(page, "admin-parties", served)
    page.goto(served.url + "/admin/keys")
    page.get_by_label("Party").fill("Ops")
    page.get_by_label("Role").select_option("licensee")
    page.get_by_role("button", name="Create key").click()
    assert page.locator("pre.token").inner_text().startswith("clr_")
    check_page(page, "admin-keys", served)

    _nav(page, "Admin")
    page.get_by_role("link", name="Disputes").click()
    page.get_by_role("link", name=f"Dispute {work_id}").click()
    assert page.locator("[data-claim]").count() == 2
    check_page(page, "admin-dispute", served)
    page.get_by_role("button", name=f"Resolve dispute {work_id}").click()  # no choice: inline
    assert "choose the claim to keep" in page.get_by_role("alert").inner_text()
    page.get_by_label("Rosa Photo").check()
    page.get_by_label("Reason").fill("her original, with the camera's files")
    page.get_by_role("button", name=f"Resolve dispute {work_id}").click()
    page.get_by_text("Rosa Photo keeps the work").first.wait_for()
    _nav(page, "Admin")
    page.get_by_role("link", name="Verification requests").click()
    check_page(page, "admin-verification", served)
    context.close()

"""report.html in a real browser: headless Chromium renders a real scan's report.

It checks what a person looks for (what was scanned, the outcome cards, the
charts with their legends, the items to act on with their reasons) and that
the item table's search and paging work with no network, then takes a
screenshot: into ``docs/screenshots/`` when none is there yet or when
``CLEARANCE_UPDATE_SCREENSHOTS=1`` (so a test run leaves the tree clean).
Chromium is Debian's ``chromium`` (``make install`` installs it), driven by
Playwright; the test is skipped only when either is missing. Playwright
never downloads a browser here.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from clearance.scan import scan
from tests.samples import write_image
from tests.scan.conftest import ANN_SEED, CLEO_SEED

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).parents[2] / "docs" / "screenshots" / "scan-report.png"
TEXTS = 120


@pytest.fixture
def report(tmp_path: Path, registry: str) -> Path:
    """A real opt-in scan: registered images (denied, allowed), a corrupt JPEG, many texts."""
    files = tmp_path / "data" / "files"
    files.mkdir(parents=True)
    write_image(files / "ann.png", ANN_SEED, "PNG")
    write_image(files / "cleo.jpg", CLEO_SEED)
    (files / "broken.jpg").write_bytes(b"\xff\xd8\xff not a real jpeg")
    rows = [{"path": f"files/{n}"} for n in ("ann.png", "cleo.jpg", "broken.jpg")]
    rows += [
        {"text": f"caption number {i}: a harbour at dawn, boats and gulls"} for i in range(TEXTS)
    ]
    table = tmp_path / "data" / "captions.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    scan(table, out, registry=registry, web="off", workers=1, mode="opt-in")
    return out / "report.html"


def test_the_report_renders_in_chromium(report: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make install installs it)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri())
            assert errors == [] and requests == [report.as_uri()]  # nothing else is loaded

            meta = page.locator("#run").inner_text()
            assert "captions.jsonl" in meta and "opt-in" in meta and "train-genai" in meta
            assert page.locator(".card").count() == 5
            for chart in ("#sources", "#owners"):  # each chart has its legend beside it
                assert page.locator(f"{chart} .chart .legend").count() >= 1
            assert "No explicit permission (opt-in)" in page.locator("#sources").inner_text()

            visible = page.locator("#item-table tbody tr:visible")
            assert visible.count() == 50  # the first page of the 122 items to act on
            status = page.locator("#item-status")
            assert "of 122 items" in status.inner_text()
            page.click("#item-next")
            assert "51\u2013100 of 122" in status.inner_text()
            page.fill("#item-search", "broken.jpg")
            assert visible.count() == 1
            assert "not a readable image" in visible.first.inner_text()
            page.fill("#item-search", "")
            page.select_option("#item-outcome", "exclude")
            assert "of 121 items" in status.inner_text()
            page.fill("#item-search", "ann.png")
            assert "registry: tdm denied" in visible.first.inner_text()
            assert "Ann" in visible.first.inner_text()

            page.fill("#item-search", "")
            page.select_option("#item-outcome", "")
            shot = report.parent / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if not SCREENSHOT.exists() or os.environ.get("CLEARANCE_UPDATE_SCREENSHOTS") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(shot, SCREENSHOT)
        finally:
            browser.close()

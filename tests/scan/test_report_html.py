"""report.html: self-contained, escaped, and showing the report's numbers."""

from __future__ import annotations

from html.parser import HTMLParser

from clearance.scan.report_html import render_scan_report

REPORT = {
    "format": "clearance.scan-report",
    "format_version": 1,
    "items": 10,
    "purpose": "train-genai",
    "mode": "opt-in",
    "outcomes": {"include": 4, "exclude": 3, "needs-license": 2, "error": 1},
    "by_reason_source": {"registry": 5, "robots.txt": 2},
    "by_domain": {"<script>alert(1)</script>.example": {"items": 3, "exclude": 3}},
    "domains": 1,
    "by_owner": {"Ann & Co": {"items": 2, "needs-license": 2}},
}
LICENSES = {  # the shape of a scan's licenses.json
    "owners": [
        {
            "owner": "Ann & Co",
            "totals": {"EUR": "0.04"},
            "works": [
                {"work_id": 1, "item_count": 2, "amount": "0.04"},
                {"work_id": 2, "item_count": 5, "amount": "0"},
            ],
        }
    ],
    "totals": {"EUR": "0.04"},
}


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.srcs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_is_self_contained_and_escaped() -> None:
    page = render_scan_report(REPORT, LICENSES)
    parsed = _Collect()
    parsed.feed(page)
    assert "script" not in parsed.tags and parsed.srcs == []
    text = " ".join(parsed.text)
    assert "<script>alert(1)</script>.example" in text  # shown as text, not markup
    assert "Ann & Co" in text and "0.04 EUR" in text
    assert '<td>Ann &amp; Co</td><td class="n">2</td><td class="n">7</td>' in page
    assert parsed.tags.count("svg") >= 4 + 2 + 1 + 1
    for outcome, n in REPORT["outcomes"].items():  # type: ignore[attr-defined]
        assert f"{outcome}: {n}" in page or f">{n}<" in page


def test_empty_report_renders() -> None:
    page = render_scan_report({"items": 0})
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert page.count("<b>0</b>") == 5  # one card per outcome
    assert "No URL items." in page and "No registered works matched." in page

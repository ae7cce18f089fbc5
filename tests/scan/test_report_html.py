"""report.html: self-contained, escaped, showing the numbers and the items to act on."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from clearance.scan.report_html import MAX_ITEMS, SECTIONS, Page, render_scan_report

REPORT = {
    "format": "clearance.scan-report",
    "format_version": 1,
    "items": 10,
    "purpose": "train-genai",
    "mode": "opt-in",
    "run": {
        "as_of": "2026-12-04T15:00:00+00:00",
        "input": "/data/<b>in</b>.jsonl",
        "registry": "clearance.db",
        "registry_state": "ab" * 32,
        "version": "0.1.0",
    },
    "outcomes": {"include": 4, "exclude": 3, "needs-license": 2, "error": 1},
    "by_reason_source": {"registry": 5, "robots.txt": 2, "opt-in": 1},
    "by_reason_permission": {
        "registry": {"deny": 3, "allow": 2},
        "robots.txt": {"deny": 2},
        "opt-in": {"unknown": 1},
    },
    "by_origin": {
        "https://<script>alert(1)</script>.example:443": {"items": 3, "exclude": 3},
        "http://127.0.0.1:8080": {"items": 1, "include": 1},
    },
    "origins": 2,
    "by_owner": {"Ann & Co": {"items": 2, "needs-license": 2}},
    "owner_works": {"Ann & Co": 2},
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


def row(n: int, outcome: str, **extra: object) -> dict[str, object]:
    works = [{"id": 1, "owner": "Ann & Co"}] if outcome == "needs-license" else []
    return {
        "item_id": f"{n:032x}",
        "source": f"https://site.example/{n}.jpg",
        "outcome": outcome,
        "reasons": ["registry:train-ai=license"] if outcome == "needs-license" else [],
        "work_ids": [1] if works else [],
        "evidence": json.dumps({"works": works}),
        "error": None,
        **extra,
    }


ROWS = [
    row(1, "include"),
    row(2, "needs-license"),
    row(3, "exclude", reasons=["opt-in:train-genai=unknown"]),
    row(4, "error", error="cannot read <img src=x onerror=alert(1)>: corrupt"),
]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.srcs: list[str] = []
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.srcs += [v or "" for k, v in attrs if k in ("src", "href") and (v or "#")[0] != "#"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Collect:
    parsed = _Collect()
    parsed.feed(page)
    return parsed


def test_report_is_self_contained_and_escaped() -> None:
    page = render_scan_report(REPORT, LICENSES, rows=ROWS)
    parsed = parse(page)
    assert parsed.tags.count("script") == 1 and parsed.srcs == []  # one inline script, no loads
    assert "<img" not in page and "<b>in</b>" not in page
    text = " ".join(parsed.text)
    assert "https://<script>alert(1)</script>.example:443" in text  # shown as text, not markup
    assert "cannot read <img src=x onerror=alert(1)>: corrupt" in text
    assert "Ann & Co" in text and "0.04 EUR" in text
    assert (
        '<td>Ann &amp; Co</td><td class="n">2</td><td class="n">7</td><td class="n">0.04 EUR</td>'
        in page
    )
    assert '<th>owner</th><th class="n">works</th><th class="n">items</th>' in page


def test_report_says_what_was_scanned_and_how() -> None:
    text = " ".join(parse(render_scan_report(REPORT, LICENSES, rows=ROWS)).text)
    for fact in ("2026-12-04T15:00:00+00:00", "/data/<b>in</b>.jsonl", "clearance.db",
                 "abababababababab…", "train-genai", "opt-in", "0.1.0"):  # fmt: skip
        assert fact in text


def test_items_to_act_on_are_listed_with_reasons_source_and_owner() -> None:
    page = render_scan_report(REPORT, LICENSES, rows=ROWS)
    items = page[page.index('id="item-table"') :]
    assert items.count("<tr data-outcome=") == 3  # the included item is not listed
    assert "https://site.example/1.jpg" not in items
    assert "registry: train-ai needs a licence" in items and "Ann &amp; Co" in items
    assert "no explicit permission for train-genai (opt-in)" in items
    assert "error: cannot read" in items
    assert 'id="item-search"' in page and 'id="item-next"' in page


def test_sources_say_what_each_allowed_or_denied_with_the_legend_beside() -> None:
    page = render_scan_report(REPORT, LICENSES, rows=ROWS)
    sources = page[page.index('id="sources"') : page.index('id="origins"')]
    assert "registry: denied 3, allowed 2" in sources
    assert "No explicit permission (opt-in)" in sources
    assert sources.count('class="legend"') == 1 and sources.index("<table>") < sources.index(
        'class="legend"'
    )
    origins = page[page.index('id="origins"') : page.index('id="owners"')]
    assert "http://127.0.0.1:8080" in origins and 'class="legend"' in origins


def test_beyond_the_cap_the_page_lists_the_first_rows_and_says_where_the_rest_are() -> None:
    rows = [row(i, "exclude") for i in range(MAX_ITEMS + 5)]
    page = render_scan_report({"items": len(rows)}, rows=rows)
    assert page.count("<tr data-outcome=") == MAX_ITEMS
    assert f"{MAX_ITEMS + 5:,} items were excluded" in page
    assert f"The first {MAX_ITEMS:,} are listed here" in page and "decisions.parquet" in page


def test_empty_report_renders() -> None:
    page = render_scan_report({"items": 0})
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert page.count("<b>0</b>") == 5  # one card per outcome
    assert "No URL items." in page and "No registered works matched." in page


def test_a_section_is_one_function() -> None:
    """A further section (unreachable origins, say) is a function of the page, added in place."""

    def extra(page: Page) -> str:
        return f"<section id='extra'>{page.report['items']} items</section>"

    page = render_scan_report({"items": 3}, sections=[*SECTIONS[:2], extra, *SECTIONS[2:]])
    assert "<section id='extra'>3 items</section>" in page

"""``report.html``: a scan's numbers as one self-contained page a compliance team can read offline.

No scripts, fonts or images are loaded from anywhere: the charts are inline
SVG bars drawn from ``report.json`` (and ``licenses.json`` when given), the
styles are inline, and every value is HTML-escaped, because domains, owners
and file names come from the scanned data. The page is valid with JavaScript
off and prints cleanly.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

COLOURS = {
    "include": "#2e7d32",
    "exclude": "#c62828",
    "needs-license": "#f9a825",
    "review": "#6a1b9a",
    "error": "#6d6d6d",
}
OUTCOMES = ("include", "exclude", "needs-license", "review", "error")

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;padding:0 1rem}
body{color:#1b1b1b}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#555}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{flex:1;min-width:140px;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
.card b{display:block;font-size:1.6rem}
.legend span{display:inline-block;margin-right:1rem}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def _n(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _bar(label: str, value: int, total: int, colour: str, width: int = 520) -> str:
    length = 0 if total <= 0 else max(1, round(width * value / total)) if value else 0
    return (
        f'<tr><td>{escape(label)}</td><td class="n">{value:,}</td><td>'
        f'<svg width="{width}" height="14" role="img" aria-label="{escape(label)}: {value}">'
        f'<rect width="{length}" height="14" fill="{colour}"/></svg></td></tr>'
    )


def _stacked(label: str, counts: Mapping[str, Any], scale: int, width: int = 520) -> str:
    x = 0.0
    rects = []
    total = sum(_n(counts.get(o)) for o in OUTCOMES)
    for outcome in OUTCOMES:
        value = _n(counts.get(outcome))
        if not value or scale <= 0:
            continue
        w = width * value / scale
        rects.append(
            f'<rect x="{x:.1f}" width="{w:.1f}" height="14" fill="{COLOURS[outcome]}">'
            f"<title>{outcome}: {value}</title></rect>"
        )
        x += w
    return (
        f'<tr><td>{escape(label)}</td><td class="n">{total:,}</td><td>'
        f'<svg width="{width}" height="14" role="img" aria-label="{escape(label)}">'
        f"{''.join(rects)}</svg></td></tr>"
    )


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span><i class="sw" style="background:{COLOURS[o]}"></i>{o}</span>' for o in OUTCOMES
        )
        + "</p>"
    )


def _licences(licenses: Mapping[str, Any] | None) -> str:
    if not licenses:
        return ""
    owners = licenses.get("owners") or []
    if not owners:
        return "<h2>Licences needed</h2><p>No item needs a licence.</p>"
    rows = []
    for owner in owners:
        name = str(owner.get("owner", ""))
        works = owner.get("works") or []
        items = sum(_n(w.get("item_count")) for w in works)
        totals = owner.get("totals") or {}
        total = ", ".join(f"{escape(str(v))} {escape(str(c))}" for c, v in totals.items()) or "-"
        rows.append(
            f'<tr><td>{escape(name)}</td><td class="n">{len(works):,}</td>'
            f'<td class="n">{items:,}</td><td>{total}</td></tr>'
        )
    grand = licenses.get("totals") or {}
    grand_text = ", ".join(f"{escape(str(v))} {escape(str(c))}" for c, v in grand.items()) or "-"
    return (
        "<h2>Licences needed</h2><table><tr><th>owner</th><th>works</th><th>items</th>"
        "<th>total</th></tr>" + "".join(rows) + f"</table><p>Total: <b>{grand_text}</b></p>"
    )


def _unreachable(report: Mapping[str, Any]) -> str:
    """The URL rows whose site signals could not be read: never a silent include."""
    info = report.get("unreachable") or {}
    items = _n(info.get("items"))
    if not items:
        return ""
    what = escape(str(info.get("on_unreachable", "include")))
    rows = "".join(
        f'<tr><td>{escape(str(o.get("origin", "")))}</td><td class="n">{_n(o.get("items")):,}'
        f"</td><td>{escape(str(o.get('reason', '')))}</td></tr>"
        for o in info.get("top") or []
    )
    return (
        f'<h2 id="unreachable">Sites that could not be read</h2><p><b>{items:,}</b> URL items '
        f"from {_n(info.get('origins')):,} origins: their site signals (robots.txt, ai.txt, "
        f"tdmrep.json) could not be read, so no opt-out there could be seen; "
        f"<code>--on-unreachable {what}</code>.</p>"
        f"<table><tr><th>origin</th><th>items</th><th>why</th></tr>{rows}</table>"
    )


def render_scan_report(
    report: Mapping[str, Any],
    licenses: Mapping[str, Any] | None = None,
    *,
    title: str = "Clearance scan report",
) -> str:
    """The HTML page for a scan's ``report.json`` (and optionally its ``licenses.json``)."""
    items = _n(report.get("items"))
    outcomes = report.get("outcomes") or {}
    cards = "".join(
        f'<div class="card" style="border-left:6px solid {COLOURS[o]}">{o}'
        f"<b>{_n(outcomes.get(o)):,}</b></div>"
        for o in OUTCOMES
    )
    outcome_rows = "".join(_bar(o, _n(outcomes.get(o)), items, COLOURS[o]) for o in OUTCOMES)
    sources = report.get("by_reason_source") or {}
    top_source = max((_n(v) for v in sources.values()), default=0)
    source_rows = "".join(_bar(str(s), _n(v), top_source, "#1565c0") for s, v in sources.items())
    domains = report.get("by_domain") or {}
    top_domain = max((_n(c.get("items")) for c in domains.values()), default=0)
    domain_rows = "".join(_stacked(str(d), c, top_domain) for d, c in domains.items())
    owners = report.get("by_owner") or {}
    top_owner = max((_n(c.get("items")) for c in owners.values()), default=0)
    owner_rows = "".join(_stacked(str(o), c, top_owner) for o, c in owners.items())
    meta = (
        f"{items:,} items · purpose <b>{escape(str(report.get('purpose', '')))}</b> · "
        f"mode <b>{escape(str(report.get('mode', '')))}</b> · "
        f"report format {escape(str(report.get('format_version', '')))}"
    )

    def section(name: str, rows: str, empty: str) -> str:
        body = f"<table>{rows}</table>" if rows else f"<p>{empty}</p>"
        return f"<h2>{name}</h2>{body}"

    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><meta name="viewport" content="width=device-width">'
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{meta}</p>'
        f'<div class="cards">{cards}</div>'
        + _unreachable(report)
        + section("Outcomes", outcome_rows, "No items.")
        + section("Why items were decided (by evidence source)", source_rows, "No evidence.")
        + _legend()
        + section(
            f"Top domains ({len(domains)} of {_n(report.get('domains'))})",
            domain_rows,
            "No URL items.",
        )
        + section("By rights holder", owner_rows, "No registered works matched.")
        + _licences(licenses)
        + "</body></html>"
    )

"""``report.html``: a scan as one self-contained page a compliance team can read and act on.

What it shows, top to bottom: what was scanned and how (date, input,
registry state, purpose, mode, version); the outcome counts; which evidence
sources allowed and which denied; the origins (scheme, host and port) and the
rights holders the items came from; the licence bill; and the table of the
items to act on (excluded, needing a licence or review, or unreadable) with
their reasons, source and owner, searchable and paged in the page.

Nothing is loaded from anywhere: the charts are inline SVG, the styles are
inline and the one script (search and paging for the item table) is inline
too; with scripts off the table simply shows every row. Every value is
HTML-escaped, because sources, owners, reasons and errors come from the
scanned data. The page is assembled from ``SECTIONS``, one function per
section, each taking the same ``Page`` and returning its HTML, so a new
section is one function and one entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from clearance.scan.decide import reason_text, source_label

COLOURS = {
    "include": "#2e7d32",
    "exclude": "#c62828",
    "needs-license": "#f9a825",
    "review": "#6a1b9a",
    "error": "#6d6d6d",
}
OUTCOMES = ("include", "exclude", "needs-license", "review", "error")
PERMISSION_COLOURS = {
    "deny": "#c62828",
    "license": "#f9a825",
    "allow": "#2e7d32",
    "unknown": "#9e9e9e",
}
PERMISSION_LABELS = {
    "deny": "denied",
    "license": "licence required",
    "allow": "allowed",
    "unknown": "no statement",
}
ACT_ON = ("exclude", "needs-license", "review", "error")
"""The outcomes a person has to act on: these items are listed one by one."""
MAX_ITEMS = 10_000
"""The most items the page lists; the rest are in ``decisions.parquet``."""
PAGE_SIZE = 50

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem}
body{color:#1b1b1b}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
.meta dt{color:#555}.meta dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}
td.src{overflow-wrap:anywhere;max-width:32rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{flex:1;min-width:140px;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem}
.card b{display:block;font-size:1.6rem}
.chart{display:flex;gap:1.5rem;align-items:flex-start;flex-wrap:wrap}
.chart table{width:auto;flex:1}
.legend{list-style:none;margin:.5rem 0;padding:.5rem .8rem;border:1px solid #eee;border-radius:6px}
.legend li{white-space:nowrap;margin:.15rem 0}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.4rem;vertical-align:middle}
.tag{color:#fff;border-radius:3px;padding:0 .35rem;font-size:.85rem;white-space:nowrap}
.tag.needs-license{color:#1b1b1b}
.note{color:#555}
.controls,.pager{display:none;gap:.6rem;align-items:center;margin:.5rem 0}
.js .controls,.js .pager{display:flex}
.controls input{flex:1;padding:.3rem .5rem;font:inherit}
@media print{.controls,.pager{display:none!important}tr[hidden]{display:table-row!important}}
"""

_SCRIPT = """
(function () {
  var doc = document.documentElement;
  var table = document.getElementById("item-table");
  if (!table) { return; }
  doc.classList.add("js");
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
  var search = document.getElementById("item-search");
  var outcome = document.getElementById("item-outcome");
  var status = document.getElementById("item-status");
  var prev = document.getElementById("item-prev");
  var next = document.getElementById("item-next");
  var size = PAGE_SIZE, page = 0, hits = [];
  function show() {
    var pages = Math.max(1, Math.ceil(hits.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    rows.forEach(function (r) { r.hidden = true; });
    hits.slice(page * size, (page + 1) * size).forEach(function (i) { rows[i].hidden = false; });
    var first = hits.length ? page * size + 1 : 0;
    var last = Math.min(hits.length, (page + 1) * size);
    status.textContent = first + "\u2013" + last + " of " + hits.length + " items \u00b7 page " +
      (page + 1) + " of " + pages;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  function filter() {
    var words = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var wanted = outcome.value;
    hits = [];
    rows.forEach(function (r, i) {
      if (wanted && r.getAttribute("data-outcome") !== wanted) { return; }
      for (var w = 0; w < words.length; w++) {
        if (texts[i].indexOf(words[w]) < 0) { return; }
      }
      hits.push(i);
    });
    page = 0;
    show();
  }
  search.addEventListener("input", filter);
  outcome.addEventListener("change", filter);
  prev.addEventListener("click", function () { page -= 1; show(); });
  next.addEventListener("click", function () { page += 1; show(); });
  filter();
})();
""".replace("PAGE_SIZE", str(PAGE_SIZE))


def _n(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass
class Page:
    """What the sections draw from: the report, the licence bill and the decision rows."""

    report: Mapping[str, Any]
    licenses: Mapping[str, Any] | None = None
    rows: Any = None
    """The decision rows: an Arrow table, or dicts (None: no item table)."""
    title: str = "Clearance scan report"
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything a further section needs (kept out of the signature of ``render_scan_report``)."""


# --------------------------------------------------------------------------- drawing


def _bar(label: str, value: int, total: int, colour: str, width: int = 520) -> str:
    length = 0 if total <= 0 else max(1, round(width * value / total)) if value else 0
    return (
        f'<tr><td>{escape(label)}</td><td class="n">{value:,}</td><td>'
        f'<svg width="{width}" height="14" role="img" aria-label="{escape(label)}: {value}">'
        f'<rect width="{length}" height="14" fill="{colour}"/></svg></td></tr>'
    )


def _stacked(
    label: str,
    counts: Mapping[str, Any],
    scale: int,
    colours: Mapping[str, str],
    names: Mapping[str, str] | None = None,
    width: int = 420,
) -> str:
    """One row: the label, the total and a bar split by ``colours``' keys."""
    x = 0.0
    rects = []
    parts = []
    total = sum(_n(counts.get(k)) for k in colours)
    for key, colour in colours.items():
        value = _n(counts.get(key))
        if not value or scale <= 0:
            continue
        w = width * value / scale
        name = (names or {}).get(key, key)
        rects.append(
            f'<rect x="{x:.1f}" width="{w:.1f}" height="14" fill="{colour}">'
            f"<title>{escape(name)}: {value:,}</title></rect>"
        )
        parts.append(f"{name} {value:,}")
        x += w
    aria = f"{label}: {', '.join(parts) or 'none'}"
    return (
        f'<tr><td class="src">{escape(label)}</td><td class="n">{total:,}</td><td>'
        f'<svg width="{width}" height="14" role="img" aria-label="{escape(aria)}">'
        f"{''.join(rects)}</svg></td></tr>"
    )


def _legend(colours: Mapping[str, str], names: Mapping[str, str] | None = None) -> str:
    items = "".join(
        f'<li><i class="sw" style="background:{c}"></i>{escape((names or {}).get(k, k))}</li>'
        for k, c in colours.items()
    )
    return f'<ul class="legend" aria-label="legend">{items}</ul>'


def _chart(head: str, rows: str, legend: str) -> str:
    """A table of bars with its legend beside it (the legend belongs to this chart only)."""
    return f'<div class="chart"><table>{head}{rows}</table>{legend}</div>'


def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(heading)}</h2>{body}</section>'


# --------------------------------------------------------------------------- sections


def run_section(page: Page) -> str:
    """What was scanned, against what, how, when, by which version."""
    report = page.report
    run = report.get("run") or {}
    state = str(run.get("registry_state", ""))
    facts = [
        ("Scanned", run.get("as_of")),
        ("Input", run.get("input")),
        ("Input kind", run.get("input_kind")),
        ("Registry", run.get("registry")),
        ("Registry state", f"{state[:16]}…" if len(state) > 16 else state),
        ("Purpose", report.get("purpose")),
        ("Mode", report.get("mode")),
        ("Web signals", run.get("web")),
        ("Matching", run.get("match")),
        ("Licensee", run.get("licensee") or "none"),
        ("Items", f"{_n(report.get('items')):,}"),
        ("Clearance version", run.get("version")),
        ("Report format", report.get("format_version")),
    ]
    rows = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts if v not in (None, "")
    )
    return f'<dl class="meta" id="run">{rows}</dl>'


def outcome_section(page: Page) -> str:
    items = _n(page.report.get("items"))
    outcomes = page.report.get("outcomes") or {}
    cards = "".join(
        f'<div class="card" style="border-left:6px solid {COLOURS[o]}">{o}'
        f"<b>{_n(outcomes.get(o)):,}</b></div>"
        for o in OUTCOMES
    )
    rows = "".join(_bar(o, _n(outcomes.get(o)), items, COLOURS[o]) for o in OUTCOMES)
    act = sum(_n(outcomes.get(o)) for o in ACT_ON)
    link = (
        f'<p><a href="#items">{act:,} item{"s" * (act != 1)} to act on</a>, with the reasons</p>'
        if act and page.rows is not None
        else ""
    )
    return f'<div class="cards">{cards}</div>{link}' + _section(
        "outcomes", "Outcomes", f"<table>{rows}</table>" if items else "<p>No items.</p>"
    )


def sources_section(page: Page) -> str:
    """Per evidence source, how many items it denied, required a licence for, or allowed."""
    by_perm: Mapping[str, Any] = page.report.get("by_reason_permission") or {}
    if not by_perm:  # a report from before by_reason_permission: counts only
        by_perm = {
            s: {"unknown": v} for s, v in (page.report.get("by_reason_source") or {}).items()
        }
    if not by_perm:
        return _section("sources", "Evidence sources", "<p>No evidence bore on the purpose.</p>")
    top = max(sum(_n(v) for v in c.values()) for c in by_perm.values())
    rows = "".join(
        _stacked(source_label(s), c, top, PERMISSION_COLOURS, PERMISSION_LABELS)
        for s, c in sorted(by_perm.items(), key=lambda kv: (-sum(map(_n, kv[1].values())), kv[0]))
    )
    head = '<tr><th>source</th><th class="n">items</th><th>what it said</th></tr>'
    body = (
        '<p class="note">Items whose reasons cite each source, split by what the source said '
        "for the purpose (an item can cite several sources).</p>"
        + _chart(head, rows, _legend(PERMISSION_COLOURS, PERMISSION_LABELS))
    )
    return _section("sources", "Why items were decided, by evidence source", body)


def origins_section(page: Page) -> str:
    report = page.report
    origins: Mapping[str, Any] = report.get("by_origin") or report.get("by_domain") or {}
    count = _n(report.get("origins") if "by_origin" in report else report.get("domains"))
    if not origins:
        return _section("origins", "Origins", "<p>No URL items.</p>")
    top = max(_n(c.get("items")) for c in origins.values())
    rows = "".join(_stacked(str(o), c, top, COLOURS) for o, c in origins.items())
    head = '<tr><th>origin</th><th class="n">items</th><th>outcomes</th></tr>'
    heading = f"Top origins ({len(origins):,} of {count:,}, by scheme, host and port)"
    return _section("origins", heading, _chart(head, rows, _legend(COLOURS)))


def owners_section(page: Page) -> str:
    """One row per rights holder whose works matched: items by outcome, works, licence bill."""
    owners: Mapping[str, Any] = page.report.get("by_owner") or {}
    if not owners:
        return _section("owners", "By rights holder", "<p>No registered works matched.</p>")
    works = page.report.get("owner_works") or {}
    bills = {
        str(o.get("owner", "")): ", ".join(f"{v} {c}" for c, v in (o.get("totals") or {}).items())
        for o in (page.licenses or {}).get("owners") or []
    }
    top = max(_n(c.get("items")) for c in owners.values())
    cols = "".join(f'<th class="n">{o}</th>' for o in OUTCOMES)
    head = f'<tr><th>owner</th><th class="n">works</th>{cols}<th>licence bill</th></tr>'
    rows = "".join(
        f'<tr><td class="src">{escape(str(o))}</td><td class="n">{_n(works.get(o)):,}</td>'
        + "".join(f'<td class="n">{_n(c.get(x)):,}</td>' for x in OUTCOMES)
        + f"<td>{escape(bills.get(str(o), '') or '-')}</td></tr>"
        for o, c in owners.items()
    )
    bars = "".join(_stacked(str(o), c, top, COLOURS) for o, c in owners.items())
    bar_head = '<tr><th>owner</th><th class="n">items</th><th>outcomes</th></tr>'
    body = f"<table>{head}{rows}</table>" + _chart(bar_head, bars, _legend(COLOURS))
    return _section("owners", "By rights holder", body)


def licences_section(page: Page) -> str:
    licenses = page.licenses
    if not licenses:
        return ""
    owners = licenses.get("owners") or []
    if not owners:
        return _section("licences", "Licences needed", "<p>No item needs a licence.</p>")
    rows = []
    for owner in owners:
        name = str(owner.get("owner", ""))
        works = owner.get("works") or []
        items = sum(_n(w.get("item_count")) for w in works)
        totals = owner.get("totals") or {}
        total = ", ".join(f"{escape(str(v))} {escape(str(c))}" for c, v in totals.items()) or "-"
        rows.append(
            f'<tr><td>{escape(name)}</td><td class="n">{len(works):,}</td>'
            f'<td class="n">{items:,}</td><td class="n">{total}</td></tr>'
        )
    grand = licenses.get("totals") or {}
    grand_text = ", ".join(f"{escape(str(v))} {escape(str(c))}" for c, v in grand.items()) or "-"
    body = (
        '<table><tr><th>owner</th><th class="n">works</th><th class="n">items</th>'
        '<th class="n">total</th></tr>'
        + "".join(rows)
        + f"</table><p>Total: <b>{grand_text}</b></p>"
    )
    return _section("licences", "Licences needed", body)


def _owners_of(row: Mapping[str, Any]) -> list[str]:
    try:
        works = json.loads(row.get("evidence") or "{}").get("works", [])
    except (TypeError, ValueError):
        return []
    return sorted({str(w.get("owner", "")) for w in works if isinstance(w, dict)})


def _item_row(row: Mapping[str, Any]) -> str:
    outcome = str(row.get("outcome", ""))
    colour = COLOURS.get(outcome, "#6d6d6d")
    if outcome == "error":
        why = [f"error: {row.get('error') or 'unknown'}"]
    else:
        why = [reason_text(str(r)) for r in row.get("reasons") or []] or ["(no reason recorded)"]
    works = ", ".join(str(w) for w in row.get("work_ids") or [])
    return (
        f'<tr data-outcome="{escape(outcome)}">'
        f'<td><span class="tag {escape(outcome)}" style="background:{colour}">'
        f"{escape(outcome)}</span></td>"
        f'<td class="src">{escape(str(row.get("source", "")))}</td>'
        f"<td>{'<br>'.join(escape(w) for w in why)}</td>"
        f"<td>{escape(', '.join(_owners_of(row)) or '-')}</td>"
        f'<td class="n">{escape(works or "-")}</td>'
        f"<td><code>{escape(str(row.get('item_id', '')))}</code></td></tr>"
    )


def _acted_on(rows: Any) -> tuple[int, list[Mapping[str, Any]]]:
    """How many rows are to act on, and the first ``MAX_ITEMS`` of them as dicts; ``rows``
    is the decisions as an Arrow table (filtered without making a dict per row) or dicts."""
    import pyarrow as pa

    if isinstance(rows, pa.Table):
        import pyarrow.compute as pc

        chosen = rows.filter(pc.is_in(rows.column("outcome"), pa.array(list(ACT_ON))))
        return chosen.num_rows, chosen.slice(0, MAX_ITEMS).to_pylist()
    listed = [r for r in rows if r.get("outcome") in ACT_ON]
    return len(listed), listed[:MAX_ITEMS]


def items_section(page: Page) -> str:
    """The items to act on, one row each (the first ``MAX_ITEMS``), searchable and paged."""
    if page.rows is None:
        return ""
    total, shown = _acted_on(page.rows)
    if not total:
        return _section("items", "Items to act on", "<p>Every item may be used.</p>")
    note = f"{total:,} items were excluded, need a licence or review, or could not be read."
    if total > MAX_ITEMS:
        note += (
            f" The first {MAX_ITEMS:,} are listed here; every item is in "
            "<code>decisions.parquet</code>, for example "
            '<code>duckdb -c "SELECT outcome, source, reasons, error FROM '
            "'decisions.parquet' WHERE outcome &lt;&gt; 'include'\"</code> or "
            "<code>pyarrow.parquet.read_table('decisions.parquet').filter(...)</code>."
        )
    options = "".join(
        f'<option value="{o}">{o}</option>'
        for o in ACT_ON
        if any(r.get("outcome") == o for r in shown)
    )
    controls = (
        '<div class="controls"><input type="search" id="item-search" '
        'placeholder="Search sources, reasons, owners, errors" aria-label="Search the items">'
        '<select id="item-outcome" aria-label="Outcome"><option value="">every outcome</option>'
        f"{options}</select></div>"
    )
    head = (
        "<thead><tr><th>outcome</th><th>source</th><th>why</th><th>owner</th>"
        '<th class="n">works</th><th>item id</th></tr></thead>'
    )
    table = (
        f'<table id="item-table">{head}<tbody>'
        + "".join(_item_row(r) for r in shown)
        + "</tbody></table>"
    )
    pager = (
        '<div class="pager"><button type="button" id="item-prev">Previous</button>'
        '<span id="item-status" aria-live="polite"></span>'
        '<button type="button" id="item-next">Next</button></div>'
    )
    body = f'<p class="note">{note}</p>{controls}{table}{pager}<script>{_SCRIPT}</script>'
    return _section("items", "Items to act on", body)


def unreachable_section(page: Page) -> str:
    """The URL rows whose site signals could not be read: never a silent include."""
    info = page.report.get("unreachable") or {}
    items = _n(info.get("items"))
    if not items:
        return ""
    what = escape(str(info.get("on_unreachable", "include")))
    rows = "".join(
        f'<tr><td>{escape(str(o.get("origin", "")))}</td><td class="n">{_n(o.get("items")):,}'
        f"</td><td>{escape(str(o.get('reason', '')))}</td></tr>"
        for o in info.get("top") or []
    )
    body = (
        f"<p><b>{items:,}</b> URL items from {_n(info.get('origins')):,} origins: their site "
        "signals (robots.txt, ai.txt, tdmrep.json) could not be read, so no opt-out there "
        f"could be seen; <code>--on-unreachable {what}</code>.</p>"
        f"<table><tr><th>origin</th><th>items</th><th>why</th></tr>{rows}</table>"
    )
    return _section("unreachable", "Sites that could not be read", body)


Section = Callable[[Page], str]
SECTIONS: list[Section] = [
    run_section,
    unreachable_section,
    outcome_section,
    sources_section,
    origins_section,
    owners_section,
    licences_section,
    items_section,
]
"""The page's sections in order; each returns its HTML ("" to leave itself out)."""


def render_scan_report(
    report: Mapping[str, Any],
    licenses: Mapping[str, Any] | None = None,
    *,
    rows: Any = None,
    title: str = "Clearance scan report",
    sections: Sequence[Section] | None = None,
) -> str:
    """The HTML page for a scan's ``report.json``, its ``licenses.json`` and its decision rows."""
    page = Page(report, licenses, rows, title)
    body = "".join(section(page) for section in (sections or SECTIONS))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(title)}</title><meta name="viewport" content="width=device-width">'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )

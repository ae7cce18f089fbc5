"""One small document model for the compliance texts, and its three renderings.

The EU summary, the AB 2013 disclosure and the copyright policy are all
numbered sections of labelled fields, tables and paragraphs. Building them as
data first (``Document``) and rendering second keeps Markdown, HTML and JSON
saying exactly the same thing, and lets a test check the content without
parsing prose. Each field records where its value came from: ``scan`` (the
scans measured it), ``info`` (the provider stated it in the info file),
``policy`` (the operator's configuration) or ``missing`` (nobody did: shown
as such, never filled in).

HTML is one self-contained page (no scripts, fonts or requests); every value
is escaped, because domains, owners and dataset names come from data. The
Markdown escapes table pipes and line breaks in values for the same reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from clearance.core.errors import UserError
from clearance.core.files import write_output_text

MISSING = "Not provided"
FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: Any
    source: str
    key: str = ""
    """The info key (``model.name``) a provider-stated value comes from, for missing ones."""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"label": self.label, "value": self.value, "source": self.source}
        if self.key:
            out["key"] = self.key
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""
    source: str = "scan"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": {
                "caption": self.caption,
                "columns": list(self.columns),
                "rows": [list(r) for r in self.rows],
                "source": self.source,
            }
        }


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    source: str = "scan"

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "source": self.source}


Entry = Field | Table | Text


@dataclass(slots=True)
class Section:
    number: str
    title: str
    entries: list[Entry] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "entries": [e.to_dict() for e in self.entries],
            "sections": [s.to_dict() for s in self.sections],
        }


@dataclass(slots=True)
class Document:
    format: str
    title: str
    intro: list[str]
    sections: list[Section]
    missing: list[str]
    scans: list[dict[str, Any]] = field(default_factory=list)
    references: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "format_version": 1,
            "title": self.title,
            "intro": self.intro,
            "sections": [s.to_dict() for s in self.sections],
            "missing": self.missing,
            "scans": self.scans,
            "references": self.references,
        }


def stated(info_value: Any, label: str, key: str, note: str = "") -> Field:
    """A field the provider states in the info file (``missing`` when it does not)."""
    if info_value is None:
        return Field(label, None, "missing", key, note)
    return Field(label, info_value, "info", key, note)


# --- rendering -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items()) or "none"
    return str(value)


def _md_cell(value: Any) -> str:
    return _text(value).replace("|", "\\|").replace("\n", " ")


def _md_section(s: Section, depth: int, out: list[str]) -> None:
    out.append(f"{'#' * min(depth, 6)} {s.number} {s.title}".replace("  ", " ").rstrip())
    out.append("")
    for e in s.entries:
        if isinstance(e, Field):
            value = _md_cell(e.value)
            if e.source == "missing":
                value = f"**{MISSING}** (`{e.key}` is missing from the info file)"
            note = f" — {e.note}" if e.note else ""
            out.append(f"- **{e.label}:** {value}{note}")
        elif isinstance(e, Table):
            if out[-1] != "":
                out.append("")
            if e.caption:
                out.append(f"*{e.caption}*")
                out.append("")
            if e.rows:
                out.append("| " + " | ".join(_md_cell(c) for c in e.columns) + " |")
                out.append("|" + "---|" * len(e.columns))
                out.extend("| " + " | ".join(_md_cell(c) for c in r) + " |" for r in e.rows)
            else:
                out.append("(none)")
            out.append("")
        else:
            if out[-1] != "":
                out.append("")
            out.append(e.text)
            out.append("")
    if out[-1] != "":
        out.append("")
    for sub in s.sections:
        _md_section(sub, depth + 1, out)


def render_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for para in doc.intro:
        out += [para, ""]
    for s in doc.sections:
        _md_section(s, 2, out)
    if doc.missing:
        out += ["## Missing information", ""]
        out.append(
            "These fields need the provider's answer (add them to the info file); "
            "nothing was filled in for them:"
        )
        out.append("")
        out += [f"- `{k}`" for k in doc.missing]
        out.append("")
    if doc.references:
        out += ["## References", ""] + [f"- {r}" for r in doc.references] + [""]
    return "\n".join(out).rstrip() + "\n"


_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:960px;padding:0 1rem;"
    "color:#1b1b1b}h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #ddd;"
    "margin-top:2rem}h3,h4{font-size:1.1rem}table{border-collapse:collapse;margin:.5rem 0}"
    "td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    ".missing{color:#b00020;font-weight:600}.src{color:#666;font-size:.85em}"
)


def _html_section(s: Section, depth: int, out: list[str]) -> None:
    h = min(depth, 6)
    out.append(f"<h{h}>{escape(s.number)} {escape(s.title)}</h{h}>")
    fields = [e for e in s.entries if isinstance(e, Field)]
    if fields:
        out.append("<dl>")
    for e in s.entries:
        if isinstance(e, Field):
            if e.source == "missing":
                value = (
                    f'<span class="missing">{MISSING}</span> '
                    f'<span class="src">(<code>{escape(e.key)}</code> is missing)</span>'
                )
            else:
                value = escape(_text(e.value)) + f' <span class="src">[{escape(e.source)}]</span>'
            note = f" — {escape(e.note)}" if e.note else ""
            out.append(f"<dt>{escape(e.label)}</dt><dd>{value}{note}</dd>")
    if fields:
        out.append("</dl>")
    for e in s.entries:
        if isinstance(e, Table):
            if e.caption:
                out.append(f"<p><em>{escape(e.caption)}</em></p>")
            if not e.rows:
                out.append("<p>(none)</p>")
                continue
            out.append("<table><thead><tr>")
            out += [f"<th>{escape(str(c))}</th>" for c in e.columns]
            out.append("</tr></thead><tbody>")
            for r in e.rows:
                out.append("<tr>" + "".join(f"<td>{escape(_text(c))}</td>" for c in r) + "</tr>")
            out.append("</tbody></table>")
        elif isinstance(e, Text):
            out.append(f"<p>{escape(e.text)}</p>")
    for sub in s.sections:
        _html_section(sub, depth + 1, out)


def render_html(doc: Document) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(doc.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(doc.title)}</h1>",
    ]
    out += [f"<p>{escape(p)}</p>" for p in doc.intro]
    for s in doc.sections:
        _html_section(s, 2, out)
    if doc.missing:
        out.append("<h2>Missing information</h2><ul>")
        out += [f"<li><code>{escape(k)}</code></li>" for k in doc.missing]
        out.append("</ul>")
    if doc.references:
        out.append("<h2>References</h2><ul>")
        out += [f"<li>{escape(r)}</li>" for r in doc.references]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_json(doc: Document) -> str:
    return json.dumps(doc.to_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


def render(doc: Document, fmt: str) -> str:
    if fmt == "md":
        return render_markdown(doc)
    if fmt == "html":
        return render_html(doc)
    if fmt == "json":
        return render_json(doc)
    raise UserError(f"unknown output format {fmt!r}", hint="use md, html or json")


def format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"cannot tell the output format of {path.name}",
            hint="end --out with .md, .html or .json",
        )
    return fmt


def write_document(doc: Document, out: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Render ``doc`` into ``out`` (format from ``fmt`` or the suffix), atomically."""
    path = Path(out)
    return write_output_text(path, render(doc, fmt or format_of(path)))

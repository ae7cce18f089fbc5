"""How the CLI talks back: one JSON document on stdout with ``--json``, Rich otherwise.

Errors go to stderr as one line; the exit code comes from the error class
(2 for user errors, 3 for external failures).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from clearance.core.models import Terms, Work
from clearance.core.usage import ALL_USAGES, Permission
from clearance.core.validation import clean_data_text

stderr = Console(stderr=True)


def safe(text: object) -> str:
    """Text from the registry or from data, made safe to print in a terminal.

    Control characters (terminal escape sequences), bidi overrides and
    undecodable bytes are shown escaped, and Rich markup in it is escaped too,
    so a name like ``\x1b]0;owned\x07`` or ``[blink]`` prints as what it is.
    """
    return escape(clean_data_text(str(text), limit=10_000))


WIDE_WIDTH = 100_000
"""The console width under ``--wide``: wide enough that no row wraps."""


def stdout(wide: bool = False) -> Console:
    """The console for results: the terminal's width (tables wrap), or unbounded (``--wide``)."""
    return Console(width=WIDE_WIDTH) if wide else Console()


def new_table(*columns: str, title: str | None = None, wide: bool = False, **options: Any) -> Table:
    """A table whose cells wrap (long words folded) to fit the terminal, never cut with "…".

    With ``wide`` every cell stays on one line, for a wide terminal or ``less -S``.
    """
    table = Table(title=title, **options)
    for name in columns:
        table.add_column(name, overflow="fold", no_wrap=wide)
    return table


def emit_json(document: Any) -> None:
    """Print exactly one JSON document to stdout.

    Text that cannot be written as UTF-8 (undecodable bytes in a file name)
    falls back to ASCII JSON, where it is a ``\\udcXX`` escape: still one valid document.
    """
    try:
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(document, indent=2, ensure_ascii=True, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


TERMS_ORDER = (Permission.DENY, Permission.LICENSE, Permission.ALLOW)


def terms_text(terms: Terms) -> str:
    """A work's effective terms as a person reads them, one line per permission.

    ``deny: tdm, output (implied: train-ai, train-genai, ai-input)`` and
    ``license: train-ai at 0.02 EUR per item, output at 0.01 EUR per output``; ``-`` when
    nothing is stated.
    """
    effective = terms.effective()
    lines = []
    for perm in TERMS_ORDER:
        usages = [u for u in ALL_USAGES if effective[u] is perm]
        if not usages:
            continue
        stated = [u for u in usages if terms.stated_by(u) is u]
        implied = [u.value for u in usages if terms.stated_by(u) is not u]
        if len(stated) == len(ALL_USAGES) and perm is not Permission.LICENSE:
            text = "all"
        else:  # a licensed usage names its own price (each usage may have another)
            text = ", ".join(
                f"{u.value} at {terms.prices[u].text()}"
                if perm is Permission.LICENSE and u in terms.prices
                else u.value
                for u in stated
            )
        if implied:
            text += f"{' ' if text else ''}(implied: {', '.join(implied)})"
        lines.append(f"{perm.value}: {text}")
    return "\n".join(lines) or "-"


def works_table(works: list[Work], title: str | None = None, *, wide: bool = False) -> Table:
    table = new_table(
        "id", "kind", "owner", "title / identifier", "terms", "disputed", title=title, wide=wide
    )
    for w in works:
        label = w.title or (w.identifiers[0].value if w.identifiers else "")
        table.add_row(
            str(w.id),
            w.kind.value,
            safe(w.owner.name),
            safe(label),
            terms_text(w.terms),
            "[red]yes[/red]" if w.disputed else "",
        )
    return table


def work_detail(work: Work, *, wide: bool = False) -> Table:
    table = new_table("field", "value", title=f"work {work.id}", show_header=False, wide=wide)
    table.columns[0].style = "bold"
    table.add_row("kind", work.kind.value)
    table.add_row("title", safe(work.title or ""))
    table.add_row("owner", f"{safe(work.owner.name)} (verified: {work.owner.verification.value})")
    for ident in work.identifiers:
        table.add_row(ident.scheme.value, safe(ident.value))
    for usage, perm in work.terms.effective().items():
        source = work.terms.stated_by(usage)
        note = (
            ""
            if source is usage
            else " (unset)"
            if source is None
            else f" (implied by {source.value})"
        )
        table.add_row(f"terms.{usage.value}", f"{perm.value}{note}")
    for usage, p in work.terms.prices.items():
        table.add_row(f"price.{usage.value}", safe(p.describe()))
    for claim in work.claims:
        style = "red" if claim.status.value == "disputed" else ""
        text = f"{safe(claim.party)}: {claim.status.value} (verified: {claim.verification.value})"
        table.add_row("claim", f"[{style}]{text}[/{style}]" if style else text)
    table.add_row("registered", work.created_at.isoformat(timespec="seconds"))
    return table


@contextmanager
def progress_bar(enabled: bool, description: str) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr, or None when disabled (``--json``)."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    with bar:
        yield bar

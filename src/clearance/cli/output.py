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

from clearance.core.models import Work
from clearance.core.validation import clean_data_text

stderr = Console(stderr=True)


def safe(text: object) -> str:
    """Text from the registry or from data, made safe to print in a terminal.

    Control characters (terminal escape sequences), bidi overrides and
    undecodable bytes are shown escaped, and Rich markup in it is escaped too,
    so a name like ``\x1b]0;owned\x07`` or ``[blink]`` prints as what it is.
    """
    return escape(clean_data_text(str(text), limit=10_000))


def stdout() -> Console:
    return Console()


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


def works_table(works: list[Work], title: str | None = None) -> Table:
    table = Table(title=title)
    for col in ("id", "kind", "owner", "title / identifier", "terms", "disputed"):
        table.add_column(col)
    for w in works:
        label = w.title or (w.identifiers[0].value if w.identifiers else "")
        stated = ", ".join(f"{u.value}={p.value}" for u, p in w.terms.permissions.items()) or "-"
        table.add_row(
            str(w.id),
            w.kind.value,
            safe(w.owner.name),
            safe(label),
            stated,
            "[red]yes[/red]" if w.disputed else "",
        )
    return table


def work_detail(work: Work) -> Table:
    table = Table(title=f"work {work.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("kind", work.kind.value)
    table.add_row("title", safe(work.title or ""))
    table.add_row("owner", safe(work.owner.name))
    for ident in work.identifiers:
        table.add_row(ident.scheme.value, safe(ident.value))
    for usage, perm in work.terms.effective().items():
        stated = "" if usage in work.terms.permissions else " (implied/unset)"
        table.add_row(f"terms.{usage.value}", f"{perm.value}{stated}")
    for usage, p in work.terms.prices.items():
        table.add_row(f"price.{usage.value}", safe(p.describe()))
    for claim in work.claims:
        style = "red" if claim.status.value == "disputed" else ""
        table.add_row(
            "claim",
            f"[{style}]{safe(claim.party)}: {claim.status.value}[/{style}]"
            if style
            else f"{safe(claim.party)}: {claim.status.value}",
        )
    table.add_row("registered", work.created_at.isoformat())
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

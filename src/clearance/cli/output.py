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

stderr = Console(stderr=True)


def stdout() -> Console:
    return Console()


def emit_json(document: Any) -> None:
    """Print exactly one JSON document to stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
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
            w.owner.name,
            label,
            stated,
            "[red]yes[/red]" if w.disputed else "",
        )
    return table


def work_detail(work: Work) -> Table:
    table = Table(title=f"work {work.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("kind", work.kind.value)
    table.add_row("title", work.title or "")
    table.add_row("owner", work.owner.name)
    for ident in work.identifiers:
        table.add_row(ident.scheme.value, ident.value)
    for usage, perm in work.terms.effective().items():
        stated = "" if usage in work.terms.permissions else " (implied/unset)"
        table.add_row(f"terms.{usage.value}", f"{perm.value}{stated}")
    if work.terms.price:
        p = work.terms.price
        table.add_row("price", f"{p.amount} {p.currency} per {p.per.value}")
    for claim in work.claims:
        style = "red" if claim.status.value == "disputed" else ""
        table.add_row(
            "claim",
            f"[{style}]{claim.party}: {claim.status.value}[/{style}]"
            if style
            else f"{claim.party}: {claim.status.value}",
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

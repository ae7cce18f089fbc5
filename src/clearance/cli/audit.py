"""``clearance audit``: read the append-only audit log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from clearance.cli.options import JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, stdout
from clearance.service import open_registry


def audit_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N entries.")] = 50,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show the newest entries of the registry's audit log."""
    with open_registry(settings(registry)) as store:
        entries = store.audit_log(limit=limit)
    if json:
        emit_json(
            {
                "entries": [
                    {
                        "id": e.id,
                        "at": e.at.isoformat(),
                        "actor": e.actor,
                        "action": e.action,
                        "entity": e.entity,
                        "entity_id": e.entity_id,
                        "detail": e.detail,
                    }
                    for e in entries
                ]
            }
        )
        return
    table = Table(title="audit log")
    for col in ("id", "at", "actor", "action", "entity"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            str(e.id),
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            f"{e.entity} {e.entity_id or ''}",
        )
    stdout().print(table)

"""``clearance audit`` (read the append-only audit log) and ``clearance audit verify``.

``verify`` recomputes the hash chains of the audit log and the usage ledger
(``clearance.registry.ledger``) and, with ``--anchor FILE``, compares them with
the heads recorded by the previous run, then records the new heads there.
A broken chain exits 4 (``LedgerTampered``).
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from clearance.cli.options import CountOpt, JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.core.errors import LedgerTampered, UserError
from clearance.core.files import atomic_write_text
from clearance.registry.ledger import anchor_of, check_anchor
from clearance.service import open_registry

app = typer.Typer(
    help="Read and verify the append-only audit log.",
    invoke_without_command=True,
)


@app.callback()
def audit_command(
    ctx: typer.Context,
    limit: Annotated[int, CountOpt("--limit", help="Newest N entries.")] = 50,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Show the newest entries of the registry's audit log (``verify``: check its hash chain)."""
    if ctx.invoked_subcommand is not None:
        return
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
    table = new_table("id", "at", "actor", "action", "entity", title="audit log", wide=wide)
    for e in entries:
        table.add_row(
            str(e.id),
            e.at.isoformat(timespec="seconds"),
            safe(e.actor),
            safe(e.action),
            f"{safe(e.entity)} {e.entity_id or ''}",
        )
    stdout(wide).print(table)


def _read_anchor(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    if not path.is_file():
        raise UserError(f"the anchor {path} is not a regular file")
    try:
        doc = jsonlib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the anchor {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise UserError(f"the anchor {path} is not a JSON object")
    return doc


def _write_anchor(path: Path, doc: dict[str, Any]) -> None:
    try:
        atomic_write_text(path, jsonlib.dumps(doc, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the anchor {path}: {exc.strerror or exc}") from None


@app.command("verify")
def verify(
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            metavar="FILE",
            help="Heads recorded by the last run: compare with them, then record the new ones.",
        ),
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Recompute the hash chains of the audit log and the usage ledger; exit 4 if broken."""
    previous = _read_anchor(anchor) if anchor is not None else None
    with open_registry(settings(registry)) as store:
        reports = store.verify_ledger()
        anchor_problems = check_anchor(store.engine, reports, previous) if previous else []
    problems = [r.problem for r in reports if r.problem] + anchor_problems
    if json:
        emit_json(
            {
                "ok": not problems,
                "ledgers": [r.to_dict() for r in reports],
                "anchor": str(anchor) if anchor is not None else None,
                "anchor_problems": anchor_problems,
            }
        )
    else:
        out = stdout()
        for r in reports:
            state = "[green]ok[/]" if r.ok else "[red]BROKEN[/]"
            out.print(f"{r.table}: {state}, {r.rows} rows verified, head {r.head[:16]}…")
        for p in anchor_problems:
            out.print(f"anchor: [red]{safe(p)}[/]")
    if problems:
        raise LedgerTampered("; ".join(problems))
    if anchor is not None:
        _write_anchor(anchor, anchor_of(reports))

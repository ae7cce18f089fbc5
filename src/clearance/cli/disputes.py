"""``clearance disputes list|show|resolve``: ownership disputes, for the registry's admins."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import IdArg, JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout, terms_text
from clearance.registry.disputes import Dispute, get_dispute, list_disputes, resolve_dispute
from clearance.service import open_registry

app = typer.Typer(
    help="Ownership disputes: list them, show both sides, resolve one.", no_args_is_help=True
)


def _evidence(items: object) -> str:
    if not isinstance(items, tuple) or not items:
        return ""
    return ", ".join(str(e.get("label") or e.get("method")) for e in items if isinstance(e, dict))


def _show(dispute: Dispute, *, wide: bool = False) -> None:
    out = stdout(wide)
    w = dispute.work
    out.print(
        f"dispute {dispute.id} ({dispute.status}): work {w.id} "
        f"{safe(w.title or w.kind.value)}, owner {safe(w.owner.name)}",
        highlight=False,
    )
    table = new_table(
        "claimant", "status", "claimed", "verification", "terms", "evidence", wide=wide
    )
    for i, c in enumerate(dispute.claims):
        who = safe(c.party) + (" (owner)" if c.owner else "") + (" (first)" if i == 0 else "")
        table.add_row(
            who,
            c.status.value,
            c.created_at.isoformat(timespec="seconds"),
            c.verification,
            terms_text(c.terms),
            safe(_evidence(c.evidence)) or ("-" if c.owner else ""),
        )
    out.print(table)
    if dispute.resolution:
        r = dispute.resolution
        out.print(
            f"resolved {r.get('at')} by {safe(str(r.get('actor')))}: kept "
            f"{safe(str(r.get('keep')))} ({safe(str(r.get('reason')))})",
            highlight=False,
        )


@app.command("list")
def list_command(
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Also list disputes already resolved.")
    ] = False,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """List disputed works (a dispute's id is its work's id), with every claimant."""
    with open_registry(settings(registry)) as store:
        found = list_disputes(store, resolved=resolved)
    if json:
        emit_json({"disputes": [d.to_dict() for d in found], "count": len(found)})
        return
    table = new_table(
        "id", "status", "title", "owner", "claimants", title=f"{len(found)} disputes", wide=wide
    )
    for d in found:
        claimants = ", ".join(f"{c.party} ({c.verification})" for c in d.claims)
        table.add_row(
            str(d.id), d.status, safe(d.work.title or ""), safe(d.work.owner.name), safe(claimants)
        )
    stdout(wide).print(table)


@app.command("show")
def show_command(
    dispute_id: Annotated[int, IdArg("The dispute (its work's id).")],
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Show both sides: each claim's terms, evidence, verification level, and which came first."""
    with open_registry(settings(registry)) as store:
        dispute = get_dispute(store, dispute_id)
    if json:
        emit_json({"dispute": dispute.to_dict()})
    else:
        _show(dispute, wide=wide)


@app.command("resolve")
def resolve_command(
    dispute_id: Annotated[int, IdArg("The dispute (its work's id).")],
    keep: Annotated[
        str, typer.Option("--keep", metavar="OWNER", help="The claimant who keeps the work.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (recorded in the audit log).")
    ],
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            metavar="PARTY",
            help="The admin party recorded as the actor (default CLEARANCE_ACTOR).",
        ),
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Keep one claim (its owner gets the work, with its terms); reject the others."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        dispute = resolve_dispute(
            store, dispute_id, keep=keep, reason=reason, actor=actor or cfg.actor
        )
    if json:
        emit_json({"dispute": dispute.to_dict()})
    else:
        _show(dispute)

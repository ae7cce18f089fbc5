"""``clearance impact`` and ``clearance notices``: what an opt-out reaches in trained models."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import IdOpt, JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.licensing.impact import impact, list_notices
from clearance.service import open_registry


def impact_command(
    work: Annotated[int | None, IdOpt("--work", help="The work.")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="NAME", help="All of this owner's works.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Every recorded run and scan that used the work: when, under which agreement, and the
    terms then."""
    with open_registry(settings(registry)) as store:
        uses = impact(store, work_id=work, owner=owner)
    if json:
        emit_json({"uses": [u.to_dict() for u in uses], "count": len(uses)})
        return
    for u in uses:
        name = f"run {safe(u.name)}" if u.kind == "run" else safe(u.name or "scan")
        model = f", model {safe(u.model)}" if u.model else ""
        agreement = f"agreement {u.agreement_id}" if u.agreement_id else "no agreement"
        changed = {k: (v, u.terms_now[k]) for k, v in u.terms_then.items() if u.terms_now[k] != v}
        now = (
            "; since then " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items())
            if changed
            else ""
        )
        stdout().print(
            f"{u.at.isoformat(timespec='seconds')} work {u.work_id}: {name} by "
            f"{safe(u.licensee)}{model}, {u.items} items, {agreement}{now}",
            highlight=False,
        )
    if not uses:
        stdout().print("no recorded run or scan used it")


def notices_command(
    licensee: Annotated[
        str | None, typer.Option("--licensee", metavar="PARTY", help="Only this licensee's.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Notices queued for licensees when a usage they relied on turned to deny."""
    with open_registry(settings(registry)) as store:
        found = list_notices(store, licensee=licensee)
    if json:
        emit_json({"notices": [n.to_dict() for n in found]})
        return
    for n in found:
        stdout().print(
            f"notice {n.id} {n.at.isoformat(timespec='seconds')} to {safe(n.licensee)} "
            f"from {safe(n.owner)}: {safe(n.detail)}",
            highlight=False,
        )
    if not found:
        stdout().print("no notices")

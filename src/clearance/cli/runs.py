"""``clearance runs record|list``: the run ledger (which training run used which works)."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.licensing.runs import Run, list_runs, record_run
from clearance.service import open_registry

app = typer.Typer(help="Record training runs built from cleared scans.", no_args_is_help=True)


def _line(run: Run) -> str:
    doc = run.to_dict()
    totals = ", ".join(f"{v} {c}" for c, v in doc["totals"].items()) or "no amount"
    model = f" (model {safe(run.model)})" if run.model else ""
    return (
        f"run {run.id} {safe(run.name)}{model}: {safe(run.licensee)} used {doc['works']} works, "
        f"{doc['items']} items for {run.purpose.value}; {totals}"
    )


@app.command("record")
def record(
    scan: Annotated[
        list[str], typer.Option("--scan", metavar="DIR", help="A cleared scan (repeatable).")
    ],
    name: Annotated[str, typer.Option("--name", metavar="RUN", help="The run's name.")],
    licensee: Annotated[str, typer.Option("--licensee", metavar="PARTY", help="Who trained.")],
    model: Annotated[
        str | None, typer.Option("--model", metavar="NAME", help="The model trained.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a run; recording the same scans again changes nothing (keyed by their digests)."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        run, created = record_run(
            store, scan, name=name, licensee=licensee, model=model, actor=cfg.actor
        )
    if json:
        emit_json({"run": run.to_dict(), "created": created})
        return
    prefix = "recorded" if created else "already recorded"
    stdout().print(f"{prefix} {_line(run)}", highlight=False)


@app.command("list")
def list_(
    licensee: Annotated[
        str | None, typer.Option("--licensee", help="Only this licensee's.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """List recorded runs, oldest first."""
    with open_registry(settings(registry)) as store:
        runs = list_runs(store, licensee=licensee)
    if json:
        emit_json({"runs": [r.to_dict() for r in runs]})
        return
    for run in runs:
        stdout().print(_line(run), highlight=False)
    if not runs:
        stdout().print("no runs")

"""``clearance scan INPUT --out DIR``: which items of a dataset may be used, and why.

A thin face over ``clearance.scan.scan``: flags become one ``ScanConfig``, a
Rich progress bar (items/s) runs while it works, and a summary table (or the
report as JSON with ``--json``) comes out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from clearance.cli.options import JsonOpt, MinVerificationOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, new_table, stderr, stdout
from clearance.cli.signals import AgentOpt, PrivateOpt
from clearance.scan.config import DEFAULT_SHARD_SIZE


class _Rate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} items/s" if speed else "- items/s", style="progress.data.speed")


def scan_command(
    ctx: typer.Context,
    input: Annotated[str, typer.Argument(metavar="INPUT", help="Folder, table, glob or tars.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the outputs.")],
    registry: RegistryOpt = None,
    purpose: Annotated[
        str, typer.Option("--purpose", help="train-genai|train-ai|ai-input|search|tdm")
    ] = "train-genai",
    mode: Annotated[
        str | None, typer.Option("--mode", help="opt-out|opt-in (env CLEARANCE_MODE).")
    ] = None,
    min_verification: MinVerificationOpt = None,
    agent: AgentOpt = "Clearance",
    web: Annotated[
        str, typer.Option("--web", help="origin: site files; head: + HEAD per URL; off.")
    ] = "origin",
    allow_private: PrivateOpt = False,
    match: Annotated[
        str,
        typer.Option(
            "--match",
            metavar="LEVEL",
            help="How far matching goes: exact|pdq|regions|embedding (default regions).",
        ),
    ] = "regions",
    licensee: Annotated[
        str | None,
        typer.Option(
            "--licensee", metavar="PARTY", help="Whose licence agreements count as evidence."
        ),
    ] = None,
    base_dir: Annotated[
        str | None,
        typer.Option(
            "--base-dir",
            metavar="DIR",
            help="Tree that path rows and folder links must stay in (default: the input's).",
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="ROLE=COL,...",
            help="Which columns play which roles: url=URL,caption=TEXT,path=... "
            "(LAION's and img2dataset's layouts are recognised without it).",
        ),
    ] = None,
    match_captions: Annotated[
        bool,
        typer.Option("--match-captions", help="Also match captions against registered texts."),
    ] = False,
    on_unreachable: Annotated[
        str | None,
        typer.Option(
            "--on-unreachable",
            metavar="WHAT",
            help="include|exclude|error: rows whose site signals could not be read "
            "(default: include in opt-out mode, exclude in opt-in).",
        ),
    ] = None,
    site_cache: Annotated[
        str | None,
        typer.Option(
            "--site-cache",
            metavar="DIR",
            help="Keep parsed site policies here between runs (env CLEARANCE_SITE_CACHE).",
            envvar="CLEARANCE_SITE_CACHE",
        ),
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="local|ray")] = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", metavar="ADDR", help="Ray cluster address.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes or Ray actors (default: all cores)."),
    ] = None,
    shard_size: Annotated[
        int, typer.Option("--shard-size", min=1, help="Items per shard.")
    ] = DEFAULT_SHARD_SIZE,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a run in DIR.")] = False,
    index_cache: Annotated[
        str | None,
        typer.Option(
            "--index-cache",
            metavar="DIR",
            help="Keep the registry index here between runs (env CLEARANCE_INDEX_CACHE).",
            envvar="CLEARANCE_INDEX_CACHE",
        ),
    ] = None,
    sign_key: Annotated[
        Path | None,
        typer.Option(
            "--sign-key",
            metavar="KEY",
            help="Sign the manifest with this Ed25519 key (clearance keys generate).",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Decide, item by item, whether a dataset may be used for a purpose."""
    from clearance.scan import ScanConfig, scan

    debug = bool(ctx.find_root().params.get("debug"))
    cfg = settings(registry)
    config = ScanConfig.build(
        registry=cfg.registry,
        purpose=purpose,
        mode=mode or cfg.mode,
        min_verification=min_verification or cfg.min_verification,
        agent=agent,
        web=web,
        allow_private=allow_private,
        match=match,
        embedder=cfg.embedder,
        licensee=licensee,
        base_dir=base_dir,
        columns=columns,
        match_captions=match_captions,
        on_unreachable=on_unreachable,
        site_cache=site_cache,
        engine=engine,
        ray_address=ray_address,
        workers=workers,
        shard_size=shard_size,
        index_cache=index_cache,
        sign_key=str(sign_key) if sign_key is not None else None,
        engine_logs=debug,
    )
    bar = Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=json,
    )
    with bar:
        task = bar.add_task("scanning", total=None)
        result = scan(
            input,
            out,
            config,
            resume=resume,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if json:
        emit_json(result.to_dict())
        return
    report = result.report
    table = new_table("outcome", "items", title=f"{report['items']} items for {report['purpose']}")
    table.columns[1].justify = "right"
    for outcome, count in report["outcomes"].items():
        table.add_row(outcome, f"{count:,}")
    console = stdout()
    console.print(table)
    _print_unreachable(report)
    console.print(f"mode {report['mode']}; report: {result.out / 'report.html'}", highlight=False)
    console.print(f"decisions: {result.decisions}", highlight=False)


def _print_unreachable(report: dict[str, Any]) -> None:
    """The URL rows whose site signals could not be read, and the top origins."""
    info = report.get("unreachable") or {}
    if not info.get("items"):
        return
    from rich.markup import escape

    top = escape(", ".join(f"{o['origin']} ({o['items']})" for o in info["top"][:5]))
    stdout().print(
        f"[bold yellow]warning:[/] {info['items']} URL items from {info['origins']} origins "
        f"whose site signals could not be read (--on-unreachable {info['on_unreachable']}): "
        f"{top}",
        markup=True,
        highlight=False,
    )

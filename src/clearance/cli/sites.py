"""``clearance sites fetch INPUT --site-cache DIR``: the polite site pre-pass before scans.

A thin face over ``clearance.scan.sites.fetch_sites``: a progress bar over
the input's distinct origins, then a summary (or ``--json``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import JsonOpt
from clearance.cli.output import emit_json, stderr, stdout
from clearance.cli.signals import AgentOpt, PrivateOpt

app = typer.Typer(help="Site policy files, fetched once for many scans.", no_args_is_help=True)


@app.command("fetch")
def fetch_command(
    input: Annotated[str, typer.Argument(metavar="INPUT", help="Table, glob or folder to scan.")],
    site_cache: Annotated[
        str,
        typer.Option(
            "--site-cache",
            metavar="DIR",
            help="Where the site files go (env CLEARANCE_SITE_CACHE); scans read it.",
            envvar="CLEARANCE_SITE_CACHE",
        ),
    ],
    agent: AgentOpt = "Clearance",
    allow_private: PrivateOpt = False,
    columns: Annotated[
        str | None,
        typer.Option("--columns", metavar="ROLE=COL,...", help="As for scan: url=URL,..."),
    ] = None,
    per_host: Annotated[
        int, typer.Option("--per-host", min=1, help="Requests in flight per host.")
    ] = 2,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Origins in flight at once.")
    ] = 32,
    json: JsonOpt = False,
) -> None:
    """Fetch robots.txt, ai.txt, tdmrep.json (and RSL licences) of every origin, once."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from clearance.scan.sites import fetch_sites

    bar = Progress(
        "[bold]sites", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=stderr, transient=True, disable=json,
    )  # fmt: skip
    with bar:
        task = bar.add_task("sites", total=None)
        result = fetch_sites(
            input,
            site_cache,
            agent=agent,
            allow_private=allow_private,
            columns=columns,
            per_host=per_host,
            concurrency=concurrency,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if json:
        emit_json(result.to_dict())
        return
    stdout().print(
        f"{result.origins} origins of {result.urls} URLs: {result.requests} requests in "
        f"{result.seconds:.1f} s; {result.unreachable} unreachable; cache: {result.site_cache}",
        highlight=False,
        markup=False,
    )
    for origin, reason in result.top_unreachable[:5]:
        stdout().print(f"  unreachable: {origin}: {reason}", highlight=False, markup=False)

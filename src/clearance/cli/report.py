"""``clearance report`` (EU and California summaries from scans) and ``clearance policy``.

Thin faces over ``clearance.reports.summarize`` and ``copyright_policy``; the
output format of ``report`` follows ``--out``'s suffix (.md, .html, .json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt
from clearance.cli.output import emit_json, stderr, stdout

InfoOpt = Annotated[
    Path | None,
    typer.Option("--info", metavar="model.yaml", help="What the scans cannot know (YAML)."),
]


def report_command(
    dirs: Annotated[list[Path], typer.Argument(metavar="DIR...", help="Scan output directories.")],
    format: Annotated[
        str, typer.Option("--format", metavar="eu-summary|ab2013", help="Which summary.")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="PATH", help="File to write (.md/.html/.json).")
    ],
    info: InfoOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write the EU AI Act training-content summary or the AB 2013 disclosure from scans."""
    from clearance.reports import summarize, write_document

    doc = summarize(dirs, format, info)
    path = write_document(doc, out)
    result = {"out": str(path), "format": format, "scans": len(dirs), "missing": doc.missing}
    if json:
        emit_json(result)
        return
    stdout().print(f"{format} written to {path}", highlight=False, soft_wrap=True)
    if doc.missing:
        stderr.print(
            f"{len(doc.missing)} field(s) need the provider's answer in the info file: "
            + ", ".join(doc.missing[:8])
            + (" ..." if len(doc.missing) > 8 else ""),
            highlight=False,
            soft_wrap=True,
        )


def policy_command(
    format: Annotated[
        str, typer.Option("--format", metavar="md|html|json", help="Output format.")
    ] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="Write here (default: stdout).")
    ] = None,
    scan: Annotated[
        Path | None,
        typer.Option("--scan", metavar="DIR", help="Take the configuration from this scan."),
    ] = None,
    purpose: Annotated[
        str, typer.Option("--purpose", help="As for clearance scan.")
    ] = "train-genai",
    mode: Annotated[str, typer.Option("--mode", help="opt-out|opt-in")] = "opt-out",
    web: Annotated[str, typer.Option("--web", help="origin|head|off")] = "origin",
    agent: Annotated[
        str, typer.Option("--agent", help="Your crawler's product token.")
    ] = "Clearance",
    contact: Annotated[
        str | None, typer.Option("--contact", help="Where rights holders send complaints.")
    ] = None,
    info: InfoOpt = None,
    json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Write the operator's copyright policy (AI Act Art. 53(1)(c)) from its configuration."""
    from clearance.reports import copyright_policy, render, write_document

    if json:
        format = "json"
    doc = copyright_policy(
        scan_dir=scan,
        purpose=purpose,
        mode=mode,
        web=web,
        agent=agent,
        info=info,
        contact=contact,
    )
    if out is None:
        typer.echo(render(doc, format), nl=False)
        return
    path = write_document(doc, out, format)
    stdout().print(f"copyright policy written to {path}", highlight=False, soft_wrap=True)

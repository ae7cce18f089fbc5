"""``clearance check FILE... [--text T] [--prompt P] [--licensee PARTY] [--json]``: guard outputs.

Allowed outputs that use a registered work (under the licensee's agreement, or
with attribution) are recorded in the registry's usage-event ledger.

The exit code gates a pipeline step: 0 when every output is allowed, 4 when
any is blocked, 5 when any needs review and none is blocked (2 and 3 as for
every command). 4 is the code of "does not pass" throughout the CLI, as for
evidence that does not verify.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, MinVerificationOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.core.errors import InputNotFound, UserError
from clearance.core.models import VerificationLevel
from clearance.core.policy import Mode
from clearance.guard import GuardIndex, check
from clearance.registry.agreements import record_usage_events
from clearance.registry.register import TEXT_EXTENSIONS
from clearance.service import build_embedder, open_registry

EXIT_BLOCK = 4
"""Some output is blocked (the same code as evidence that fails ``verify``)."""
EXIT_REVIEW = 5
"""Some output needs a person's review, and none is blocked."""


def verdict_exit_code(verdicts: list[str]) -> int:
    """0 all allowed, 4 any blocked, 5 any needing review and none blocked."""
    if "block" in verdicts:
        return EXIT_BLOCK
    if "review" in verdicts:
        return EXIT_REVIEW
    return 0


def check_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(metavar="FILE...", help="Generated images (or .txt texts)."),
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="Generated text to check.")] = None,
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", help="The prompt (or caption) that produced the output."),
    ] = None,
    licensee: Annotated[
        str | None,
        typer.Option(
            "--licensee",
            metavar="PARTY",
            help="Who is generating: their licence agreements can allow licensed works.",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="opt-out: unstated output terms allow; opt-in: only an explicit allow or a "
            "licence held (env CLEARANCE_MODE).",
        ),
    ] = None,
    min_verification: MinVerificationOpt = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Check generated outputs against registered works and characters."""
    if not files and text is None and prompt is None:
        raise UserError("nothing to check", hint="give FILE..., --text or --prompt")
    cfg = settings(registry)
    chosen = Mode.parse(mode or cfg.mode)
    floor = VerificationLevel.parse(min_verification or cfg.min_verification)
    embedder = build_embedder(cfg)
    with open_registry(cfg) as store:
        index = GuardIndex.from_store(store, embedder)
    results = []
    for path in files or []:
        if not path.is_file():
            raise InputNotFound(f"no such file: {path}")
        if path.suffix.lower() in TEXT_EXTENSIONS:
            body = path.read_text(encoding="utf-8", errors="replace")
            results.append(
                check(
                    index,
                    text=body,
                    prompt=prompt,
                    label=str(path),
                    licensee=licensee,
                    mode=chosen,
                    min_verification=floor,
                )
            )
        else:
            results.append(
                check(
                    index,
                    path,
                    prompt=prompt,
                    label=str(path),
                    licensee=licensee,
                    embedder=embedder,
                    mode=chosen,
                    min_verification=floor,
                )
            )
    if text is not None or (prompt is not None and not files):
        label = "--text" if text else "--prompt"
        results.append(
            check(
                index,
                text=text,
                prompt=prompt,
                label=label,
                licensee=licensee,
                mode=chosen,
                min_verification=floor,
            )
        )
    events = [e for r in results for e in r.usage_events]
    if events:  # licensed and attributed outputs go to the usage ledger
        with open_registry(cfg) as store:
            record_usage_events(store, events)
    docs = [r.to_dict() | ({"licensee": licensee} if licensee else {}) for r in results]
    if json:
        emit_json(docs)
    else:
        for r in results:
            colour = {"block": "red", "review": "yellow", "allow": "green"}[r.verdict]
            stdout().print(
                f"[bold {colour}]{r.verdict}[/] {safe(r.input)} "
                f"({r.latency_ms:.1f} ms; checks: {', '.join(r.checks_run)})"
            )
            for reason in r.reasons:
                stdout().print(f"  {safe(reason)}", highlight=False)
    code = verdict_exit_code([r.verdict for r in results])
    if code:
        raise typer.Exit(code)

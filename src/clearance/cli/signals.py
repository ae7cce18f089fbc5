"""``clearance signals URL...`` and ``clearance inspect FILE...``: read every opt-out signal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from clearance.cli.options import JsonOpt, WideOpt, finite_seconds
from clearance.cli.output import emit_json, new_table, progress_bar, safe, stdout
from clearance.core import Mode, resolve
from clearance.fetch import FetchConfig
from clearance.fetch.client import origin_of
from clearance.fetch.evaluate import UrlSignals, WebMode, evaluate_urls
from clearance.signals.embedded import inspect_file
from clearance.signals.mapping import PROTOCOL_USAGES

AgentOpt = Annotated[
    str, typer.Option("--agent", metavar="TOKEN", help="Your crawler's robots.txt product token.")
]
PrivateOpt = Annotated[
    bool, typer.Option("--allow-private", help="Allow private, loopback and link-local addresses.")
]


def signals_command(
    urls: Annotated[list[str], typer.Argument(metavar="URL...")],
    agent: AgentOpt = "Clearance",
    web: Annotated[
        WebMode,
        typer.Option(
            "--web", help="full: site files + page; head: + headers only; origin: site files only."
        ),
    ] = WebMode.FULL,
    allow_private: PrivateOpt = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.1, max=600, callback=finite_seconds, help="Seconds per request."
        ),
    ] = 10.0,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Keep policy files here for 24 h.")
    ] = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Fetch and evaluate every opt-out signal that applies to each URL."""
    for url in urls:  # a bad URL is a bad argument: say so before fetching anything
        origin_of(url)
    config = FetchConfig(
        agent=agent, allow_private=allow_private, timeout=timeout, cache_dir=cache_dir
    )
    with progress_bar(not json and len(urls) > 1, "evaluating") as bar:
        task = bar.add_task("evaluating", total=len(urls)) if bar else None

        def tick(done: int) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done)

        run = evaluate_urls(
            urls, config, web=web if web is not WebMode.OFF else WebMode.ORIGIN, progress=tick
        )
    if json:
        emit_json([r.to_dict() for r in run.results])
        return
    for result in run.results:
        stdout(wide).print(_table(result, wide))


def payment_text(payment: Any) -> str:
    """A licence offer as a person reads it: ``purchase: 1 USD`` or ``crawl: USD 0.01``."""
    if not isinstance(payment, dict):
        return str(payment)
    kind = str(payment.get("type") or "licence")
    amounts = [
        " ".join(str(a.get(k)) for k in ("value", "currency") if a.get(k) is not None)
        for a in payment.get("amounts") or []
        if isinstance(a, dict)
    ]
    terms = [*amounts, *(str(x) for x in payment.get("standard") or [])]
    terms += [str(x) for x in payment.get("custom") or []]
    if payment.get("price"):
        terms.append(str(payment["price"]))
    return f"{kind}: {', '.join(t for t in terms if t)}" if any(terms) else kind


def _table(result: UrlSignals, wide: bool = False) -> Table:
    table = new_table(
        "usage",
        "permission",
        "evidence",
        title=f"{safe(result.url)}  (agent {safe(result.agent)})",
        title_justify="left",
        wide=wide,
    )
    crawl = "[green]allowed[/]" if result.crawl_allowed else "[red]disallowed[/]"
    table.add_row("crawl", crawl, safe("; ".join(e["detail"] for e in result.crawl_evidence)))
    for usage in PROTOCOL_USAGES:
        d = resolve(result.evidence, usage, Mode.OPT_OUT)
        colour = {"deny": "red", "license": "yellow", "allow": "green"}.get(d.permission.value, "")
        perm = f"[{colour}]{d.permission.value}[/]" if colour else d.permission.value
        table.add_row(
            usage.value, perm, "\n".join(safe(f"{e.source}: {e.detail}") for e in d.evidence)
        )
    for lic in result.licenses:
        table.add_row(
            "licence", safe(lic.get("source", "")), safe(payment_text(lic.get("payment", "")))
        )
    for w in (*result.warnings, *([result.error] if result.error else [])):
        table.add_row("warning", "", safe(w))
    return table


def inspect_command(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...")],
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Read the signals embedded in local files (C2PA/CAWG, IPTC, XMP, EPUB/PDF TDMRep)."""
    doc: dict[str, Any] = {}
    for path in files:
        found = inspect_file(path)
        usages = {}
        for usage in PROTOCOL_USAGES:
            d = resolve(found.evidence, usage, Mode.OPT_OUT)
            usages[usage.value] = {
                "permission": d.permission.value,
                "evidence": [
                    {"source": e.source, "detail": e.detail, "raw": e.raw} for e in d.evidence
                ],
            }
        doc[str(path)] = {
            "kind": found.kind,
            "usages": usages,
            "warnings": list(found.warnings),
            "ingredients": [e.to_dict() for e in found.ingredients],
        }
    if json:
        emit_json(doc)
        return
    for name, info in doc.items():
        table = new_table(
            "usage", "permission", "evidence", title=safe(name), title_justify="left", wide=wide
        )
        for usage, entry in info["usages"].items():
            table.add_row(
                usage,
                entry["permission"],
                "\n".join(safe(e["detail"]) for e in entry["evidence"]),
            )
        for w in info["warnings"]:
            table.add_row("warning", "", safe(w))
        stdout(wide).print(table)

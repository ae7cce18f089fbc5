"""``clearance works add|list|show|remove``: register and inspect works."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import (
    AllowOpt,
    CountOpt,
    CurrencyOpt,
    DenyOpt,
    IdArg,
    JsonOpt,
    LicenseOpt,
    PerOpt,
    PriceOpt,
    RegistryOpt,
    WideOpt,
    WorkersOpt,
    settings,
    terms_change,
)
from clearance.cli.output import (
    emit_json,
    progress_bar,
    safe,
    stdout,
    work_detail,
    works_table,
)
from clearance.core.models import WorkKind
from clearance.registry import add_works, parse_identifier
from clearance.service import build_embedder, content_check, open_registry

app = typer.Typer(help="Register, list, show and remove works.", no_args_is_help=True)

KindOpt = Annotated[WorkKind | None, typer.Option("--kind", help="Override the detected kind.")]


@app.command("add")
def add(
    items: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH_OR_URL...",
            help="Files, folders, URLs (URL* for a prefix), domain:, isbn:, isrc:, iscc:.",
        ),
    ],
    owner: Annotated[str, typer.Option("--owner", help="The rights holder's name.")],
    deny: DenyOpt = None,
    allow: AllowOpt = None,
    license: LicenseOpt = None,
    price: PriceOpt = None,
    currency: CurrencyOpt = None,
    per: PerOpt = "item",
    title: Annotated[
        str | None, typer.Option("--title", help="Title (default: file name).")
    ] = None,
    kind: KindOpt = None,
    identifier: Annotated[
        list[str] | None,
        typer.Option(
            "--id",
            metavar="SCHEME:VALUE",
            help="Extra identifier for each work (isbn:, isrc:, iscc:, URL).",
        ),
    ] = None,
    workers: Annotated[
        int | None, WorkersOpt("Processes that fingerprint files (default: all CPUs).")
    ] = None,
    contact: Annotated[
        str | None,
        typer.Option("--contact", help="Where the owner is reached (listed in bills)."),
    ] = None,
    update_terms: Annotated[
        bool,
        typer.Option(
            "--update-terms",
            help="Let different terms replace those of works already registered (audited).",
        ),
    ] = False,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Register works by content fingerprint or by URL/domain/ISBN/ISRC/ISCC."""
    cfg = settings(registry)
    change = terms_change(deny, allow, license, price, currency, per)
    extra = [parse_identifier(i) for i in identifier or []]
    with open_registry(cfg) as store, progress_bar(not json, "registering") as bar:
        if contact is not None:
            store.set_party_contact(owner, contact, actor=cfg.actor)
        task = bar.add_task("registering", total=None) if bar else None

        def tick(done: int, total: int, _label: str) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done, total=total)

        summary = add_works(
            store,
            items,
            owner=owner,
            terms=change,
            title=title,
            kind=kind,
            extra_identifiers=extra,
            actor=cfg.actor,
            max_pixels=cfg.max_pixels,
            workers=workers,
            progress=tick,
            embedder=build_embedder(cfg),
            update_terms=update_terms,
            similar=content_check(store, cfg),
        )
    if json:
        emit_json(
            {
                "works": [
                    r.work.to_dict() | {"status": r.status.value} for r in summary.registrations
                ],
                "skipped": [{"path": s.path, "reason": s.reason} for s in summary.skipped],
            }
        )
        return
    out = stdout(wide)
    counts: dict[str, int] = {}
    for r in summary.registrations:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    out.print(works_table([r.work for r in summary.registrations], title="registered", wide=wide))
    parts = [f"{n} {status}" for status, n in sorted(counts.items())] or ["0 registered"]
    out.print(f"{', '.join(parts)}; {len(summary.skipped)} skipped")
    for s in summary.skipped:
        out.print(f"  skipped {safe(s.path)}: {safe(s.reason)}", highlight=False)


@app.command("list")
def list_(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's works.")] = None,
    kind: KindOpt = None,
    limit: Annotated[int | None, CountOpt("--limit", help="At most N works.")] = None,
    offset: Annotated[int, CountOpt("--offset", help="Skip the first N.", minimum=0)] = 0,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """List registered works (``count`` is how many match, not the page size)."""
    with open_registry(settings(registry)) as store:
        works = store.list_works(owner=owner, kind=kind, limit=limit, offset=offset)
        total = store.count_works(owner=owner, kind=kind)
    if json:
        emit_json({"works": [w.to_dict() for w in works], "count": total})
        return
    shown = f"{total} works" if len(works) == total else f"{len(works)} of {total} works"
    if works and len(works) != total:
        shown += f" (ids {works[0].id}..{works[-1].id})"
    stdout(wide).print(works_table(works, title=shown, wide=wide))


@app.command("show")
def show(
    work_id: Annotated[int, IdArg("The work.")],
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Show one work with its identifiers, effective terms and claims (disputes included)."""
    with open_registry(settings(registry)) as store:
        work = store.get_work(work_id)
    if json:
        emit_json({"work": work.to_dict()})
    else:
        stdout(wide).print(work_detail(work, wide=wide))


@app.command("remove")
def remove(
    work_id: Annotated[int, IdArg("The work to remove.")],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Remove a work (the removal is recorded in the audit log)."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        work = store.remove_work(work_id, actor=cfg.actor)
    if json:
        emit_json({"removed": work.to_dict()})
    else:
        stdout().print(
            f"removed work {work.id} ({safe(work.title or work.kind.value)}, "
            f"owner {safe(work.owner.name)})",
            highlight=False,
        )

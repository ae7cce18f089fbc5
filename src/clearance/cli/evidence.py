"""``clearance verify``, ``prove`` and ``verify-proof``: thin faces over ``clearance.evidence``.

Exit codes: 0 when everything verifies, 4 when the evidence does not match
(each difference is printed), 2 for a file that cannot be read as evidence.
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from clearance.cli.options import JsonOpt, WideOpt
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.core.errors import UserError
from clearance.core.files import write_output_text

PubkeyOpt = Annotated[
    Path | None,
    typer.Option("--pubkey", metavar="K", help="The operator's public key (PEM or base64 file)."),
]


def _pubkey(path: Path | None) -> Any:
    from clearance.evidence import load_public_key

    return None if path is None else load_public_key(path)


def _failed() -> typer.Exit:
    from clearance.evidence import VerificationFailed

    return typer.Exit(VerificationFailed.exit_code)


def verify_command(
    dir: Annotated[Path, typer.Argument(metavar="DIR", help="A scan's output directory.")],
    pubkey: PubkeyOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Recompute a scan's roots and digests; name every changed row, file, field or signature."""
    from clearance.evidence import verify_run

    report = verify_run(dir, pubkey=_pubkey(pubkey))
    if json:
        emit_json(report.to_dict())
    else:
        _print_report(report, wide)
    if not report.ok:
        raise _failed()


def _print_report(report: Any, wide: bool) -> None:
    console = stdout(wide)
    signer = "unsigned"
    if report.signed:
        signer = f"signed by key {report.key_id}" + (" (pinned)" if report.pinned else "")
    summary = (
        f"{report.items} rows in {report.shards} shard{'s' * (report.shards != 1)}, "
        f"{report.files} files; "
        f"run root {report.run_root[:16]}…; {signer}"
    )
    if report.ok:
        console.print(
            f"verify {report.dir}: [bold green]OK[/] ({summary})", highlight=False, soft_wrap=True
        )
    else:
        n = len(report.findings)
        console.print(
            f"verify {report.dir}: [bold red]{n} difference{'s' * (n != 1)}[/] ({summary})",
            highlight=False,
            soft_wrap=True,
        )
        table = new_table("kind", "where", "detail", wide=wide)
        for f in report.findings:
            table.add_row(safe(f.kind), safe(f.where), safe(f.detail))
        console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def prove_command(
    dir: Annotated[Path, typer.Argument(metavar="DIR", help="A scan's output directory.")],
    item: Annotated[str | None, typer.Option("--item", metavar="ID", help="One item id.")] = None,
    work: Annotated[
        int | None, typer.Option("--work", metavar="WORK_ID", help="Every item matching a work.")
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="NAME", help="Every item of an owner's works.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="Write the proof here.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Write a proof: the rows, their Merkle paths and the signed root (stdout without --out)."""
    from clearance.evidence import prove

    doc = prove(dir, item=item, work=work, owner=owner)
    text = jsonlib.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    write_output_text(out, text)
    summary = {"out": str(out), "subject": doc["subject"], "items": len(doc["proofs"])}
    if json:
        emit_json(summary)
    else:
        stdout().print(
            f"proof for {len(doc['proofs'])} item(s) written to {out}",
            highlight=False,
            soft_wrap=True,
        )


def verify_proof_command(
    proof: Annotated[Path, typer.Argument(metavar="PROOF", help="A proof written by prove.")],
    manifest: Annotated[
        Path | None, typer.Option("--manifest", metavar="M", help="The scan's manifest.json.")
    ] = None,
    root: Annotated[
        str | None, typer.Option("--root", metavar="R", help="The run root (hex) you trust.")
    ] = None,
    pubkey: PubkeyOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Check a proof without the dataset, against a manifest or a root and public key."""
    from clearance.evidence import verify_proof
    from clearance.evidence.canonical import read_json

    if manifest is not None and root is not None:
        raise UserError("give --manifest or --root, not both")
    doc = read_json(proof, f"proof {proof}")
    trusted = read_json(manifest, f"manifest {manifest}") if manifest is not None else None
    check = verify_proof(doc, manifest=trusted, root=root, pubkey=_pubkey(pubkey))
    if json:
        emit_json(check.to_dict())
    else:
        _print_check(proof, check, wide)
    if not check.ok:
        raise _failed()


def _print_check(path: Path, check: Any, wide: bool) -> None:
    from clearance.scan.decide import reason_text

    console = stdout(wide)
    status = "[bold green]verified[/]" if check.ok else "[bold red]does not verify[/]"
    signer = f"signed by key {check.key_id}" if check.signed else "unsigned"
    console.print(
        f"proof {path}: {status} (run root {check.run_root[:16]}…, {signer}, "
        f"checked against the {check.anchor})",
        highlight=False,
        soft_wrap=True,
    )
    for failure in check.failures:
        console.print(f"  - {failure}", highlight=False, soft_wrap=True)
    table = new_table("item", "source", "outcome", "reasons", "works", wide=wide)
    for it in check.items:
        works = (f"work {w['id']} by {w['owner']} ({w['permission']})" for w in it["works"])
        table.add_row(
            safe(it["item_id"]),
            safe(it["source"]),
            safe(it["outcome"]),
            "\n".join(safe(reason_text(str(r))) for r in it["reasons"] or []),
            "\n".join(safe(w) for w in works),
        )
    console.print(table)

"""``clearance declarations``: a party's works and terms as signed JSON, out and in.

``export`` signs every work of the party (its identifiers, ISCC first where
known, and its terms as an aipref ``Content-Usage`` statement plus Clearance's
usages and prices) with the party's Ed25519 key; ``import`` checks the
signature and registers the works for the party the key is bound to here
(``registry.declarations``; the format is in docs/formats.md).
"""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.core.errors import InputNotFound, UserError
from clearance.core.files import read_regular, write_output_text
from clearance.service import open_registry

app = typer.Typer(help="Signed declarations of a party's works and terms.", no_args_is_help=True)


@app.command("export")
def export_command(
    party: Annotated[str, typer.Option("--party", help="The declaring party.")],
    key: Annotated[
        Path, typer.Option("--key", metavar="KEYFILE", help="The party's Ed25519 private key.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="The JSON file to write.")],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write the party's works and terms as a signed declaration."""
    from clearance.evidence.keys import load_signing_key
    from clearance.registry.declarations import export_declarations

    signing = load_signing_key(key)
    with open_registry(settings(registry)) as store:
        doc = export_declarations(store, party, signing)
    write_output_text(out, jsonlib.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    summary = {
        "party": doc["party"]["name"],
        "works": len(doc["works"]),
        "out": str(out),
        "key_id": doc["key"]["key_id"],
    }
    if json:
        emit_json(summary)
        return
    stdout().print(
        f"declared {summary['works']} works of {safe(summary['party'])} in {safe(out)} "
        f"(signed by key {summary['key_id']})",
        highlight=False,
    )


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A signed declaration (JSON).")],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Verify a declaration's signature and register its works for the key's party."""
    from clearance.registry.declarations import MAX_BYTES, import_declarations

    try:
        data = read_regular(file, MAX_BYTES)
    except FileNotFoundError:
        raise InputNotFound(f"no such file: {file}") from None
    except OSError as exc:
        raise UserError(f"cannot read {file}: {exc.strerror or exc}") from None
    with open_registry(settings(registry)) as store:
        result = import_declarations(store, data)
    if json:
        emit_json(result.to_dict())
        return
    stdout().print(
        f"imported {len(result.registrations)} works for {safe(result.party)} "
        f"(key {result.key_id})",
        highlight=False,
    )
    for r in result.registrations:
        stdout().print(f"  work {r.work.id}: {r.status.value}", highlight=False)

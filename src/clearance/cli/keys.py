"""``clearance keys generate --out KEY``: an Ed25519 key pair for signing scan manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt
from clearance.cli.output import emit_json, stdout

app = typer.Typer(help="Signing keys for scan manifests.", no_args_is_help=True)


@app.command("generate")
def generate_command(
    out: Annotated[
        Path,
        typer.Option("--out", metavar="KEY", help="Private key file; KEY.pub gets the public."),
    ],
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
    json: JsonOpt = False,
) -> None:
    """Write a new Ed25519 private key (mode 0600) and its public key (KEY.pub)."""
    from clearance.evidence import keys

    private, public = keys.generate_keypair(out, force=force)
    key = keys.load_public_key(public)
    doc = {
        "private_key": str(private),
        "public_key": str(public),
        "key_id": keys.key_id(key),
        "public_key_base64": keys.public_b64(key),
    }
    if json:
        emit_json(doc)
        return
    stdout().print(
        f"private key: {private} (keep it secret)\npublic key:  {public}", soft_wrap=True
    )
    stdout().print(f"key id: {doc['key_id']}  (publish {public.name} so others can verify)")

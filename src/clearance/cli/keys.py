"""``clearance keys``: Ed25519 signing keys for scan manifests (``generate``), and the HTTP
API's keys (``create``, ``list``, ``revoke``): a party and a role each, stored hashed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.service import open_registry

app = typer.Typer(
    help="Signing keys for scan manifests, and API keys for the HTTP API.", no_args_is_help=True
)


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


@app.command("create")
def create_command(
    party: Annotated[str, typer.Option("--party", help="The party the key acts for.")],
    role: Annotated[
        str, typer.Option("--role", metavar="owner|licensee|admin", help="What the key may do.")
    ],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create an HTTP API key; the key is printed once and stored only as an argon2 hash."""
    from clearance.registry import Role, create_key

    cfg = settings(registry)
    parsed = Role.parse(role)  # before opening the registry
    with open_registry(cfg) as store:
        key, token = create_key(store, party, parsed, actor=cfg.actor)
    if json:
        emit_json({"party": key.party, "key": token, "role": key.role.value, "key_id": key.key_id})
        return
    stdout().print(
        f"API key for {safe(key.party)} ({key.role.value}), shown only now:", highlight=False
    )
    stdout().print(token, highlight=False, soft_wrap=True)


@app.command("list")
def list_command(
    party: Annotated[str | None, typer.Option("--party", help="Only this party's keys.")] = None,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """List API keys (their public ids, parties and roles; never the keys)."""
    from clearance.registry import list_keys

    with open_registry(settings(registry)) as store:
        keys = list_keys(store, party=party)
    if json:
        emit_json({"keys": [k.to_dict() for k in keys], "count": len(keys)})
        return
    table = new_table(
        "key id", "party", "role", "created", "revoked", title=f"{len(keys)} API keys", wide=wide
    )
    for k in keys:
        revoked = k.revoked_at.isoformat() if k.revoked_at else ""
        table.add_row(k.key_id, safe(k.party), k.role.value, k.created_at.isoformat(), revoked)
    stdout(wide).print(table)


@app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id (keys list).")],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Revoke an API key at once (every server refuses it from its next request)."""
    from clearance.registry import revoke_key

    cfg = settings(registry)
    with open_registry(cfg) as store:
        key = revoke_key(store, key_id, actor=cfg.actor)
    if json:
        emit_json({"revoked": key.to_dict()})
    else:
        stdout().print(f"revoked key {key.key_id} of {safe(key.party)}", highlight=False)

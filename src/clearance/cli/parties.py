"""``clearance parties``: parties and their verified identity (``registry.parties``).

A party's level is its highest verified identity: ``self`` (none), ``domain``
(a token published on the party's web site, ``verify-domain``), ``key`` (an
Ed25519 key bound with ``add-key``; it signs the party's declarations) or
``admin`` (an operator's ``verify --admin``). Each step is audited with the
acting party as the actor (the operator's ``CLEARANCE_ACTOR`` for ``verify``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.cli.signals import PrivateOpt
from clearance.core.errors import UserError
from clearance.service import open_registry

app = typer.Typer(help="Parties and their verified identity.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The party's name.")]


def _show(info: object, json: bool, headline: str | None = None) -> None:
    from clearance.registry.parties import PartyInfo

    assert isinstance(info, PartyInfo)
    if json:
        emit_json({"party": info.to_dict()})
        return
    if headline:
        stdout().print(headline, highlight=False)
    p = info.party
    table = new_table("field", "value", title=f"party {safe(p.name)}", show_header=False)
    table.add_row("verification", p.verification.value)
    table.add_row("contact", safe(p.contact or ""))
    for ident in info.identities:
        when = f" at {ident.verified_at.isoformat(timespec='seconds')}" if ident.verified_at else ""
        table.add_row(ident.kind.value, f"{safe(ident.value)}: {ident.status.value}{when}")
    table.add_row("created", info.created_at.isoformat(timespec="seconds"))
    stdout().print(table)


@app.command("create")
def create_command(
    name: NameArg,
    contact: Annotated[
        str | None, typer.Option("--contact", help="Where the party is reached.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a party (level self); an existing one is shown as it is."""
    from clearance.registry.parties import create_party

    with open_registry(settings(registry)) as store:
        info, created = create_party(store, name, contact=contact)
    _show(info, json, f"{'created' if created else 'exists:'} party {safe(info.party.name)}")


@app.command("list")
def list_command(
    min_verification: Annotated[
        str | None,
        typer.Option(
            "--min-verification",
            metavar="self|domain|key|admin",
            help="Only parties verified at this level or above.",
        ),
    ] = None,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """List parties with their verification levels."""
    from clearance.registry.parties import list_parties

    with open_registry(settings(registry)) as store:
        found = list_parties(store, min_verification=min_verification)
    if json:
        emit_json({"parties": [p.to_dict() for p in found], "count": len(found)})
        return
    table = new_table("id", "name", "verification", "identities", title="parties", wide=wide)
    for p in found:
        idents = ", ".join(
            f"{i.kind.value}:{safe(i.value)}" for i in p.identities if i.status.value == "verified"
        )
        table.add_row(str(p.party.id), safe(p.party.name), p.party.verification.value, idents)
    stdout(wide).print(table)


@app.command("show")
def show_command(name: NameArg, registry: RegistryOpt = None, json: JsonOpt = False) -> None:
    """Show a party: its level and every identity."""
    from clearance.registry.parties import get_party

    with open_registry(settings(registry)) as store:
        _show(get_party(store, name), json)


@app.command("verify-domain")
def verify_domain_command(
    name: NameArg,
    domain: Annotated[str, typer.Option("--domain", help="The party's domain: example.org.")],
    allow_private: PrivateOpt = False,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Verify a domain: the first call issues a token to publish, the next fetches it."""
    from clearance.fetch import FetchConfig
    from clearance.registry.parties import confirm_domain, start_domain

    with open_registry(settings(registry)) as store:
        challenge = start_domain(store, name, domain, actor=name, allow_private=allow_private)
        if challenge.issued:
            if json:
                emit_json({"challenge": challenge.to_dict()})
                return
            stdout().print(
                f"publish this line at {challenge.url}:\n{challenge.to_dict()['publish']}\n"
                f"then run this command again to verify {challenge.domain}",
                highlight=False,
                soft_wrap=True,
            )
            return
        info = confirm_domain(
            store,
            name,
            domain,
            actor=name,
            config=FetchConfig(allow_private=allow_private),
        )
    _show(info, json, f"verified domain {challenge.domain} for {safe(info.party.name)}")


@app.command("add-key")
def add_key_command(
    name: NameArg,
    pubkey: Annotated[
        Path,
        typer.Option(
            "--pubkey", metavar="FILE", help="Ed25519 public key (PEM, or the base64 line)."
        ),
    ],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Bind an Ed25519 public key to the party (level key): it signs its declarations."""
    from clearance.evidence.keys import key_id, load_public_key
    from clearance.registry.parties import add_key

    key = load_public_key(pubkey)
    with open_registry(settings(registry)) as store:
        info = add_key(store, name, key, actor=name)
    _show(info, json, f"bound key {key_id(key)} to {safe(info.party.name)}")


@app.command("verify")
def verify_command(
    name: NameArg,
    admin: Annotated[
        bool, typer.Option("--admin", help="Verify as the operator (level admin).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="How the operator verified the party.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Verify a party as the operator (level admin), with a reason; audited."""
    from clearance.registry.parties import verify_admin

    if not admin:
        raise UserError("say how the party is verified", hint="pass --admin --reason TEXT")
    if not reason:
        raise UserError("an operator's verification needs a reason", hint="add --reason TEXT")
    cfg = settings(registry)
    with open_registry(cfg) as store:
        info = verify_admin(store, name, reason, actor=cfg.actor)
    _show(info, json, f"verified {safe(info.party.name)} (admin)")

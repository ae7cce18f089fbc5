"""``clearance accounts create|list``: the web app's accounts, for operators.

Creators and developers sign up on the web; an operator makes the first admin
account here (and may attach an account to a party the registry already
knows, ``--claim``). The password is read from the terminal without echo, or
from standard input when it is not a terminal (one line).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.service import open_registry

app = typer.Typer(help="The web app's accounts (sign-in for people).", no_args_is_help=True)


def _password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


@app.command("create")
def create_command(
    email: Annotated[str, typer.Argument(help="The email the person signs in with.")],
    party: Annotated[str, typer.Option("--party", help="The party the account acts for.")],
    role: Annotated[
        str,
        typer.Option("--role", metavar="creator|developer|admin", help="What the account is for."),
    ] = "admin",
    claim: Annotated[
        bool, typer.Option("--claim", help="Attach to a party the registry already has.")
    ] = False,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a web account; the password is prompted for (or read from stdin)."""
    from clearance.registry.accounts import AccountRole, check_password, create_account

    parsed = AccountRole.parse(role)
    password = check_password(_password())
    with open_registry(settings(registry)) as store:
        account = create_account(store, email, password, party=party, role=parsed, claim=claim)
    if json:
        emit_json(account.to_dict())
        return
    stdout().print(
        f"{account.role.value} account {safe(account.email)} for {safe(account.party)} created",
        highlight=False,
    )


@app.command("list")
def list_command(registry: RegistryOpt = None, json: JsonOpt = False) -> None:
    """List the web accounts (never their passwords)."""
    from clearance.registry.accounts import list_accounts

    with open_registry(settings(registry)) as store:
        found = list_accounts(store)
    if json:
        emit_json({"accounts": [a.to_dict() for a in found], "count": len(found)})
        return
    table = new_table("email", "party", "type", "since", title=f"{len(found)} accounts")
    for a in found:
        table.add_row(safe(a.email), safe(a.party), a.role.value, a.created_at.date().isoformat())
    stdout().print(table)

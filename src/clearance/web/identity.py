"""A creator's verified identity: their level, verifying a domain, binding a signing key.

Thin pages over ``registry.parties``, as ``clearance parties verify-domain`` and
``POST /v1/parties/{name}/keys`` call it:

* a domain: ``start_domain`` issues (or repeats) the token and says where to
  publish it; ``confirm_domain`` fetches that file through the guarded fetcher,
  with the server's ``allow_private`` setting, and verifies the domain;
* a key: the creator pastes an Ed25519 public key and its proof (the key's
  signature over ``key_proof_message``), as the API requires; the page shows
  the commands that make both.

Every step is audited by the library with the creator's party as the actor.
"""

from __future__ import annotations

import shlex
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import ClearanceError, UserError
from clearance.evidence import keys as ed25519
from clearance.fetch import FetchConfig
from clearance.registry.accounts import Account, AccountRole
from clearance.registry.parties import (
    TOKEN_PREFIX,
    DomainChallenge,
    IdentityKind,
    IdentityStatus,
    add_key,
    confirm_domain,
    get_party,
    parse_public_key_text,
    parse_signature_text,
    start_domain,
)

from .context import web
from .render import WebRoute, page, redirect
from .session import flash, read_form, require, text

router = APIRouter(prefix="/creator", route_class=WebRoute, include_in_schema=False)

LEVELS = {
    "self": "Self-declared: nobody has checked who you are yet",
    "domain": "Domain verified: you showed you control a web site",
    "key": "Key verified: your declarations are signed with your own key",
    "admin": "Verified by the registry's operator",
}


def proof_commands(party: str, public_key: str = "PUBLIC_KEY_BASE64") -> list[str]:
    """The shell commands that make a key and its proof for ``party`` (OpenSSL 3 signs)."""
    message = shlex.quote(r"clearance-key-proof/1\n%s\n%s")
    return [
        "clearance keys generate --out my.key --json   # public_key_base64 is your public key",
        f"printf {message} {shlex.quote(party.strip())} {shlex.quote(public_key)} > proof.txt",
        "openssl pkeyutl -sign -inkey my.key -rawin -in proof.txt | base64 -w0",
    ]


async def _creator(request: Request) -> Account:
    return await require(request, AccountRole.CREATOR)


async def identity_page(
    request: Request,
    account: Account,
    *,
    status: int = 200,
    error: str | None = None,
    challenge: DomainChallenge | None = None,
    **extra: Any,
) -> Response:
    info = await run_in_threadpool(get_party, web(request).store(), account.party)
    level = info.party.verification.value
    pending = [
        i
        for i in info.identities
        if i.kind is IdentityKind.DOMAIN and i.status is IdentityStatus.PENDING
    ]
    verified = [i for i in info.identities if i.status is IdentityStatus.VERIFIED]
    return await page(
        request,
        "creator/identity.html",
        status=status,
        error=error,
        level=level,
        level_text=LEVELS.get(level, level),
        verified=verified,
        pending=pending,
        challenge=challenge,
        publish=f"{TOKEN_PREFIX}{challenge.token}" if challenge else None,
        commands=proof_commands(account.party, str(extra.pop("public_b64", "PUBLIC_KEY_BASE64"))),
        **extra,
    )


@router.get("/identity")
async def identity(request: Request) -> Response:
    account = await _creator(request)
    return await identity_page(request, account)


@router.post("/identity/domain")
async def domain_start(request: Request) -> Response:
    """Issue (or show again) the token to publish for a domain."""
    account = await _creator(request)
    async with read_form(request) as form:
        domain = text(form, "domain", limit=300)
    ctx = web(request)
    try:
        if not domain:
            raise UserError("enter the domain of your web site, e.g. example.org")
        challenge = await run_in_threadpool(
            partial(
                start_domain,
                ctx.store(),
                account.party,
                domain,
                actor=account.party,
                allow_private=ctx.settings.allow_private,
            )
        )
    except UserError as exc:
        return await identity_page(
            request,
            account,
            status=exc.http_status,
            error=exc.message,
            domain=domain,
            form="domain",
        )
    return await identity_page(request, account, challenge=challenge, domain=challenge.domain)


@router.post("/identity/domain/confirm")
async def domain_confirm(request: Request) -> Response:
    """Read the domain's verification file through the guarded fetcher; verify on a match."""
    account = await _creator(request)
    async with read_form(request) as form:
        domain = text(form, "domain", limit=300)
    ctx = web(request)
    config = FetchConfig(allow_private=ctx.settings.allow_private)
    try:
        if not domain:
            raise UserError("enter the domain to check")
        info = await run_in_threadpool(
            partial(
                confirm_domain,
                ctx.store(),
                account.party,
                domain,
                actor=account.party,
                config=config,
            )
        )
    except ClearanceError as exc:  # bad input, a missing token, a site that cannot be read
        message = exc.message + (f" ({exc.hint})" if exc.hint else "")
        status = exc.http_status if 400 <= exc.http_status < 600 else 400
        return await identity_page(
            request, account, status=status, error=message, domain=domain, form="domain"
        )
    level = info.party.verification.value
    return flash(
        request,
        redirect("/creator/identity"),
        f"Domain {domain.strip().lower()} verified. Your level: {level}.",
    )


@router.post("/identity/key")
async def key_bind(request: Request) -> Response:
    """Bind an Ed25519 public key, proven by its signature over the key proof message."""
    account = await _creator(request)
    async with read_form(request) as form:
        public_key, proof = text(form, "public_key", limit=4096), text(form, "proof", limit=200)
    public_b64 = "PUBLIC_KEY_BASE64"
    try:
        if not public_key:
            raise UserError("paste your public key (base64 or PEM)")
        key = parse_public_key_text(public_key)
        public_b64 = ed25519.public_b64(key)
        if not proof:
            raise UserError("paste the proof: your key's signature, made with the commands below")
        signature = parse_signature_text(proof)
        info = await run_in_threadpool(
            partial(
                add_key,
                web(request).store(),
                account.party,
                key,
                actor=account.party,
                proof=signature,
            )
        )
    except UserError as exc:
        return await identity_page(
            request,
            account,
            status=exc.http_status,
            error=exc.message,
            public_key=public_key,
            public_b64=public_b64,
            form="key",
        )
    return flash(
        request,
        redirect("/creator/identity"),
        f"Key {ed25519.key_id(key)} bound. Your level: {info.party.verification.value}.",
    )

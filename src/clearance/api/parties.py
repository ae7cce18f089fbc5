"""``/v1/parties`` and ``/v1/declarations``: parties, their verified identity, signed declarations.

Reads are open (a party's level and identities are public: every claim shows
them). Writes need an API key of the party itself (any role) or an admin
key: 401 without one, 403 with another party's. An operator's verification
needs an admin key. Binding an Ed25519 key needs a ``proof``: the key's
signature over ``registry.parties.key_proof_message``, so nobody binds a key
they do not hold. The domain check fetches through the guarded fetcher with
the service's ``allow_private`` setting. Routes are thin wrappers around
``registry.parties`` and ``registry.declarations``; every step is audited with
the key's party as the actor.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from clearance.core.models import Party
from clearance.fetch import FetchConfig
from clearance.registry.declarations import import_declarations
from clearance.registry.parties import (
    add_key,
    confirm_domain,
    create_party,
    get_party,
    list_parties,
    parse_public_key_text,
    parse_signature_text,
    start_domain,
    verify_admin,
)

from .auth import require_admin
from .services import services
from .works import Key

router = APIRouter(prefix="/v1", tags=["parties"])

PartyName = Annotated[str, PathParam(min_length=1, max_length=255)]
Domain = Annotated[str, PathParam(min_length=1, max_length=260)]


class PartyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    contact: str | None = None


class DomainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str


class KeyBody(BaseModel):
    """An Ed25519 public key (PEM or base64) and ``proof``: its signature (base64) over
    ``clearance-key-proof/1\\n{party}\\n{public key base64}``."""

    model_config = ConfigDict(extra="forbid")

    public_key: str
    proof: str


class VerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str


@router.post("/parties", status_code=201)
def create(body: PartyBody, key: Key, request: Request) -> JSONResponse:
    """Create a party (admin keys; a party's own key gets its existing party back)."""
    key.require_party(body.name, "parties")
    info, created = create_party(
        services(request).store(), body.name, contact=body.contact, actor=key.party
    )
    return JSONResponse({"party": info.to_dict()}, status_code=201 if created else 200)


@router.get("/parties")
def list_(
    request: Request,
    min_verification: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    """Every party with its level and identities (at ``min_verification`` or above)."""
    found = list_parties(services(request).store(), min_verification=min_verification)
    return {"parties": [p.to_dict() for p in found], "count": len(found)}


@router.get("/parties/{name}")
def read(name: PartyName, request: Request) -> dict[str, Any]:
    """One party: its verification level and every identity."""
    return {"party": get_party(services(request).store(), name).to_dict()}


@router.post("/parties/{name}/domains", status_code=201)
def domain_start(name: PartyName, body: DomainBody, key: Key, request: Request) -> JSONResponse:
    """Issue the token the party publishes at ``https://DOMAIN/.well-known/...``."""
    key.require_party(name, "the identity")
    svc = services(request)
    challenge = start_domain(
        svc.store(), name, body.domain, actor=key.party, allow_private=svc.settings.allow_private
    )
    return JSONResponse(
        {"challenge": challenge.to_dict()}, status_code=201 if challenge.issued else 200
    )


@router.post("/parties/{name}/domains/{domain}/verify")
async def domain_confirm(
    name: PartyName, domain: Domain, key: Key, request: Request
) -> dict[str, Any]:
    """Fetch the domain's verification file; verified when it holds the party's token."""
    key.require_party(name, "the identity")
    svc = services(request)
    config = FetchConfig(allow_private=svc.settings.allow_private)
    info = await run_in_threadpool(
        partial(confirm_domain, svc.store(), name, domain, actor=key.party, config=config)
    )
    return {"party": info.to_dict()}


@router.post("/parties/{name}/keys", status_code=201)
def key_add(name: PartyName, body: KeyBody, key: Key, request: Request) -> dict[str, Any]:
    """Bind an Ed25519 key to the party (level key), proven by its signature."""
    key.require_party(name, "the identity")
    public = parse_public_key_text(body.public_key)
    proof = parse_signature_text(body.proof)
    info = add_key(services(request).store(), name, public, actor=key.party, proof=proof)
    return {"party": info.to_dict()}


@router.post("/parties/{name}/verify")
def verify(name: PartyName, body: VerifyBody, key: Key, request: Request) -> dict[str, Any]:
    """An operator verifies the party (level admin), with a reason: admin keys only."""
    require_admin(key, "verify a party as the operator")
    info = verify_admin(services(request).store(), name, body.reason, actor=key.party)
    return {"party": info.to_dict()}


@router.post(
    "/declarations",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def declarations_import(request: Request, key: Key) -> dict[str, Any]:
    """Import a signed declaration for the party its key is bound to (that party's API key,
    or an admin's); the signature is checked first."""
    data = await request.body()

    def authorize(party: Party) -> None:
        key.require_party(party.name, "the declarations")

    result = await run_in_threadpool(
        partial(import_declarations, services(request).store(), data, authorize=authorize)
    )
    return result.to_dict()

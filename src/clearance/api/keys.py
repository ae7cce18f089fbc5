"""``/v1/keys``: API keys over HTTP, for operators (admin keys) and each party's own keys.

An admin key creates keys for any party (``POST``) and sees every key; any
key lists and revokes its own party's keys. The new key is in the answer
once, as ``clearance keys create`` prints it once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from clearance.registry import Role, create_key, list_keys, revoke_key

from .auth import require_admin
from .services import services
from .works import Key

router = APIRouter(prefix="/v1", tags=["keys"])


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    party: str
    role: str


@router.post("/keys", status_code=201)
def create(body: KeyBody, key: Key, request: Request) -> JSONResponse:
    """Create a key for a party (admin keys only); the key is shown in this answer only."""
    require_admin(key, "create API keys")
    role = Role.parse(body.role)
    made, token = create_key(services(request).store(), body.party, role, actor=key.party)
    doc = {"party": made.party, "key": token, "role": made.role.value, "key_id": made.key_id}
    return JSONResponse(doc, status_code=201)


@router.get("/keys")
def list_(key: Key, request: Request) -> dict[str, Any]:
    """Every key (admin), or the key's own party's keys; never the keys themselves."""
    party = None if key.role is Role.ADMIN else key.party
    found = list_keys(services(request).store(), party=party)
    return {"keys": [k.to_dict() for k in found], "count": len(found)}


@router.delete("/keys/{key_id}")
def revoke(
    key_id: Annotated[str, Path(pattern="^[0-9a-f]{12}$")], key: Key, request: Request
) -> dict[str, Any]:
    """Revoke a key: one of the key's own party's, or any with an admin key."""
    store = services(request).store()
    target = next((k for k in list_keys(store) if k.key_id == key_id), None)
    if target is not None:
        key.require_party(target.party, "the API keys")
    return {"revoked": revoke_key(store, key_id, actor=key.party).to_dict()}

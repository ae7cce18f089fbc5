"""``/v1/disputes``: ownership disputes, read by anyone and resolved by an admin key.

Thin routes over ``registry.disputes``: a dispute's id is its work's id; the
answer lays out both sides (terms, evidence, verification levels, which claim
came first). Resolving needs an admin key (401 without a key, 403 with another
role) and is audited with the key's party as the actor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from clearance.core.validation import MAX_ID
from clearance.registry.disputes import get_dispute, list_disputes, resolve_dispute

from .auth import require_admin
from .services import services
from .works import Key

router = APIRouter(prefix="/v1", tags=["disputes"])

DisputeId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The dispute: its work's id.")]


class ResolveBody(BaseModel):
    """Which claimant keeps the work, and why (both required)."""

    model_config = ConfigDict(extra="forbid")

    keep: str = Field(min_length=1, max_length=255)
    reason: str = Field(min_length=1, max_length=4096)


@router.get("/disputes")
def list_(request: Request, resolved: bool = False) -> dict[str, Any]:
    """Disputed works with every claim (``resolved=true``: resolved ones too)."""
    found = list_disputes(services(request).store(), resolved=resolved)
    return {"disputes": [d.to_dict() for d in found], "count": len(found)}


@router.get("/disputes/{dispute_id}")
def show(dispute_id: DisputeId, request: Request) -> dict[str, Any]:
    """Both sides of one dispute: terms, evidence, verification, the first claim."""
    return {"dispute": get_dispute(services(request).store(), dispute_id).to_dict()}


@router.post("/disputes/{dispute_id}/resolve")
def resolve(dispute_id: DisputeId, body: ResolveBody, key: Key, request: Request) -> dict[str, Any]:
    """Keep one claim and reject the others (admin keys only); audited with the key's party."""
    require_admin(key, "resolve disputes")
    done = resolve_dispute(
        services(request).store(), dispute_id, keep=body.keep, reason=body.reason, actor=key.party
    )
    return {"dispute": done.to_dict()}

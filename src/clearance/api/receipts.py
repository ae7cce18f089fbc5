"""``/v1/receipts``: licensees post a signed scan root with per-owner proofs; owners read theirs.

* ``POST /v1/receipts`` (a licensee key, or admin with ``?licensee=``): the body is
  ``{"dataset", "root", "proofs"}`` (``registry.receipts.post_receipts``); every proof is
  verified before anything is stored (422 when one does not verify);
* ``GET /v1/receipts``: the key's party's receipts, as owner or as licensee (admin: any,
  filtered by ``owner``/``licensee``), each saying "dataset X of Y excluded N of your works";
* ``GET /v1/receipts/{id}``: one receipt with its proof document, for ``clearance
  verify-proof`` (its owner, its licensee or an admin; 403 for anyone else).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import Forbidden
from clearance.core.validation import MAX_ID
from clearance.evidence.canonical import parse_json
from clearance.registry import Role
from clearance.registry.receipts import get_receipt, list_receipts, post_receipts

from .services import services
from .works import Key

router = APIRouter(prefix="/v1", tags=["receipts"])

Name = Annotated[str | None, Query(min_length=1, max_length=255)]
ReceiptId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The receipt's id.")]

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["dataset", "root", "proofs"],
                    "properties": {
                        "dataset": {"type": "string", "description": "the dataset's name"},
                        "root": {
                            "type": "object",
                            "description": "the signed root: the manifest's attestation "
                            "statement and signature",
                        },
                        "proofs": {
                            "type": "array",
                            "items": {"type": "object"},
                            "description": "one clearance.proof document per owner "
                            "(clearance prove --owner NAME)",
                        },
                    },
                }
            }
        },
    }
}


@router.post("/receipts", status_code=201, openapi_extra=_BODY)
async def post(key: Key, request: Request, licensee: Name = None) -> JSONResponse:
    """Verify and store a signed scan root with one proof per owner (201 when any is new)."""
    if key.role is Role.OWNER:
        raise Forbidden("only a licensee key (or an admin key) may post receipts")
    if licensee is not None and licensee != key.party and key.role is not Role.ADMIN:
        raise Forbidden(f"the key of {key.party!r} may not post receipts for {licensee!r}")
    doc = parse_json(await request.body(), "the receipt")
    store = services(request).store()
    made = await run_in_threadpool(
        post_receipts, store, doc, licensee=licensee or key.party, actor=key.party
    )
    body = {"receipts": [r.to_dict() | {"new": new} for r, new in made], "count": len(made)}
    return JSONResponse(body, status_code=201 if any(new for _, new in made) else 200)


@router.get("/receipts")
def receipts(
    key: Key, request: Request, owner: Name = None, licensee: Name = None
) -> dict[str, Any]:
    """The key's party's receipts: as owner (an owner key) or as licensee; admin: any."""
    if key.role is not Role.ADMIN:
        named = owner if key.role is Role.OWNER else licensee
        if named is not None and named != key.party:
            raise Forbidden(f"the key of {key.party!r} may read only its own receipts")
        if key.role is Role.OWNER:
            owner = key.party
        else:
            licensee = key.party
    found = list_receipts(services(request).store(), owner=owner, licensee=licensee)
    return {"receipts": [r.to_dict() for r in found], "count": len(found)}


@router.get("/receipts/{receipt_id}")
def receipt(receipt_id: ReceiptId, key: Key, request: Request) -> dict[str, Any]:
    """One receipt with its proof (``proof``: save it and run ``clearance verify-proof``)."""
    found = get_receipt(services(request).store(), receipt_id)
    if key.role is not Role.ADMIN and key.party not in (found.owner, found.licensee):
        raise Forbidden(f"receipt {receipt_id} is not {key.party!r}'s")
    return found.to_dict()

"""``/v1/offers``, ``/v1/licenses/requests``, ``/v1/runs``, ``/v1/notices``, ``/v1/royalties``.

The licensing library (``clearance.licensing``, docs/licensing.md) over HTTP,
as thin as the ``offers``, ``license``, ``runs``, ``notices`` and
``royalties`` commands. Offers are public; everything else is a party's own
business and needs its key: a request is seen by its owner and its licensee
and decided only by its owner (403 for anyone else; an admin key acts for
anyone), notices and runs are the licensee's, a statement the owner's.

Two commands have no route, on purpose: ``license request --scan DIR`` and
``runs record --scan DIR`` read a scan's output from a path, and the API never
reads a path on the server.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam

from clearance.core.errors import Forbidden
from clearance.core.usage import parse_usage
from clearance.core.validation import MAX_ID
from clearance.licensing.impact import list_notices
from clearance.licensing.offers import list_offers
from clearance.licensing.requests import (
    STATUSES,
    accept_request,
    get_request,
    list_requests,
    reject_request,
)
from clearance.licensing.runs import list_runs
from clearance.licensing.statements import royalty_statement
from clearance.registry import ApiKey, Role

from .auth import require_owner
from .services import services
from .works import Key

router = APIRouter(prefix="/v1", tags=["licensing"])

Name = Annotated[str | None, Query(min_length=1, max_length=255)]
RequestId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The licence request's id.")]


@router.get("/offers")
def offers(request: Request, owner: Name = None, usage: Name = None) -> dict[str, Any]:
    """Every licensable usage with its price model, by owner and work (``offers list``)."""
    wanted = parse_usage(usage) if usage is not None else None
    found = list_offers(services(request).store(), owner=owner, usage=wanted)
    return {"offers": [o.to_dict() for o in found], "count": len(found)}


@router.get("/licenses/requests")
def requests(
    key: Key,
    request: Request,
    status: Annotated[str | None, Query(max_length=16, description=" | ".join(STATUSES))] = None,
) -> dict[str, Any]:
    """Licence requests, oldest first: those the key's party made or received (admin: all)."""
    found = list_requests(services(request).store(), status=status)
    if key.role is not Role.ADMIN:
        found = [r for r in found if key.party in (r.owner, r.licensee)]
    return {"requests": [r.to_dict() for r in found], "count": len(found)}


def _owner_of(request: Request, key: ApiKey, request_id: int) -> str:
    """The request's owner, once the key is shown to act for them (404, then 403)."""
    owner = get_request(services(request).store(), request_id).owner
    require_owner(key, owner, f"licence request {request_id}")
    return owner


@router.post("/licenses/requests/{request_id}/accept")
def accept(request_id: RequestId, key: Key, request: Request) -> dict[str, Any]:
    """The owner accepts: one agreement per work with the agreed prices (409 if decided)."""
    owner = _owner_of(request, key, request_id)
    found, made = accept_request(services(request).store(), request_id, owner, actor=key.party)
    return {"request": found.to_dict(), "agreements": [a.to_dict() for a in made]}


@router.post("/licenses/requests/{request_id}/reject")
def reject(request_id: RequestId, key: Key, request: Request) -> dict[str, Any]:
    """The owner rejects; the request stays on record (409 if decided)."""
    owner = _owner_of(request, key, request_id)
    found = reject_request(services(request).store(), request_id, owner, actor=key.party)
    return {"request": found.to_dict()}


def _own_or_admin(key: ApiKey, named: str | None, what: str) -> str | None:
    """The party a read is about: the key's own, or (admin only) the one named, else all."""
    if key.role is Role.ADMIN:
        return named
    if named is not None and named != key.party:
        raise Forbidden(f"the key of {key.party!r} may not read {named!r}'s {what}")
    return key.party


@router.get("/notices")
def notices(key: Key, request: Request, licensee: Name = None) -> dict[str, Any]:
    """Notices that a usage a licensee relied on turned to deny: the key's party's own."""
    whose = _own_or_admin(key, licensee, "notices")
    found = list_notices(services(request).store(), licensee=whose)
    return {"notices": [n.to_dict() for n in found], "count": len(found)}


@router.get("/runs")
def runs(key: Key, request: Request, licensee: Name = None) -> dict[str, Any]:
    """Recorded training runs: the key's party's own as licensee (admin: any or all)."""
    whose = _own_or_admin(key, licensee, "runs")
    found = list_runs(services(request).store(), licensee=whose)
    return {"runs": [r.to_dict() for r in found], "count": len(found)}


@router.get("/royalties")
def royalties(
    key: Key,
    request: Request,
    period: Annotated[str, Query(min_length=1, max_length=16, description="2026-Q4, 2026-11")],
    owner: Name = None,
) -> dict[str, Any]:
    """A royalty statement for the period: an owner key's own (admin: any owner, or all)."""
    if key.role is Role.LICENSEE:
        raise Forbidden("a licensee key may not read royalty statements")
    whose = _own_or_admin(key, owner, "royalty statement")
    return royalty_statement(services(request).store(), period, owner=whose).to_dict()

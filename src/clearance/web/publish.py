"""The publishing helper: a creator's terms as robots.txt, ai.txt, tdmrep.json and RSL for
their own site, and their IPTC ``plus:DataMining`` code, stamped into a JPEG on request
(``signals.publish``, ``licensing.offers.export_rsl``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clearance.core.errors import UserError
from clearance.core.validation import clean_data_text
from clearance.licensing.offers import export_rsl, list_offers
from clearance.registry.accounts import Account, AccountRole
from clearance.signals.publish import site_files, stamp_jpeg

from .context import web
from .render import HEADERS, WebRoute, page
from .session import read_form, require

router = APIRouter(prefix="/creator", route_class=WebRoute, include_in_schema=False)


async def _creator(request: Request) -> Account:
    return await require(request, AccountRole.CREATOR)


def _site_files(request: Request, account: Account) -> dict[str, Any]:
    store = web(request).store()
    terms = store.party_terms(account.party)
    rsl, warnings = export_rsl(list_offers(store, owner=account.party))
    base = str(request.base_url).rstrip("/")
    files = site_files(terms.effective(), policy_url=f"{base}/creator/publish/rsl.xml")
    return {"files": files, "rsl": rsl, "warnings": warnings}


FILES = {
    "robots.txt": "text/plain",
    "ai.txt": "text/plain",
    "tdmrep.json": "application/json",
    "rsl.xml": "application/rsl+xml",
}


@router.get("/publish")
async def publish(request: Request) -> Response:
    account = await _creator(request)
    found = await run_in_threadpool(_site_files, request, account)
    return await page(request, "creator/publish.html", **found)


@router.get("/publish/{name}")
async def publish_file(request: Request, name: str) -> Response:
    account = await _creator(request)
    if name not in FILES:
        raise UserError(f"no file named {name[:40]!r} here")
    found = await run_in_threadpool(_site_files, request, account)
    body = found["rsl"] if name == "rsl.xml" else found["files"].as_dict()[name]
    return Response(
        body,
        media_type=FILES[name] + "; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/publish/stamp")
async def stamp(request: Request) -> Response:
    """A JPEG back with its IPTC ``plus:DataMining`` set from the creator's terms."""
    account = await _creator(request)
    async with read_form(request, max_files=1) as form:
        part = form.get("file")
        upload = part if isinstance(part, UploadFile) else None
        data = await upload.read() if upload is not None else b""
        label = clean_data_text(upload.filename or "image.jpg", limit=200) if upload else ""
    found = await run_in_threadpool(_site_files, request, account)
    try:
        if not data:
            raise UserError("choose a JPEG image to stamp")
        stamped = stamp_jpeg(data, found["files"].iptc_code)
    except UserError as exc:
        return await page(
            request, "creator/publish.html", status=exc.http_status, error=exc.message, **found
        )
    stem = "".join(c for c in label.rsplit(".", 1)[0] if c.isalnum() or c in "-_")[:80] or "image"
    return Response(
        stamped,
        media_type="image/jpeg",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{stem}-stamped.jpg"'},
    )

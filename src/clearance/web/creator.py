"""A creator's works: the list, registering files (drag and drop, with progress) and URLs,
patterns or identifiers, and where the works were found.

Terms (``terms``), requests and statements (``royalties``) and the publishing
helper (``publish``) have modules of their own; each page acts for the
signed-in account's party through the library calls ``clearance works add``,
``impact``, ``usage list`` and ``license list`` make.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clearance.core.errors import UserError
from clearance.core.usage import Usage
from clearance.core.validation import clean_data_text
from clearance.licensing.impact import impact, list_notices
from clearance.licensing.requests import list_requests
from clearance.registry import SqlStore, add_upload, list_usage_events, parse_identifier
from clearance.registry import register_identifier as register_id
from clearance.registry.accounts import Account, AccountRole
from clearance.registry.disputes import list_disputes
from clearance.registry.identifiers import target_text

from .context import web
from .render import WebRoute, page, redirect
from .session import flash, read_form, require, text
from .terms import USAGES, terms_view

router = APIRouter(prefix="/creator", route_class=WebRoute, include_in_schema=False)
PER_PAGE = 50
MAX_UPLOAD_FILES = 20


async def _creator(request: Request) -> Account:
    return await require(request, AccountRole.CREATOR)


@router.get("")
async def dashboard(request: Request) -> Response:
    account = await _creator(request)
    try:
        page_no = max(1, min(int(request.query_params.get("page", "1")), 1_000_000))
    except ValueError:
        page_no = 1
    data = await run_in_threadpool(_works_data, web(request).store(), account, page_no)
    return await page(request, "creator/works.html", **data)


def _works_data(store: SqlStore, account: Account, page_no: int) -> dict[str, Any]:
    """What the works page shows: a page of the party's works, its level and default terms,
    and its claims on works another party holds (disputed, or rejected by an admin)."""
    total = store.count_works(owner=account.party)
    works = store.list_works(owner=account.party, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE)
    elsewhere = [
        {
            "id": d.work.id,
            "title": d.work.title,
            "holder": d.work.owner.name,
            "holder_level": d.work.owner.verification.value,
            "mine": next(c for c in d.claims if c.party == account.party),
        }
        for d in list_disputes(store, resolved=True, party=account.party)
        if d.work.owner.name != account.party
    ]
    return {
        "level": store.get_party(account.party).verification.value,
        "works": _rows(works),
        "total": total,
        "page_no": page_no,
        "pages": max(1, -(-total // PER_PAGE)),
        "defaults": terms_view(store.party_terms(account.party)),
        "usages": USAGES,
        "elsewhere": elsewhere,
    }


def _rows(works: list[Any]) -> list[dict[str, Any]]:
    out = []
    for w in works:
        effective = w.terms.effective()
        out.append(
            {
                "id": w.id,
                "title": w.title,
                "kind": w.kind.value,
                "disputed": w.disputed,
                "level": w.owner.verification.value,
                "claims": [
                    (c.party, c.status.value, c.verification.value)
                    for c in w.claims
                    if c.party != w.owner.name
                ],
                "train": effective[Usage.TRAIN_AI].value,
                "output": effective[Usage.OUTPUT].value,
                "ids": [f"{i.scheme.value}:{i.value[:40]}" for i in w.identifiers[:2]],
            }
        )
    return out


def _wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "clearance-upload"


@router.post("/works/upload")
async def upload(request: Request) -> Response:
    """Register uploaded files (one per request from the drop zone; several from the form)."""
    account = await _creator(request)
    ctx = web(request)
    done: list[str] = []
    problems: list[str] = []
    async with read_form(request, max_files=MAX_UPLOAD_FILES) as form:
        files = [f for f in form.getlist("file") if isinstance(f, UploadFile) and f.filename]
        if not files:
            problems.append("choose one or more files to register")
        for part in files:
            label = clean_data_text(part.filename or "upload", limit=255)
            data = await part.read()
            try:
                summary = await run_in_threadpool(
                    partial(
                        add_upload,
                        ctx.store(),
                        data,
                        label,
                        owner=account.party,
                        actor=account.party,
                        max_pixels=ctx.settings.max_pixels,
                        similar=ctx.content_check() if ctx.content_check else None,
                    )
                )
            except UserError as exc:
                problems.append(f"{label}: {exc.message}")
                continue
            if summary.skipped:
                problems.append(f"{label}: {summary.skipped[0].reason}")
            for reg in summary.registrations:
                done.append(f"{label} as work {reg.work.id} ({reg.status.value})")
    if _wants_json(request):
        status = 400 if problems and not done else 200
        return JSONResponse({"registered": done, "errors": problems}, status_code=status)
    if problems and not done:
        return await _works_error(request, account, "; ".join(problems)[:500])
    note = f"Registered {len(done)} file(s)." + (
        f" Not registered: {'; '.join(problems)}" if problems else ""
    )
    return flash(request, redirect("/creator"), note)


async def _works_error(request: Request, account: Account, error: str) -> Response:
    data = await run_in_threadpool(_works_data, web(request).store(), account, 1)
    return await page(request, "creator/works.html", status=400, error=error, **data)


IDENTIFIER_KINDS = {
    "url": "One web page or file URL",
    "prefix": "Every URL that starts with…",
    "domain": "A whole domain",
    "identifier": "ISBN, ISRC, ISCC or SHA-256",
}


@router.post("/works/identifier")
async def register_identifier(request: Request) -> Response:
    account = await _creator(request)
    async with read_form(request) as form:
        kind, value = text(form, "kind", limit=20), text(form, "value", limit=2000)
        title = text(form, "title", limit=500) or None
    store = web(request).store()
    try:
        if kind not in IDENTIFIER_KINDS:
            raise UserError("choose what you are registering")
        ident = parse_identifier(target_text(kind, value))
        reg = await run_in_threadpool(
            lambda: register_id(store, ident, owner=account.party, title=title, actor=account.party)
        )
    except UserError as exc:
        return await _works_error(request, account, exc.message)
    return flash(
        request, redirect("/creator"), f"Registered work {reg.work.id} ({reg.status.value})."
    )


@router.get("/found")
async def found(request: Request) -> Response:
    """Where my works were found: runs and scans that used them, outputs, notices."""
    account = await _creator(request)
    store = web(request).store()

    def read() -> dict[str, Any]:
        return {
            "uses": impact(store, owner=account.party),
            "outputs": list_usage_events(store, owner=account.party, limit=200),
            "requests": list_requests(store, owner=account.party),
            "notices": [n for n in list_notices(store) if n.owner == account.party],
        }

    return await page(request, "creator/found.html", **await run_in_threadpool(read))

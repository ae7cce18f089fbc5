"""``/v1/works`` and ``/v1/parties/{name}/terms``: register, read, set terms, remove.

Reads are open; every write needs an API key whose party owns what it
changes (or an admin key), and is audited with that party as the actor.
Routes stay thin: ``registry.add_works`` (an upload, fingerprinted like
``works add``), ``registry.register_identifier`` (a URL, prefix, domain or
identifier: never a server path), and the store's ``set_work_terms``,
``set_party_terms``, ``remove_work``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clearance.core.errors import UserError
from clearance.core.models import Work, WorkKind
from clearance.core.validation import MAX_COUNT, MAX_ID, clean_data_text
from clearance.registry import (
    ApiKey,
    Registration,
    TermsChange,
    add_upload,
    parse_identifier,
    register_identifier,
)
from clearance.registry.identifiers import target_text

from .auth import require_owner
from .limits import probe_upload
from .services import Services, services

router = APIRouter(prefix="/v1", tags=["works"])

_UPLOAD_FIELDS = (
    *("file", "owner", "title", "kind"),
    *("deny", "allow", "license", "price", "currency", "per"),
)

WorkId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The work's id.")]


async def api_key(request: Request) -> ApiKey:
    """The request's API key (401 without one)."""
    return await services(request).keys().require(request)


Key = Annotated[ApiKey, Depends(api_key)]


class TermsBody(BaseModel):
    """A change to terms: usages (names or comma lists, ``all``) per permission, and a price."""

    model_config = ConfigDict(extra="forbid")

    deny: list[str] = []
    allow: list[str] = []
    license: list[str] = []
    unset: list[str] = []
    price: str | None = None
    currency: str | None = None
    per: str = "item"

    def change(self) -> TermsChange | None:
        return TermsChange.parse(
            deny=self.deny,
            allow=self.allow,
            license=self.license,
            unset=self.unset,
            price=self.price,
            currency=self.currency,
            per=self.per,
        )


class RegisterBody(BaseModel):
    """A work known without its bytes: exactly one of ``url``, ``prefix``, ``domain``,
    ``identifier`` (``isbn:…``, ``isrc:…``, ``iscc:…``, ``sha256:…`` or a URL)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    prefix: str | None = None
    domain: str | None = None
    identifier: str | None = None
    owner: str | None = None
    title: str | None = None
    kind: WorkKind | None = None
    terms: TermsBody | None = None

    def target(self) -> str:
        given = [
            (name, value)
            for name, value in (
                ("url", self.url),
                ("prefix", self.prefix),
                ("domain", self.domain),
                ("identifier", self.identifier),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise UserError("give exactly one of url, prefix, domain or identifier")
        return target_text(*given[0])


def _registration(reg: Registration) -> JSONResponse:
    status = 201 if reg.status.value == "created" else 200
    return JSONResponse({"work": reg.work.to_dict(), "status": reg.status.value}, status)


@router.post("/works", status_code=201)
def register(body: RegisterBody, key: Key, request: Request) -> JSONResponse:
    """Register a work by URL, URL prefix, domain or identifier for the key's party
    (or ``owner``, which only an admin key may name)."""
    owner = body.owner if body.owner is not None else key.party
    require_owner(key, owner, "works")
    ident = parse_identifier(body.target())
    reg = register_identifier(
        services(request).store(),
        ident,
        owner=owner,
        terms=body.terms.change() if body.terms else None,
        title=body.title,
        kind=body.kind,
        actor=key.party,
    )
    return _registration(reg)


@router.post(
    "/works/upload",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            **{f: {"type": "string"} for f in _UPLOAD_FIELDS if f != "file"},
                        },
                    }
                }
            },
        }
    },
)
async def upload(request: Request, key: Key) -> JSONResponse:
    """Register an uploaded file, fingerprinted as ``clearance works add`` does."""
    svc = services(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UserError("send multipart/form-data with a 'file' part")
    async with request.form(max_files=2, max_fields=16) as form:
        for name in _UPLOAD_FIELDS:
            if len(form.getlist(name)) > 1:
                raise UserError(f"send at most one {name!r} part per request")
        unknown = sorted(set(form.keys()) - set(_UPLOAD_FIELDS))
        if unknown:
            raise UserError(f"unknown form fields: {', '.join(unknown)[:200]}")
        fields = {n: _text(form.get(n), n) for n in _UPLOAD_FIELDS if n != "file"}
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise UserError("send the work as a 'file' upload")
        data = await part.read()
        label = clean_data_text(part.filename or "upload", limit=255)
    if not data:
        raise UserError("the uploaded file is empty")
    owner = fields["owner"] or key.party
    require_owner(key, owner, "works")
    kind = WorkKind(fields["kind"]) if fields["kind"] in {k.value for k in WorkKind} else None
    if fields["kind"] and kind is None:
        raise UserError(f"unknown kind {fields['kind']!r}")
    change = TermsChange.parse(
        deny=[fields["deny"] or ""],
        allow=[fields["allow"] or ""],
        license=[fields["license"] or ""],
        price=fields["price"],
        currency=fields["currency"],
        per=fields["per"] or "item",
    )
    settings = svc.settings
    probe_upload(
        data, label, max_pixels=settings.api_max_pixels, max_seconds=settings.api_max_seconds
    )
    async with svc.decode_gate():
        summary = await run_in_threadpool(
            _register_upload, svc, data, label, owner, change, fields["title"], kind, key.party
        )
    if summary.skipped:
        raise UserError(f"cannot register {label!r}: {summary.skipped[0].reason}")
    return _registration(summary.registrations[0])


def _register_upload(
    svc: Services,
    data: bytes,
    label: str,
    owner: str,
    change: TermsChange | None,
    title: str | None,
    kind: WorkKind | None,
    actor: str,
) -> Any:
    return add_upload(
        svc.store(),
        data,
        label,
        owner=owner,
        terms=change,
        title=title,
        kind=kind,
        actor=actor,
        max_pixels=min(svc.settings.api_max_pixels, svc.settings.max_pixels),
        embedder=svc.guard.embedder,
        similar=svc.content_check(),
    )


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError(f"the {name!r} part must be text")
    return value


@router.get("/works")
def list_works(
    request: Request,
    owner: Annotated[str | None, Query(max_length=255)] = None,
    kind: WorkKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_COUNT)] = 0,
) -> dict[str, Any]:
    """Registered works, oldest first."""
    found = services(request).store().list_works(owner=owner, kind=kind, limit=limit, offset=offset)
    return {"works": [w.to_dict() for w in found], "count": len(found)}


@router.get("/works/{work_id}")
def get_work(work_id: WorkId, request: Request) -> dict[str, Any]:
    """One work with its identifiers, effective terms and claims."""
    return {"work": services(request).store().get_work(work_id).to_dict()}


def _owned(request: Request, key: ApiKey, work_id: int, what: str) -> Work:
    work = services(request).store().get_work(work_id)
    require_owner(key, work.owner.name, what)
    return work


@router.put("/works/{work_id}/terms")
def set_work_terms(work_id: WorkId, body: TermsBody, key: Key, request: Request) -> dict[str, Any]:
    """Change one work's terms (its owner's key, or an admin's)."""
    _owned(request, key, work_id, f"the terms of work {work_id}")
    change = body.change()
    if change is None:
        raise UserError("no terms given", hint="send deny, allow, license or unset")
    work = services(request).store().set_work_terms(work_id, change, actor=key.party)
    return {"work": work.to_dict()}


@router.delete("/works/{work_id}")
def remove_work(work_id: WorkId, key: Key, request: Request) -> dict[str, Any]:
    """Remove a work (its owner's key, or an admin's); audited, its agreements revoked."""
    _owned(request, key, work_id, f"work {work_id}")
    work = services(request).store().remove_work(work_id, actor=key.party)
    return {"removed": work.to_dict()}


PartyName = Annotated[str, PathParam(min_length=1, max_length=255)]


def _terms_doc(owner: str, terms: Any) -> dict[str, Any]:
    return {
        "owner": owner,
        "terms": {u.value: p.value for u, p in terms.effective().items()},
        "stated_terms": {u.value: p.value for u, p in terms.permissions.items()},
        "price": terms.price.to_dict() if terms.price else None,
    }


@router.get("/parties/{name}/terms")
def party_terms(name: PartyName, request: Request) -> dict[str, Any]:
    """An owner's default terms (for every work of theirs without its own)."""
    return _terms_doc(name, services(request).store().party_terms(name))


@router.put("/parties/{name}/terms")
def set_party_terms(name: PartyName, body: TermsBody, key: Key, request: Request) -> dict[str, Any]:
    """Change an owner's default terms (that owner's key, or an admin's)."""
    require_owner(key, name, "the default terms")
    change = body.change()
    if change is None:
        raise UserError("no terms given", hint="send deny, allow, license or unset")
    return _terms_doc(
        name, services(request).store().set_party_terms(name, change, actor=key.party)
    )

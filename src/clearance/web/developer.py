"""AI developers' pages: submit a scan and watch it, read its report, request licences,
see agreements and notices, download the compliance documents.

A scan runs in the background (``jobs.ScanJobs``) through ``clearance.scan.scan``
as ``clearance scan`` runs it, with the developer's party as the licensee.
Its input is a dataset under the server's ``web_datasets`` folder (a
relative path, confined there) or an uploaded manifest (JSONL, CSV or
Parquet rows with ``url``/``text`` columns). Licence requests and documents
are ``license request --scan``, ``report`` and ``policy`` over the scan's
output folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clearance.core.errors import UserError
from clearance.core.files import confined
from clearance.evidence import prove
from clearance.licensing.impact import list_notices
from clearance.licensing.requests import list_requests, request_licenses
from clearance.licensing.runs import record_run
from clearance.registry import list_agreements
from clearance.registry.accounts import Account, AccountRole
from clearance.reports import copyright_policy, render, summarize

from .context import web
from .jobs import ScanJob
from .render import CSP, HEADERS, WebRoute, page, redirect
from .session import flash, read_form, require, text

router = APIRouter(prefix="/developer", route_class=WebRoute, include_in_schema=False)

PURPOSES = (
    ("train-genai", "Training a generative model"),
    ("train-ai", "Training any AI model"),
    ("ai-input", "AI input (retrieval, grounding)"),
    ("search", "Search indexing"),
    ("tdm", "Text and data mining"),
)
MODES = (
    ("opt-out", "Opt-out: use what nobody reserved"),
    ("opt-in", "Opt-in: use only what is explicitly allowed or licensed"),
)
WEBS = (
    ("origin", "Read each site's opt-out files (robots.txt, ai.txt, TDMRep, …)"),
    ("off", "Registry and embedded signals only (no network)"),
)
MANIFESTS = (".jsonl", ".ndjson", ".csv", ".parquet")
DOCUMENTS = {
    "eu-summary": "EU AI Act training-content summary",
    "ab2013": "California AB 2013 disclosure",
    "policy": "Copyright policy (AI Act Art. 53(1)(c))",
}
MAX_MANIFEST = 50 * 1024 * 1024


async def _developer(request: Request) -> Account:
    return await require(request, AccountRole.DEVELOPER)


async def _dashboard(
    request: Request, account: Account, *, status: int = 200, error: str | None = None, **form: Any
) -> Response:
    ctx = web(request)
    jobs = await run_in_threadpool(ctx.jobs.list, account.party)
    return await page(
        request,
        "developer/scans.html",
        status=status,
        error=error,
        jobs=jobs,
        purposes=PURPOSES,
        modes=MODES,
        webs=WEBS,
        datasets=ctx.datasets,
        form=form,
    )


@router.get("")
async def dashboard(request: Request) -> Response:
    account = await _developer(request)
    return await _dashboard(request, account)


def _choice(value: str, options: tuple[tuple[str, str], ...], what: str) -> str:
    if value not in {v for v, _ in options}:
        raise UserError(f"choose a {what} from the list")
    return value


@router.post("/scans")
async def submit(request: Request) -> Response:
    account = await _developer(request)
    ctx = web(request)
    async with read_form(request, max_files=1) as form:
        fields = {n: text(form, n, limit=1000) for n in ("path", "purpose", "mode", "web")}
        part = form.get("manifest")
        upload = part if isinstance(part, UploadFile) and part.filename else None
        data = await upload.read(MAX_MANIFEST + 1) if upload is not None else b""
        name = upload.filename or "" if upload is not None else ""
    try:
        purpose = _choice(fields["purpose"] or "train-genai", PURPOSES, "purpose")
        mode = _choice(fields["mode"] or "opt-out", MODES, "mode")
        web_mode = _choice(fields["web"] or "origin", WEBS, "way to read the web")
        if upload is not None and fields["path"]:
            raise UserError("give a dataset path or upload a manifest, not both")
        if upload is not None:
            suffix = Path(name).suffix.lower()
            if suffix not in MANIFESTS:
                raise UserError("upload a .jsonl, .csv or .parquet manifest")
            if not data:
                raise UserError("the uploaded manifest is empty")
            if len(data) > MAX_MANIFEST:
                raise UserError(f"a manifest has at most {MAX_MANIFEST // 2**20} MiB")
            label = Path(name).name[:200]
            source: Path | None = None
        else:
            if not fields["path"]:
                raise UserError("give a dataset path or upload a manifest")
            if ctx.datasets is None:
                raise UserError(
                    "this server does not scan server paths; upload a manifest instead",
                    hint="the operator sets CLEARANCE_WEB_DATASETS",
                )
            source = confined(ctx.datasets, fields["path"].strip("/"), what="dataset path")
            if not source.exists():
                raise UserError(f"there is no {fields['path']!r} in the datasets folder")
            label = fields["path"]
    except UserError as exc:
        return await _dashboard(
            request, account, status=exc.http_status, error=exc.message, **fields
        )
    job = await run_in_threadpool(
        lambda: ctx.jobs.new(account.party, label, purpose=purpose, mode=mode, web=web_mode)
    )
    if source is None:
        source = ctx.jobs.job_dir(job) / ("manifest" + Path(name).suffix.lower())
        source.write_bytes(data)
    ctx.jobs.start(job, source)
    return redirect(f"/developer/scans/{job.id}")


async def _job(request: Request, account: Account, job_id: int) -> ScanJob:
    return await run_in_threadpool(web(request).jobs.get, account.party, job_id)


@router.get("/scans/{job_id}")
async def job_page(request: Request, job_id: int) -> Response:
    account = await _developer(request)
    job = await _job(request, account, job_id)
    return await page(request, "developer/scan.html", job=job, documents=DOCUMENTS)


@router.get("/scans/{job_id}/progress")
async def progress(request: Request, job_id: int) -> Response:
    """The progress fragment htmx polls while the scan runs."""
    account = await _developer(request)
    job = await _job(request, account, job_id)
    return await page(request, "developer/progress.html", job=job)


def _output(request: Request, job: ScanJob) -> Path:
    if job.status != "done":
        raise UserError("this scan has not finished")
    return web(request).jobs.output(job)


@router.get("/scans/{job_id}/report")
async def report(request: Request, job_id: int) -> Response:
    """The scan's own report.html (self-contained: its scripts and styles are inline).

    Served sandboxed, in an opaque origin of its own, and allowed to load
    nothing: whatever a hostile dataset put into it cannot reach the session.
    """
    account = await _developer(request)
    out = _output(request, await _job(request, account, job_id))
    headers = {
        **HEADERS,
        "Content-Security-Policy": CSP.replace("script-src 'self'", "script-src 'unsafe-inline'")
        .replace("style-src 'self'", "style-src 'unsafe-inline'")
        .replace("default-src 'self'", "default-src 'none'; connect-src 'none'")
        # its own opaque origin: its script cannot act as the signed-in developer
        + "; sandbox allow-scripts allow-popups",
    }
    return FileResponse(out / "report.html", media_type="text/html", headers=headers)


@router.post("/scans/{job_id}/licenses")
async def request_licences(request: Request, job_id: int) -> Response:
    account = await _developer(request)
    async with read_form(request) as form:
        usages = [u for u in form.getlist("usage") if isinstance(u, str) and u == "output"]
    out = _output(request, await _job(request, account, job_id))
    made = await run_in_threadpool(
        lambda: request_licenses(
            web(request).store(), str(out), account.party, usages=usages, actor=account.party
        )
    )
    note = (
        f"Sent {len(made)} licence request(s), one per owner."
        if made
        else "Nothing in this scan needs a licence."
    )
    return flash(request, redirect("/developer/licences"), note)


@router.post("/scans/{job_id}/run")
async def run(request: Request, job_id: int) -> Response:
    """Record a training run built from this scan (``clearance runs record``)."""
    account = await _developer(request)
    async with read_form(request) as form:
        name, model = text(form, "name", limit=300), text(form, "model", limit=300) or None
    job = await _job(request, account, job_id)
    out = _output(request, job)
    try:
        if not name:
            raise UserError("name the training run")
        found, new = await run_in_threadpool(
            lambda: record_run(
                web(request).store(),
                [str(out)],
                name=name,
                licensee=account.party,
                model=model,
                actor=account.party,
            )
        )
    except UserError as exc:
        return await page(
            request,
            "developer/scan.html",
            status=exc.http_status,
            error=exc.message,
            job=job,
            documents=DOCUMENTS,
        )
    note = f"Recorded run {found.name!r}." if new else f"Run {found.name!r} was already recorded."
    return flash(request, redirect(f"/developer/scans/{job_id}"), note)


@router.get("/scans/{job_id}/documents/{kind}")
async def document(request: Request, job_id: int, kind: str) -> Response:
    account = await _developer(request)
    if kind not in DOCUMENTS:
        raise UserError(f"no document named {kind[:40]!r}")
    out = _output(request, await _job(request, account, job_id))

    def build() -> str:
        if kind == "policy":
            return render(copyright_policy(scan_dir=out), "md")
        return render(summarize([out], kind), "md")

    body = await run_in_threadpool(build)
    return Response(
        body,
        media_type="text/markdown; charset=utf-8",
        headers={
            **HEADERS,
            "Content-Disposition": f'attachment; filename="{kind}-scan-{job_id}.md"',
        },
    )


@router.get("/scans/{job_id}/proof")
async def proof(request: Request, job_id: int) -> Response:
    """A proof for one owner of how each of their items was decided (``clearance prove``)."""
    account = await _developer(request)
    owner = request.query_params.get("owner", "").strip()[:255]
    job = await _job(request, account, job_id)
    out = _output(request, job)
    try:
        if not owner:
            raise UserError("name the owner to prove to")
        doc = await run_in_threadpool(lambda: prove(out, owner=owner))
    except UserError as exc:
        return await page(
            request,
            "developer/scan.html",
            status=exc.http_status,
            error=exc.message,
            job=job,
            documents=DOCUMENTS,
            owner=owner,
        )
    return Response(
        json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={
            **HEADERS,
            "Content-Disposition": f'attachment; filename="proof-scan-{job_id}.json"',
        },
    )


@router.get("/licences")
async def licences(request: Request) -> Response:
    account = await _developer(request)
    store = web(request).store()

    def read() -> dict[str, Any]:
        return {
            "requests": list(reversed(list_requests(store, licensee=account.party))),
            "agreements": list(reversed(list_agreements(store, licensee=account.party))),
            "notices": list(reversed(list_notices(store, licensee=account.party))),
        }

    return await page(request, "developer/licences.html", **await run_in_threadpool(read))

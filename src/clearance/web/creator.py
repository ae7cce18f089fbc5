"""Creators' pages: works, terms in plain language, where works were found, licence
requests, royalty statements and the publishing helper.

Each page acts for the signed-in account's party through the library calls
``clearance works add``, ``terms set``, ``impact``, ``license accept``,
``royalties`` and ``offers export`` make.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clearance.core.errors import UserError
from clearance.core.models import Price, Terms
from clearance.core.usage import Permission, Usage
from clearance.core.validation import clean_data_text
from clearance.licensing.impact import impact, list_notices
from clearance.licensing.offers import export_rsl, list_offers
from clearance.licensing.requests import accept_request, get_request, list_requests, reject_request
from clearance.licensing.statements import royalty_statement, statement_csv
from clearance.registry import TermsChange, add_upload, list_usage_events, parse_identifier
from clearance.registry import register_identifier as register_id
from clearance.registry.accounts import Account, AccountRole
from clearance.registry.identifiers import target_text
from clearance.signals.publish import consequences, site_files, stamp_jpeg

from .context import web
from .render import HEADERS, WebRoute, page, redirect
from .session import flash, read_form, require, text

router = APIRouter(prefix="/creator", route_class=WebRoute, include_in_schema=False)
PER_PAGE = 50
MAX_UPLOAD_FILES = 20

USAGES: tuple[tuple[Usage, str], ...] = (
    (Usage.TRAIN_AI, "Training AI models of any kind"),
    (Usage.TRAIN_GENAI, "Training generative AI (images, text, music)"),
    (Usage.AI_INPUT, "Feeding AI as input (retrieval, summaries, answers)"),
    (Usage.OUTPUT, "Appearing in AI-generated output"),
    (Usage.SEARCH, "Search engines"),
    (Usage.TDM, "Text and data mining of every kind (covers training and AI input)"),
)
CHOICES: tuple[tuple[str, str], ...] = (
    ("", "No preference"),
    ("allow", "Allow"),
    ("deny", "Don't use"),
    ("license", "Only with a licence, at a price"),
)
PRESETS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("no-training", "Don't use my work to train AI", {"perm_train-ai": "deny"}),
    (
        "license-training",
        "License for training at €0.02 per image",
        {
            "perm_train-ai": "license",
            "price_train-ai": "0.02",
            "per_train-ai": "item",
            "currency": "EUR",
        },
    ),
    ("no-output", "Keep it out of generated images", {"perm_output": "deny"}),
)
PERS = (("item", "per item"), ("run", "per training run"), ("output", "per output"))


async def _creator(request: Request) -> Account:
    return await require(request, AccountRole.CREATOR)


@router.get("")
async def dashboard(request: Request) -> Response:
    account = await _creator(request)
    store = web(request).store()
    try:
        page_no = max(1, min(int(request.query_params.get("page", "1")), 1_000_000))
    except ValueError:
        page_no = 1

    def read() -> tuple[int, list[Any], Terms]:
        total = store.count_works(owner=account.party)
        works = store.list_works(
            owner=account.party, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE
        )
        return total, works, store.party_terms(account.party)

    total, works, terms = await run_in_threadpool(read)
    return await page(
        request,
        "creator/works.html",
        works=_rows(works),
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // PER_PAGE)),
        defaults=_terms_view(terms),
        usages=USAGES,
    )


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
    store = web(request).store()
    total, works, terms = await run_in_threadpool(
        lambda: (
            store.count_works(owner=account.party),
            store.list_works(owner=account.party, limit=PER_PAGE),
            store.party_terms(account.party),
        )
    )
    return await page(
        request,
        "creator/works.html",
        status=400,
        error=error,
        works=_rows(works),
        total=total,
        page_no=1,
        pages=max(1, -(-total // PER_PAGE)),
        defaults=_terms_view(terms),
        usages=USAGES,
    )


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


@router.get("/works/{work_id}")
async def work(request: Request, work_id: int) -> Response:
    account = await _creator(request)
    found = await run_in_threadpool(web(request).store().get_work, work_id)
    if found.owner.name != account.party:
        raise UserError("that work is not yours")
    return await _terms_page(request, account, found.terms, scope=str(work_id), work=found)


def _terms_view(terms: Terms) -> list[dict[str, Any]]:
    """Each usage's stated choice, effective permission, price and consequences per choice."""
    effective = terms.effective()
    out = []
    for usage, label in USAGES:
        stated = terms.permissions.get(usage)
        price = terms.prices.get(usage)
        out.append(
            {
                "usage": usage.value,
                "label": label,
                "stated": stated.value if stated else "",
                "effective": effective[usage].value,
                "price": price,
                "consequences": {
                    value: consequences(usage, Permission(value or "unknown"))
                    for value, _ in CHOICES
                },
            }
        )
    return out


async def _terms_page(
    request: Request,
    account: Account,
    terms: Terms,
    *,
    scope: str,
    work: Any = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    return await page(
        request,
        "creator/terms.html",
        status=status,
        error=error,
        rows=_terms_view(terms),
        choices=CHOICES,
        presets=PRESETS,
        pers=PERS,
        scope=scope,
        work=work,
        currency=next((p.currency for p in terms.prices.values()), "EUR"),
    )


@router.get("/terms")
async def terms_form(request: Request) -> Response:
    account = await _creator(request)
    terms = await run_in_threadpool(web(request).store().party_terms, account.party)
    return await _terms_page(request, account, terms, scope="default")


def terms_change(fields: dict[str, str]) -> TermsChange | None:
    """The change a terms form asks for: only the usages whose choice it carries."""
    deny, allow, license, unset = [], [], [], []
    prices: dict[Usage, Price] = {}
    currency = fields.get("currency", "").upper() or "EUR"
    for usage, label in USAGES:
        key = f"perm_{usage.value}"
        if key not in fields:
            continue
        choice = fields[key]
        if choice == "":
            unset.append(usage)
        elif choice == "deny":
            deny.append(usage)
        elif choice == "allow":
            allow.append(usage)
        elif choice == "license":
            amount = fields.get(f"price_{usage.value}", "")
            if not amount:
                raise UserError(f"{label}: a licence needs a price")
            per = fields.get(f"per_{usage.value}", "item") or "item"
            prices[usage] = Price.parse(amount, currency, per)
            license.append(usage)
        else:
            raise UserError(f"{label}: choose one of the listed options")
    return TermsChange.from_flags(
        deny=tuple(deny),
        allow=tuple(allow),
        license=tuple(license),
        unset=tuple(unset),
        prices=prices,
    )


@router.post("/terms")
async def set_terms(request: Request) -> Response:
    account = await _creator(request)
    store = web(request).store()
    async with read_form(request) as form:
        fields = {k: text(form, k, limit=64) for k in form if k != "csrf"}
    scope = fields.get("scope", "default")
    work_id = None
    if scope != "default":
        try:
            work_id = int(scope)
        except ValueError:
            raise UserError("unknown terms scope") from None
        found = await run_in_threadpool(store.get_work, work_id)
        if found.owner.name != account.party:
            raise UserError("that work is not yours")
    try:
        change = terms_change(fields)
        if change is None:
            raise UserError("nothing to change")
        if work_id is None:
            await run_in_threadpool(
                lambda: store.set_party_terms(account.party, change, actor=account.party)
            )
        else:
            await run_in_threadpool(
                lambda: store.set_work_terms(work_id, change, actor=account.party)
            )
    except UserError as exc:
        if work_id is None:
            terms = await run_in_threadpool(store.party_terms, account.party)
            return await _terms_page(
                request, account, terms, scope=scope, status=exc.http_status, error=exc.message
            )
        found = await run_in_threadpool(store.get_work, work_id)
        return await _terms_page(
            request,
            account,
            found.terms,
            scope=scope,
            work=found,
            status=exc.http_status,
            error=exc.message,
        )
    where = "/creator/terms" if work_id is None else f"/creator/works/{work_id}"
    return flash(request, redirect(where), "Your terms are saved and in force now.")


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


@router.get("/requests")
async def requests(request: Request) -> Response:
    account = await _creator(request)
    found = await run_in_threadpool(
        lambda: list_requests(web(request).store(), owner=account.party)
    )
    return await page(request, "creator/requests.html", requests=list(reversed(found)))


@router.post("/requests/{request_id}/{decision}")
async def decide(request: Request, request_id: int, decision: str) -> Response:
    account = await _creator(request)
    async with read_form(request):
        pass
    store = web(request).store()
    if decision not in ("accept", "reject"):
        raise UserError("choose accept or reject")
    found = await run_in_threadpool(get_request, store, request_id)
    if found.owner != account.party:
        raise UserError("that request is not for you")
    if decision == "accept":
        _, made = await run_in_threadpool(
            lambda: accept_request(store, request_id, account.party, actor=account.party)
        )
        note = f"Accepted request {request_id}: {len(made)} agreement(s) made."
    else:
        await run_in_threadpool(
            lambda: reject_request(store, request_id, account.party, actor=account.party)
        )
        note = f"Rejected request {request_id}."
    return flash(request, redirect("/creator/requests"), note)


def current_period() -> str:
    now = datetime.now(UTC)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


@router.get("/statements")
async def statements(request: Request) -> Response:
    account = await _creator(request)
    period = request.query_params.get("period", "").strip()[:16] or current_period()
    try:
        statement = await run_in_threadpool(
            lambda: royalty_statement(web(request).store(), period, owner=account.party)
        )
    except UserError as exc:
        return await page(
            request,
            "creator/statements.html",
            status=exc.http_status,
            error=exc.message,
            period=period,
        )
    return await page(
        request, "creator/statements.html", statement=statement.to_dict(), period=period
    )


@router.get("/statements.csv")
async def statements_csv(request: Request) -> Response:
    account = await _creator(request)
    period = request.query_params.get("period", "").strip()[:16] or current_period()
    statement = await run_in_threadpool(
        lambda: royalty_statement(web(request).store(), period, owner=account.party)
    )
    return Response(
        statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={
            **HEADERS,
            "Content-Disposition": f'attachment; filename="royalties-{statement.period.label}.csv"',
        },
    )


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

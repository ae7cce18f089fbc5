"""A creator's terms, per usage in plain language: the defaults and one work's own.

Each choice (no preference, allow, don't use, only with a licence at a price)
shows what it publishes (``signals.publish.consequences``); quick choices
set one usage. Saving is ``store.set_party_terms`` or ``set_work_terms``, as
``clearance terms set``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import UserError
from clearance.core.models import Price, Terms
from clearance.core.usage import Permission, Usage
from clearance.registry import TermsChange
from clearance.registry.accounts import Account, AccountRole
from clearance.signals.publish import consequences

from .context import web
from .render import WebRoute, page, redirect
from .session import flash, read_form, require, text

router = APIRouter(prefix="/creator", route_class=WebRoute, include_in_schema=False)


async def _creator(request: Request) -> Account:
    return await require(request, AccountRole.CREATOR)


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


@router.get("/works/{work_id}")
async def work(request: Request, work_id: int) -> Response:
    account = await _creator(request)
    found = await run_in_threadpool(web(request).store().get_work, work_id)
    if found.owner.name != account.party:
        raise UserError("that work is not yours")
    return await _terms_page(request, account, found.terms, scope=str(work_id), work=found)


def terms_view(terms: Terms) -> list[dict[str, Any]]:
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
        rows=terms_view(terms),
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

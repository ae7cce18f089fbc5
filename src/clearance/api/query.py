"""``POST /v1/query/urls`` and ``POST /v1/query/hashes``: the bulk query in Spawning's shape.

The body is newline-separated items (at most ``MAX_ITEMS``; more is a 413);
the answer is ``{"urls": [{"url", "optOut", "usages"}]}`` (``"hashes"`` and
``"hash"`` for hashes), in the order sent, from the live index the guard keeps
current (``Guard.current``; ``clearance.matching.bulk`` decides). Optional
query parameters: ``purpose`` (the usage ``optOut`` is about, default
``train-ai``) and ``mode``. With an API key, the key's party's licences count.

The answer is written by hand from one encoded fragment per distinct
decision: tens of thousands of URLs a second is the target, and a generic
encoder would spend more time than the lookup.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import UserError
from clearance.core.models import VerificationLevel
from clearance.core.policy import Mode
from clearance.core.usage import parse_usage
from clearance.matching.bulk import MAX_ITEMS, BulkAnswer, check_batch, query_hashes, query_urls

from .services import services

router = APIRouter(prefix="/v1", tags=["query"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {
                "schema": {"type": "string", "description": f"one item a line, at most {MAX_ITEMS}"}
            }
        },
    },
}
Purpose = Annotated[str, Query(max_length=32, description="usage optOut is about")]
ModeParam = Annotated[str | None, Query(max_length=16, description="opt-out or opt-in")]


async def _lines(request: Request, what: str) -> list[str]:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"the body is not UTF-8 text (byte {exc.start})") from None
    lines = [line.strip() for line in text.splitlines()]
    items = [line for line in lines if line]
    check_batch(len(items), what)
    return items


async def _answer(
    request: Request,
    what: str,
    key: str,
    purpose: str,
    mode: str | None,
    run: Callable[..., list[BulkAnswer | None]],
) -> Response:
    svc = services(request)
    principal = await svc.keys().principal(request)
    items = await _lines(request, what)
    usage = parse_usage(purpose)
    chosen = Mode.parse(mode) if mode else Mode.parse(svc.settings.mode)
    licensee = principal.party if principal is not None else None
    floor = VerificationLevel.parse(svc.settings.min_verification)
    answers = await run_in_threadpool(
        lambda: run(
            svc.guard.current(),
            items,
            mode=chosen,
            purpose=usage,
            licensee=licensee,
            min_verification=floor,
        )
    )
    return Response(_encode(key, items, answers), media_type="application/json")


_PLURAL = {"url": "urls", "hash": "hashes"}
_ERROR_TAIL = ',"optOut":false,"usages":{},"error":"not a valid item"}'


def _encode(key: str, items: Sequence[str], answers: Sequence[BulkAnswer | None]) -> bytes:
    """``{"urls": [{"url": item, "optOut": ..., "usages": {...}, "works": [...]}]}`` (or hashes)."""
    tails: dict[int, str] = {}
    parts: list[str] = []
    head = '{"' + key + '":'
    for item, answer in zip(items, answers, strict=True):
        if answer is None:
            tail = _ERROR_TAIL
        else:
            tail = tails.get(id(answer), "")
            if not tail:
                body: dict[str, Any] = {
                    "optOut": answer.opt_out,
                    "usages": answer.usages_dict(),
                    "works": list(answer.works),
                }
                tail = tails[id(answer)] = "," + json.dumps(body, separators=(",", ":"))[1:]
        parts.append(head + json.dumps(item) + tail)
    return ('{"' + _PLURAL[key] + '":[' + ",".join(parts) + "]}").encode()


@router.post("/query/urls", openapi_extra=_BODY)
async def urls(request: Request, purpose: Purpose = "train-ai", mode: ModeParam = None) -> Response:
    """Opt-out and permissions for up to 10,000 URLs (one a line), from URL, prefix and
    domain claims."""
    return await _answer(request, "URLs", "url", purpose, mode, query_urls)


@router.post("/query/hashes", openapi_extra=_BODY)
async def hashes(
    request: Request, purpose: Purpose = "train-ai", mode: ModeParam = None
) -> Response:
    """Opt-out and permissions for up to 10,000 hashes (one a line): ``sha256:HEX``,
    ``pdq:HEX``, or bare HEX for a SHA-256."""
    return await _answer(request, "hashes", "hash", purpose, mode, query_hashes)

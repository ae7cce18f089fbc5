"""``GET /v1/signals?url=``: every opt-out signal that applies to one URL, as ``clearance signals``.

The same evaluation (``clearance.fetch.evaluate.evaluate_urls``) with the
service's fetch settings: the SSRF guard refuses private, loopback and
link-local addresses unless ``allow_private`` is on (``CLEARANCE_ALLOW_PRIVATE``),
and a URL whose host is such an address is a 403 before anything is fetched.
The evaluation runs in a worker thread (it has its own event loop).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import AddressBlocked
from clearance.fetch import AddressPolicy, FetchConfig, origin_of
from clearance.fetch.evaluate import WebMode, evaluate_urls
from clearance.fetch.ssrf import check_url

from .services import services

router = APIRouter(prefix="/v1", tags=["signals"])


@router.get("/signals")
async def signals(
    request: Request,
    url: Annotated[str, Query(min_length=1, max_length=8192, description="an http(s) URL")],
    agent: Annotated[str, Query(max_length=64, description="robots.txt product token")] = (
        "Clearance"
    ),
    web: Annotated[WebMode, Query(description="full, head or origin")] = WebMode.FULL,
) -> dict[str, Any]:
    """Crawl permission, each usage's permission with its evidence, and licences offered."""
    await services(request).keys().principal(request)  # a bad key is a 401, as everywhere
    origin_of(url)  # a bad URL is a 400 before anything is fetched
    allow = services(request).settings.allow_private
    try:
        await run_in_threadpool(check_url, url, AddressPolicy(allow_private=allow))
    except AddressBlocked as exc:
        raise AddressBlocked(
            str(exc), hint="the server refuses private addresses (CLEARANCE_ALLOW_PRIVATE)"
        ) from None
    config = FetchConfig(agent=agent, allow_private=allow)
    mode = web if web is not WebMode.OFF else WebMode.ORIGIN
    run = await run_in_threadpool(partial(evaluate_urls, [url], config, web=mode))
    return run.results[0].to_dict()

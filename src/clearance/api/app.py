"""``create_app(settings)``: the FastAPI application, its routes and its one error handler.

Routes are thin: they parse the request, call a library function and return
its JSON. Every ``ClearanceError`` becomes its HTTP status with
``{"error": message, "type": class}``, so bad input is a 4xx, never a 500.
The guard (``clearance.guard.live.Guard``) loads its index at start-up and
keeps it current as the registry changes (``Settings.guard_sync``).

Routes:
* ``GET /healthz``;
* ``POST /v1/check``: a multipart upload (``file``; optional ``text``,
  ``prompt`` and ``licensee`` form fields) or JSON ``{"text", "prompt", "pdq",
  "licensee"}`` where ``pdq`` is a 64-hex-digit hash computed by the client.
  Same JSON as ``clearance check``; the verdict's usage events (outputs allowed
  under a licence or with attribution) are recorded in the registry's ledger.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from clearance import __version__
from clearance.config import Settings
from clearance.core.errors import ClearanceError, UserError
from clearance.core.policy import Mode
from clearance.guard import GuardIndex
from clearance.guard.check import Verdict
from clearance.guard.live import Guard
from clearance.registry import SqlStore, record_usage_events
from clearance.service import build_embedder, open_registry

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def create_app(settings: Settings, *, index: GuardIndex | None = None) -> FastAPI:
    """The app for ``settings``; the registry must exist (``clearance init``).

    ``index`` serves a guard index built elsewhere (benchmarks, tests) instead
    of loading one from the registry.
    """
    embedder = build_embedder(settings)  # None unless CLEARANCE_EMBEDDER names a model
    if index is None:
        guard = Guard(
            open_registry(settings),
            sync=settings.guard_sync,
            embedder=embedder,
            mode=settings.mode,
        )
    else:
        guard = Guard(None, index=index, embedder=embedder)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        guard.close()
        if guard.store is not None:
            guard.store.close()

    app = FastAPI(title="Clearance", version=__version__, lifespan=lifespan)
    app.state.guard = guard

    @app.exception_handler(ClearanceError)
    async def _clearance_error(_request: Request, exc: ClearanceError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status, content={"error": str(exc), "type": type(exc).__name__}
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "works": len(guard.index.works)}

    @app.post("/v1/check")
    async def v1_check(request: Request) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_UPLOAD_BYTES:
            raise _TooLarge(f"request is {length} bytes, over {MAX_UPLOAD_BYTES}")
        if ctype.startswith("multipart/form-data"):
            async with request.form() as form:  # closes the spooled uploads afterwards
                upload = form.get("file")
                text, prompt = form.get("text"), form.get("prompt")
                licensee, mode = form.get("licensee"), _mode(form.get("mode"), settings)
                data = None
                if upload is not None and not isinstance(upload, str):
                    data = await upload.read(MAX_UPLOAD_BYTES + 1)
                label = getattr(upload, "filename", None) or "upload"
            if data is not None and len(data) > MAX_UPLOAD_BYTES:
                raise _TooLarge(f"upload is over {MAX_UPLOAD_BYTES} bytes")
            if data is not None and not data:
                raise UserError("the uploaded file is empty")
            verdict = await run_in_threadpool(  # decoding and hashing: off the event loop
                partial(guard.check, data, label=label, licensee=_str(licensee), mode=mode),
                text=_str(text),
                prompt=_str(prompt),
            )
            return await _answer(guard, settings, verdict)
        try:
            body = await request.json()
        except ValueError:
            raise UserError("send multipart/form-data with a file, or a JSON object") from None
        if not isinstance(body, dict):
            raise UserError("the JSON body must be an object")
        pdq, text, prompt = body.get("pdq"), body.get("text"), body.get("prompt")
        licensee = _str(body.get("licensee"))
        mode = _mode(body.get("mode"), settings)
        if pdq is not None:
            try:
                raw = bytes.fromhex(str(pdq))
            except ValueError:
                raise UserError("pdq must be 64 hexadecimal digits") from None
            # a hash lookup takes well under a millisecond: answered on the event loop
            verdict = guard.check_pdq(raw, prompt=_str(prompt), licensee=licensee, mode=mode)
        else:
            verdict = await run_in_threadpool(
                partial(guard.check, label="text", licensee=licensee, mode=mode),
                text=_str(text),
                prompt=_str(prompt),
            )
        return await _answer(guard, settings, verdict)

    return app


def app_from_env() -> FastAPI:
    """The app for the ``CLEARANCE_*`` environment (uvicorn's ``--factory`` entry point)."""
    return create_app(Settings.from_env(os.environ))


def _mode(value: object, settings: Settings) -> Mode:
    """The request's ``mode`` (``opt-out`` or ``opt-in``), else the server's default."""
    if value is None or value == "":
        return Mode.parse(settings.mode)
    if not isinstance(value, str):
        raise UserError("mode must be 'opt-out' or 'opt-in'")
    return Mode.parse(value)


def _str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError("text, prompt and licensee must be strings")
    return value


async def _answer(guard: Guard, settings: Settings, verdict: Verdict) -> JSONResponse:
    """The verdict's JSON (returned as a response: FastAPI need not re-encode it)."""
    if verdict.usage_events:
        await run_in_threadpool(_record, guard, settings, verdict)
    return JSONResponse(verdict.to_dict())


def _record(guard: Guard, settings: Settings, verdict: Verdict) -> None:
    """Append the verdict's usage events to the ledger (``check`` itself never writes).

    Uses the guard's store; a guard serving a prebuilt index has none, so the
    configured registry is opened for this one write.
    """
    if not verdict.usage_events:
        return
    if isinstance(guard.store, SqlStore):
        record_usage_events(guard.store, verdict.usage_events)
        return
    with open_registry(settings) as store:
        record_usage_events(store, verdict.usage_events)


class _TooLarge(UserError):
    http_status = 413

"""``create_app(settings)``: the FastAPI application, its routes and its error handlers.

Routes are thin: they parse the request, call a library function and return
its JSON. Every error a client can cause becomes a 4xx with
``{"error": message, "type": class}``: a ``ClearanceError`` its own status,
FastAPI's and Starlette's own errors (a malformed multipart boundary, an
unknown route) the same shape, and an unexpected bug a 500 in that shape too.
The guard (``clearance.guard.live.Guard``) loads its index at start-up and
keeps it current as the registry changes (``Settings.guard_sync``).
``clearance.api.limits`` bounds what one request may cost (docs/security.md).

Routes:
* ``GET /healthz``;
* ``POST /v1/check``: a multipart upload (one ``file``; optional ``text``,
  ``prompt`` and ``licensee`` form fields, each at most once) or JSON
  ``{"text", "prompt", "pdq", "licensee", "mode"}`` where ``pdq`` is a 64-hex-digit
  hash computed by the client. Same JSON as ``clearance check``; the verdict's
  usage events (outputs allowed under a licence or with attribution) are
  recorded in the registry's ledger.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from clearance import __version__
from clearance.api.accesslog import AccessLog
from clearance.config import Settings
from clearance.core.errors import ClearanceError, UserError
from clearance.core.policy import Mode
from clearance.core.validation import clean_data_text, clean_name
from clearance.fingerprint.parallel import default_workers
from clearance.guard import GuardIndex
from clearance.guard.check import Verdict
from clearance.guard.live import Guard
from clearance.registry import SqlStore, record_usage_events
from clearance.service import build_embedder, open_registry

from .limits import DecodeGate, RequestLimits, probe_upload

_FORM_FIELDS = ("file", "text", "prompt", "licensee", "mode")


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
    gate = DecodeGate(settings.api_decode_slots or default_workers(), settings.api_decode_queue)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        guard.close()
        if guard.store is not None:
            guard.store.close()

    app = FastAPI(title="Clearance", version=__version__, lifespan=lifespan)
    app.state.guard = guard
    app.add_middleware(
        RequestLimits,
        max_body=settings.api_max_body_bytes,
        body_timeout=settings.api_body_timeout,
    )
    app.add_middleware(AccessLog)  # outermost: it logs the status the client got
    _error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "works": len(guard.index.works)}

    @app.post("/v1/check", openapi_extra=_CHECK_OPENAPI)
    async def v1_check(request: Request) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            async with request.form(max_files=2, max_fields=8) as form:  # closes the uploads
                for name in _FORM_FIELDS:
                    if len(form.getlist(name)) > 1:
                        raise UserError(f"send at most one {name!r} part per request")
                unknown = sorted(set(form.keys()) - set(_FORM_FIELDS))
                if unknown:
                    raise UserError(f"unknown form fields: {', '.join(unknown)[:200]}")
                upload = form.get("file")
                text, prompt = _str(form.get("text")), _str(form.get("prompt"))
                licensee = _licensee(form.get("licensee"))
                mode = _mode(form.get("mode"), settings)
                if upload is not None and not isinstance(upload, UploadFile):
                    raise UserError("the 'file' part must be a file upload")
                data = await upload.read() if upload is not None else None
                label = clean_data_text(upload.filename or "upload", limit=255) if upload else ""
            if data is not None and not data:
                raise UserError("the uploaded file is empty")
            if data is not None:
                probe_upload(
                    data,
                    label,
                    max_pixels=settings.api_max_pixels,
                    max_seconds=settings.api_max_seconds,
                )
            async with gate:  # decoding and hashing: bounded, and off the event loop
                verdict = await run_in_threadpool(
                    partial(
                        guard.check, data, label=label or "upload", licensee=licensee, mode=mode
                    ),
                    text=text,
                    prompt=prompt,
                )
            return await _answer(guard, settings, verdict)
        body = await _json_body(request)
        pdq, text, prompt = body.get("pdq"), _str(body.get("text")), _str(body.get("prompt"))
        licensee = _licensee(body.get("licensee"))
        mode = _mode(body.get("mode"), settings)
        if pdq is not None:
            if not isinstance(pdq, str):
                raise UserError("pdq must be 64 hexadecimal digits")
            try:
                raw = bytes.fromhex(pdq)
            except ValueError:
                raise UserError("pdq must be 64 hexadecimal digits") from None
            # a hash lookup takes well under a millisecond: answered on the event loop
            verdict = guard.check_pdq(raw, prompt=prompt, licensee=licensee, mode=mode)
        else:
            async with gate:
                verdict = await run_in_threadpool(
                    partial(guard.check, label="text", licensee=licensee, mode=mode),
                    text=text,
                    prompt=prompt,
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


def _error_handlers(app: FastAPI) -> None:
    """One body shape for every error: ``{"error": message, "type": name}``."""

    @app.exception_handler(ClearanceError)
    async def _clearance_error(_request: Request, exc: ClearanceError) -> JSONResponse:
        return _error(exc.http_status, str(exc), type(exc).__name__)

    @app.exception_handler(HTTPException)
    async def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own: a malformed multipart body (400), an unknown route (404), ...
        try:
            name = HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "")
        except ValueError:
            name = "HTTPError"
        return _error(exc.status_code, str(exc.detail), name, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return _error(400, f"invalid request: {first.get('msg', 'bad input')}", "UserError")

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:  # a bug: still our shape
        return _error(500, f"internal error ({type(exc).__name__})", "InternalError")


def _error(
    status: int, message: str, name: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": message, "type": name}, headers=headers
    )


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise UserError("send multipart/form-data with a file, or a JSON object") from None
    if not isinstance(body, dict):
        raise UserError("the JSON body must be an object")
    return body


def _str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError("text, prompt and licensee must be strings")
    return value


def _licensee(value: object) -> str | None:
    """A licensee name, as strict as a party name: it is looked up and recorded."""
    text = _str(value)
    return None if text is None else clean_name(text, "licensee")


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


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "type"],
    "properties": {"error": {"type": "string"}, "type": {"type": "string"}},
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }


_CHECK_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string", "description": "generated text"},
                        "prompt": {"type": "string", "description": "the prompt or caption"},
                        "pdq": {"type": "string", "description": "a PDQ hash, 64 hex digits"},
                        "licensee": {"type": "string", "description": "who is generating"},
                        "mode": {"type": "string", "enum": ["opt-out", "opt-in"]},
                    },
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "text": {"type": "string"},
                        "prompt": {"type": "string"},
                        "licensee": {"type": "string"},
                        "mode": {"type": "string", "enum": ["opt-out", "opt-in"]},
                    },
                }
            },
        },
    },
    "responses": {
        "200": {"description": "the verdict (same JSON as `clearance check --json`)"},
        "400": _error_response("bad input"),
        "403": _error_response("refused"),
        "404": _error_response("unknown registry item"),
        "408": _error_response("the body did not arrive in time"),
        "409": _error_response("the registry's state forbids it"),
        "413": _error_response("over a size, pixel or duration limit"),
        "415": _error_response("not a format the guard reads"),
        "503": _error_response("busy, or the registry is unreachable"),
    },
}

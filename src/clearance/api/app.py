"""``create_app(settings)``: the FastAPI application, its routes and its error handlers.

Routes are thin: they parse the request, call a library function and return
its JSON. Every error a client can cause becomes a 4xx with
``{"error": message, "type": class}``: a ``ClearanceError`` its own status,
FastAPI's and Starlette's own errors (a malformed multipart boundary, an
unknown route) the same shape, and an unexpected bug a 500 in that shape too.
The guard (``clearance.guard.live.Guard``) loads its index at start-up and
keeps it current as the registry changes (``Settings.guard_sync``).
``clearance.api.limits`` bounds what one request may cost (docs/security.md).

Requests may carry ``Authorization: Bearer <key>`` (``clearance keys
create``; ``clearance.api.auth``): writes need one, reads do not. CORS is off
unless ``cors_origins`` names origins; ``/docs`` is off (it would load its
assets from a CDN); the schema is at ``/openapi.json``.

Routes (docs/api.md):
* ``GET /healthz`` (alive), ``GET /readyz`` (index loaded, registry answers),
  ``GET /metrics`` (Prometheus text format; ``clearance.api.metrics``);
* ``POST /v1/check``: a multipart upload (one ``file``; optional ``text``,
  ``prompt`` and ``licensee`` form fields, each at most once) or JSON
  ``{"text", "prompt", "pdq", "licensee", "mode"}`` where ``pdq`` is a 64-hex-digit
  hash computed by the client. Same JSON as ``clearance check``. With a key,
  the check is made for the key's party and the verdict's usage events
  (outputs allowed under a licence or with attribution) are recorded in the
  registry's ledger under it; without one, nothing is recorded;
* ``/v1/works``, ``/v1/parties/{name}/terms`` (``clearance.api.works``),
  ``/v1/keys`` (``clearance.api.keys``), ``/v1/parties`` and
  ``/v1/declarations`` (``clearance.api.parties``; the service acts only on
  claims at or above ``Settings.min_verification``), ``/v1/query/urls`` and
  ``/v1/query/hashes`` (``clearance.api.query``), the licensing routes
  (``/v1/offers``, ``/v1/licenses/requests``, ``/v1/runs``, ``/v1/notices``,
  ``/v1/royalties``: ``clearance.api.licensing``) and ``/v1/signals``
  (``clearance.api.signals``);
* ``/v1/feed/key``, ``/v1/feed/snapshot.parquet`` and ``/v1/feed/changes``: the public
  registry feed, signed with ``Settings.feed_key`` (``clearance.api.feed``);
  ``/v1/receipts``: scan receipts for rights holders (``clearance.api.receipts``).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from clearance import __version__
from clearance.api.accesslog import AccessLog
from clearance.config import Settings
from clearance.core.errors import ClearanceError, Forbidden, RateLimited, Unauthorized, UserError
from clearance.core.policy import Mode
from clearance.core.validation import clean_data_text, clean_name
from clearance.fingerprint.parallel import default_workers
from clearance.guard import GuardIndex
from clearance.guard.check import Verdict
from clearance.guard.live import Guard
from clearance.registry import ApiKey, record_usage_events
from clearance.service import build_embedder, open_registry

from . import disputes, feed, keys, licensing, parties, query, receipts, signals, works
from .auth import Auth
from .limits import DecodeGate, KeyRates, RequestLimits, probe_upload
from .metrics import Metrics, MetricsMiddleware
from .services import Services

_FORM_FIELDS = ("file", "text", "prompt", "licensee", "mode")


def create_app(settings: Settings, *, index: GuardIndex | None = None) -> FastAPI:
    """The app for ``settings``; the registry must exist (``clearance init``).

    ``index`` serves a guard index built elsewhere (benchmarks, tests) instead
    of loading one from the registry.
    """
    publisher = feed.Publisher(settings.feed_key)  # a key that cannot be read: fail here
    embedder = build_embedder(settings)  # None unless CLEARANCE_EMBEDDER names a model
    if index is None:
        guard = Guard(
            open_registry(settings),
            sync=settings.guard_sync,
            poll_seconds=settings.guard_poll_seconds,
            embedder=embedder,
            mode=settings.mode,
            min_verification=settings.min_verification,
        )
    else:
        guard = Guard(
            None, index=index, embedder=embedder, min_verification=settings.min_verification
        )
    gate = DecodeGate(settings.api_decode_slots or default_workers(), settings.api_decode_queue)
    services = Services(settings, guard, gate=gate)
    auth = services.auth = Auth(
        services.store, KeyRates(settings.api_key_rate, settings.api_key_burst)
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        metrics.close()
        services.close()

    app = FastAPI(
        title="Clearance",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load their assets from a CDN: off
        redoc_url=None,
    )
    app.state.guard = guard
    app.state.services = services
    app.state.feed_publisher = publisher

    def gauges() -> dict[str, tuple[str, float]]:
        view = guard.index
        return {
            "clearance_index_works": ("Works in the worker's index.", float(len(view.works))),
            "clearance_index_watermark": (
                "The last audit entry the worker's index reflects.",
                float(view.watermark),
            ),
            "clearance_index_rebuilds_total": ("Full index rebuilds.", float(guard.rebuilds)),
        }

    metrics = Metrics(gauges, Path(settings.metrics_dir) if settings.metrics_dir else None)
    app.add_middleware(
        RequestLimits,
        max_body=settings.api_max_body_bytes,
        body_timeout=settings.api_body_timeout,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:  # off unless the operator names origins
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        AccessLog, log_format=settings.log_format
    )  # outermost: it logs the status the client got
    _error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Alive: the process answers (it says nothing of the registry)."""
        return {"status": "ok", "version": __version__, "works": len(guard.index.works)}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready: the index is loaded and the registry answers (503 when it does not)."""
        if guard.store is not None:
            try:
                guard.store.audit_watermark()
            except ClearanceError as exc:
                return _error(503, f"the registry does not answer: {exc}", "NotReady")
        view = guard.index
        return JSONResponse(
            {"status": "ready", "works": len(view.works), "watermark": view.watermark}
        )

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus() -> PlainTextResponse:
        """Prometheus text format: requests by route and status, the index's size
        (every worker's, with several: ``clearance.api.metrics``)."""
        return PlainTextResponse(
            metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.post("/v1/check", openapi_extra=_CHECK_OPENAPI)
    async def v1_check(request: Request) -> JSONResponse:
        key = await auth.principal(request)
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
                licensee = _licensee(form.get("licensee"), key)
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
            return await _answer(services, verdict, record=key is not None)
        body = await _json_body(request)
        pdq, text, prompt = body.get("pdq"), _str(body.get("text")), _str(body.get("prompt"))
        licensee = _licensee(body.get("licensee"), key)
        mode = _mode(body.get("mode"), settings)
        if pdq is not None:
            if not isinstance(pdq, str):
                raise UserError("pdq must be 64 hexadecimal digits")
            try:
                raw = bytes.fromhex(pdq)
            except ValueError:
                raise UserError("pdq must be 64 hexadecimal digits") from None
            check_pdq = partial(guard.check_pdq, raw, prompt=prompt, licensee=licensee, mode=mode)
            if guard.sync == "check":  # it asks the registry first: never on the event loop
                verdict = await run_in_threadpool(check_pdq)
            else:  # a lookup in memory, well under a millisecond: answered on the event loop
                verdict = check_pdq()
        else:
            async with gate:
                verdict = await run_in_threadpool(
                    partial(guard.check, label="text", licensee=licensee, mode=mode),
                    text=text,
                    prompt=prompt,
                )
        return await _answer(services, verdict, record=key is not None)

    # after the routes above: a request is matched against the routes in order, and
    # /v1/check and the probes are the hot paths (tens of routes before them cost a
    # tenth of a hash-only check's time)
    app.include_router(works.router)
    app.include_router(keys.router)
    app.include_router(parties.router)
    app.include_router(query.router)
    app.include_router(licensing.router)
    app.include_router(signals.router)
    app.include_router(disputes.router)
    app.include_router(feed.router)
    app.include_router(receipts.router)
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
        headers = None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.http_status, str(exc), type(exc).__name__, headers)

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


def _licensee(value: object, key: ApiKey | None) -> str | None:
    """Who the check is for: the key's party when there is a key, else the name sent.

    A name is as strict as a party name. With a key, naming another licensee is
    a 403: usage is recorded only for the party that proved who it is.
    """
    text = _str(value)
    name = None if text is None else clean_name(text, "licensee")
    if key is None:
        return name
    if name is not None and name != key.party:
        raise Forbidden(f"the key of {key.party!r} may not check as licensee {name!r}")
    return key.party


async def _answer(services: Services, verdict: Verdict, *, record: bool) -> JSONResponse:
    """The verdict's JSON (returned as a response: FastAPI need not re-encode it).

    Its usage events go to the ledger only for a request with a key (``check``
    itself never writes): an anonymous caller cannot add usage to anyone's bill.
    """
    if record and verdict.usage_events:
        await run_in_threadpool(record_usage_events, services.store(), verdict.usage_events)
    return JSONResponse(verdict.to_dict())


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
        "401": _error_response("a bad or revoked API key"),
        "403": _error_response("refused (another licensee than the key's party)"),
        "404": _error_response("unknown registry item"),
        "408": _error_response("the body did not arrive in time"),
        "409": _error_response("the registry's state forbids it"),
        "413": _error_response("over a size, pixel or duration limit"),
        "415": _error_response("not a format the guard reads"),
        "429": _error_response("the API key is over its rate"),
        "503": _error_response("busy, or the registry is unreachable"),
    },
}

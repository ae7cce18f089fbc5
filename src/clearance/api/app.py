"""``create_app(settings)``: the FastAPI application, its routes and its one error handler.

Routes are thin: they parse the request, call a library function and return
its JSON. Every ``ClearanceError`` becomes its HTTP status with
``{"error": message, "type": class}``, so bad input is a 4xx, never a 500.
The guard index is built once at start-up from the configured registry.

Routes:
* ``GET /healthz``;
* ``POST /v1/check``: a multipart upload (``file``; optional ``text`` and
  ``prompt`` form fields) or JSON ``{"text", "prompt", "pdq"}`` where ``pdq``
  is a 64-hex-digit hash computed by the client. Same JSON as ``clearance check``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from clearance import __version__
from clearance.config import Settings
from clearance.core.errors import ClearanceError, UserError
from clearance.guard import GuardIndex, check, check_pdq
from clearance.service import open_registry

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def create_app(settings: Settings, *, index: GuardIndex | None = None) -> FastAPI:
    """The app for ``settings``; the registry must exist (``clearance init``).

    ``index`` serves a guard index built elsewhere (benchmarks, tests) instead
    of loading one from the registry.
    """
    if index is None:
        with open_registry(settings) as store:
            index = GuardIndex.from_store(store)
    app = FastAPI(title="Clearance", version=__version__)
    app.state.index = index

    @app.exception_handler(ClearanceError)
    async def _clearance_error(_request: Request, exc: ClearanceError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.http_status, content={"error": str(exc), "type": type(exc).__name__}
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "works": len(app.state.index.works)}

    @app.post("/v1/check")
    async def v1_check(request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        length = int(request.headers.get("content-length") or 0)
        if length > MAX_UPLOAD_BYTES:
            raise _TooLarge(f"request is {length} bytes, over {MAX_UPLOAD_BYTES}")
        if ctype.startswith("multipart/form-data"):
            async with request.form() as form:  # closes the spooled uploads afterwards
                upload = form.get("file")
                text, prompt = form.get("text"), form.get("prompt")
                data = None
                if upload is not None and not isinstance(upload, str):
                    data = await upload.read(MAX_UPLOAD_BYTES + 1)
                label = getattr(upload, "filename", None) or "upload"
            if data is not None and len(data) > MAX_UPLOAD_BYTES:
                raise _TooLarge(f"upload is over {MAX_UPLOAD_BYTES} bytes")
            if data is not None and not data:
                raise UserError("the uploaded file is empty")
            return check(
                app.state.index, data, text=_str(text), prompt=_str(prompt), label=label
            ).to_dict()
        try:
            body = await request.json()
        except ValueError:
            raise UserError("send multipart/form-data with a file, or a JSON object") from None
        if not isinstance(body, dict):
            raise UserError("the JSON body must be an object")
        pdq, text, prompt = body.get("pdq"), body.get("text"), body.get("prompt")
        if pdq is not None:
            try:
                raw = bytes.fromhex(str(pdq))
            except ValueError:
                raise UserError("pdq must be 64 hexadecimal digits") from None
            verdict = check_pdq(app.state.index, raw, prompt=_str(prompt))
        else:
            verdict = check(app.state.index, text=_str(text), prompt=_str(prompt), label="text")
        return verdict.to_dict()

    return app


def _str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError("text and prompt must be strings")
    return value


class _TooLarge(UserError):
    http_status = 413

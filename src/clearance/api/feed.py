"""``/v1/feed``: the public registry feed (``registry.feed``) over HTTP, with ETags.

* ``GET /v1/feed/key``: the feed's Ed25519 public key (pin it; ``clearance mirror`` does);
* ``GET /v1/feed/snapshot.parquet``: every live work's signed record, and the cursor it
  reflects (``X-Clearance-Cursor``, and in the file's signed head);
* ``GET /v1/feed/changes?since=CURSOR&limit=N``: the signed records of the works changed
  after the cursor, the next cursor and whether there is more.

Both answers carry an ``ETag``; a request whose ``If-None-Match`` names it gets
304 and no body. The feed is public (no key needed) and signed with the key
``Settings.feed_key`` names; without one the service publishes no feed (404).
The snapshot of the newest state is kept in memory, so repeated downloads cost
one build per change. The key is loaded when the app is built (``create_app``),
so a key that cannot be read stops the service from starting.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from clearance.core.errors import NotFound
from clearance.core.validation import MAX_ID
from clearance.evidence import keys
from clearance.registry import feed

from .services import services

router = APIRouter(prefix="/v1/feed", tags=["feed"])


class Publisher:
    """The app's feed key (loaded when the app is built) and its newest snapshot."""

    def __init__(self, path: str) -> None:
        self._key = keys.load_signing_key(path) if path else None
        self._lock = threading.Lock()
        self._snapshot: tuple[int, bytes] | None = None

    @property
    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            raise NotFound(
                "this server publishes no registry feed",
                hint="its operator sets CLEARANCE_FEED_KEY to a key from `clearance keys generate`",
            )
        return self._key

    @property
    def key_id(self) -> str:
        return keys.key_id(self.key.public_key())

    def snapshot(self, request: Request, watermark: int) -> tuple[int, bytes]:
        with self._lock:
            if self._snapshot is None or self._snapshot[0] != watermark:
                cursor, data = feed.snapshot(services(request).store(), self.key)
                self._snapshot = (watermark, data) if cursor == watermark else None
                return cursor, data
            return self._snapshot


def publisher(request: Request) -> Publisher:
    found = request.app.state.feed_publisher
    assert isinstance(found, Publisher)
    return found


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32] + '"'


_PARQUET = "application/vnd.apache.parquet"
_ERRORS: dict[int | str, dict[str, Any]] = {
    304: {"description": "not modified: the If-None-Match ETag is current"},
    400: {"description": "bad input"},
    404: {"description": "this server publishes no feed"},
    409: {"description": "the cursor is ahead of this feed"},
}


@router.get("/key", responses={404: _ERRORS[404]})
def feed_key(request: Request) -> dict[str, Any]:
    """The feed's public key: ``alg``, ``key_id``, ``public_key`` (raw, base64) and ``pem``."""
    return feed.public_key_document(publisher(request).key)


@router.get(
    "/snapshot.parquet",
    response_class=Response,
    responses={200: {"content": {_PARQUET: {}}, "description": "the snapshot"}, **_ERRORS},
)
def snapshot(request: Request) -> Response:
    """Every live work's signed record as Parquet; the cursor in ``X-Clearance-Cursor``."""
    pub = publisher(request)
    key_id = pub.key_id
    watermark = services(request).store().audit_watermark()
    etag = _etag("snapshot", key_id, watermark)
    if _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    cursor, data = pub.snapshot(request, watermark)
    etag = _etag("snapshot", key_id, cursor)
    return Response(
        data,
        media_type=_PARQUET,
        headers={"ETag": etag, "X-Clearance-Cursor": str(cursor), "Cache-Control": "no-cache"},
    )


@router.get("/changes", responses=_ERRORS)
def changes(
    request: Request,
    since: Annotated[
        int,
        Query(ge=0, le=MAX_ID, description="The cursor of the last answer (0: from the start)."),
    ],
    limit: Annotated[
        int, Query(ge=1, le=feed.MAX_CHANGES, description="Audit entries this answer covers.")
    ] = feed.DEFAULT_CHANGES,
) -> Response:
    """The signed records of every work changed after ``since``, the next ``cursor``, ``more``."""
    pub = publisher(request)
    store = services(request).store()
    etag = _etag("changes", pub.key_id, since, limit, store.audit_watermark())
    if _not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    body = feed.changes(store, since, pub.key, limit=limit)
    return JSONResponse(body, headers={"ETag": etag, "Cache-Control": "no-cache"})

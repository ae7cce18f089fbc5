"""``/v1/query/urls`` and ``/v1/query/hashes``: the bulk query in Spawning's shape."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["query"])

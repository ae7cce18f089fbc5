"""Wiring: builds the registry store, the image embedder (and, later, fetchers) from ``Settings``.

Faces call these functions instead of constructing backends themselves, so the
CLI, the API and the demo all open the registry the same way.
"""

from __future__ import annotations

from clearance.config import Settings
from clearance.fingerprint.embedding import ImageEmbedder, OnnxImageEmbedder
from clearance.registry import SqlStore, init_store, open_store


def open_registry(settings: Settings) -> SqlStore:
    """Open the configured registry; it must already be initialised."""
    return open_store(settings.registry)


def init_registry(settings: Settings) -> SqlStore:
    """Create or upgrade the configured registry and open it."""
    return init_store(settings.registry)


def build_embedder(settings: Settings) -> ImageEmbedder | None:
    """The configured image embedder (``settings.embedder``), or None when none is configured.

    Loads the ONNX model once (onnxruntime is imported only here); a missing
    file or an unusable model is a ``UserError``.
    """
    if not settings.embedder:
        return None
    return OnnxImageEmbedder.from_path(settings.embedder, threads=settings.embedder_threads)

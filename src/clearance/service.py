"""Wiring: builds the registry store, the image embedder (and, later, fetchers) from ``Settings``.

Faces call these functions instead of constructing backends themselves, so the
CLI, the API and the demo all open the registry the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from clearance.config import Settings
from clearance.fingerprint.embedding import ImageEmbedder, OnnxImageEmbedder
from clearance.matching.conflicts import ContentChecker
from clearance.matching.view import RegistryView
from clearance.registry import SqlStore, init_store, open_store
from clearance.registry.store import RegistryStore


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


def content_check(
    store: RegistryStore,
    settings: Settings,
    *,
    views: Callable[[], RegistryView] | None = None,
) -> ContentChecker:
    """The near-duplicate check every face passes to registration (``works add``, the API).

    A file whose content reproduces another owner's work becomes a disputed claim
    on it (``clearance.matching.conflicts``). ``views``: a live view to check
    against (the API's guard); otherwise the check keeps its own.
    """
    return ContentChecker(store, views=views, max_pixels=settings.max_pixels)

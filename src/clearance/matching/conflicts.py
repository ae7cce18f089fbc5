"""Near-duplicate registrations: does a new work's content reproduce another registered work?

Why here: a recoloured copy of Ann's photo, registered by Zed with a licence
offer, must become Zed's *disputed claim* on Ann's work, never a second,
undisputed work whose offer a check would show next to Ann's deny. Whether
two contents are "the same work" is exactly what the scan and the guard ask,
so registration asks it the same way: ``match`` (the one cascade) over a
``RegistryView`` (the one in-memory index), with the same signal types and
thresholds: global PDQ with rotations and flips, crop/pad regions, text
containment (and the short-text rule), Chromaprint, video frames. Only
*strong* matches count: a weak one asks a person to look, it does not take a
work from its owner. Embeddings are not used (``REGISTRATION_LEVEL``): a
lookalike is not a copy.

The registry cannot import this (matching sits above it), so the faces pass
a ``ContentChecker`` into registration (``clearance.service.content_check``);
``SqlStore.register`` calls it inside the registration's transaction, after
the lock that serialises content registrations, and keeps the resemblances
to *other* owners' works (the same owner's near-duplicates stay new works).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from clearance.core.models import WorkKind
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS
from clearance.matching.index import MatchIndex
from clearance.matching.matcher import Query, match
from clearance.matching.types import MatchLevel, best_per_work
from clearance.matching.view import RegistryView
from clearance.registry.records import Resemblance, WorkSpec
from clearance.registry.register import read_text_work
from clearance.registry.store import RegistryStore

REGISTRATION_LEVEL = MatchLevel.REGIONS
"""How far down the cascade a registration is checked: identifiers, PDQ, texts, audio,
video and regions; not embeddings."""

_MEDIA = {
    WorkKind.IMAGE: "image",
    WorkKind.CHARACTER: "image",
    WorkKind.AUDIO: "audio",
    WorkKind.VIDEO: "video",
}


def _query(kind: WorkKind, path: Path) -> Query | None:
    if kind is WorkKind.TEXT:
        return Query(media="text", name=path.name, text=read_text_work(path))
    media = _MEDIA.get(kind)
    return Query(media=media, path=path, name=path.name) if media else None


def _indexed(index: MatchIndex, kind: WorkKind) -> bool:
    """Whether the index holds anything this kind of work could match (else nothing to decode)."""
    if kind is WorkKind.TEXT:
        return len(index.text) > 0
    if kind in (WorkKind.IMAGE, WorkKind.CHARACTER):
        return len(index.pdq) > 0 or len(index.regions) > 0
    if kind is WorkKind.AUDIO:
        return any(len(a) for a in index.audio)
    if kind is WorkKind.VIDEO:
        return any(len(v) for v in index.video)
    return False


def resemblances(
    view: RegistryView,
    spec: WorkSpec,
    *,
    level: MatchLevel = REGISTRATION_LEVEL,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[Resemblance]:
    """The registered works ``spec``'s file reproduces (strong matches only), best first.

    Best: the highest score of a work's best match, then the lower work id. Each
    carries its matches as ``Match.to_dict`` plus ``label`` (``pdq:12``), the
    evidence a dispute shows.
    """
    if spec.source is None or not _indexed(view.index, spec.kind):
        return []
    query = _query(spec.kind, spec.source)
    if query is None:
        return []
    found = match(view.index, query, view.work, level=level, max_pixels=max_pixels)
    groups = best_per_work([m for m in found.matches if m.strong])
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1][0].score, kv[0]))
    return [
        Resemblance(work_id, tuple(m.to_dict() | {"label": m.label()} for m in group))
        for work_id, group in ranked
    ]


class ContentChecker:
    """A ``registry.records.ContentCheck``: ``resemblances`` over a view kept current.

    ``views`` gives the current view (a live guard's, refreshed first); without it
    the checker builds its own from ``store`` on first use and refreshes it before
    each check, so works registered meanwhile (by this process or another) count.
    """

    def __init__(
        self,
        store: RegistryStore,
        *,
        views: Callable[[], RegistryView] | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.store = store
        self.max_pixels = max_pixels
        self._views = views
        self._view: RegistryView | None = None
        self._lock = threading.Lock()

    def view(self) -> RegistryView:
        """The view to check against now (current with the registry)."""
        if self._views is not None:
            return self._views()
        with self._lock:
            if self._view is None:
                self._view = RegistryView.from_store(self.store, level=REGISTRATION_LEVEL)
            else:
                self._view = self._view.refreshed(self.store) or self._view
            return self._view

    def __call__(self, spec: WorkSpec) -> list[Resemblance]:
        if spec.source is None or _query_kind(spec.kind) is None:
            return []
        return resemblances(self.view(), spec, max_pixels=self.max_pixels)


def _query_kind(kind: WorkKind) -> str | None:
    return "text" if kind is WorkKind.TEXT else _MEDIA.get(kind)


__all__ = ["REGISTRATION_LEVEL", "ContentChecker", "resemblances"]

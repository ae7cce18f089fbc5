"""A live guard: serves checks while the registry changes, and picks changes up in seconds.

Why: a guard service runs for weeks while rights holders keep registering works
and changing terms. Restarting it, or rebuilding a million-code index, for
each registration is not acceptable; neither is a check that sees half a change.

How (read-copy-update):

* ``refreshed(index, store)`` reads the audit entries after the index's
  ``watermark`` and builds a **new** ``GuardIndex`` that shares every
  unchanged part with the old one: new works' codes go into small new
  segments (``clearance.guard.segments``), changed works are reloaded, removed
  ones dropped, names rebuilt for the changed works only. The old index is
  never touched.
* ``Guard`` holds the current index in one attribute. A check reads that
  reference once and uses that index to the end; a refresh swaps it. Python
  makes the reference swap atomic, so a check sees the old index or the new
  one, never a mix.
* With ``sync="check"`` (the default) each check first compares the store's
  audit watermark (one indexed ``max(id)`` query) with the index's and
  refreshes when they differ, so a work whose registration committed before a
  check began is always matched by it. With ``sync="poll"`` a background
  thread refreshes every ``poll_seconds`` (checks then pay nothing, and see a
  registration within ``poll_seconds`` plus the refresh time).
* When the small segments hold more than ``rebuild_share`` of the base's
  codes, the next refresh does one full ``GuardIndex.from_store`` instead.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from clearance.core.errors import UserError
from clearance.core.models import IdentifierScheme
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.guard.check import Verdict, check, check_pdq
from clearance.guard.index import FingerprintBatch, GuardIndex, by_licensee
from clearance.guard.media import build_media
from clearance.guard.segments import MAX_SEGMENTS, TextSegment, merge_text
from clearance.registry.store import RegistryStore

REBUILD_SHARE = 0.25
REBUILD_MIN_CODES = 50_000


def refreshed(index: GuardIndex, store: RegistryStore) -> GuardIndex | None:
    """A new index with the changes audited after ``index.watermark``; ``None`` if none."""
    mark = store.audit_watermark()
    if mark <= index.watermark:
        return None
    entries = store.audit_since(index.watermark, mark)
    created: set[int] = set()
    changed: set[int] = set()
    parties: set[int] = set()
    for entry in entries:
        if entry.entity == "work" and entry.entity_id is not None:
            changed.add(entry.entity_id)
            if entry.action == "work.create":
                created.add(entry.entity_id)
        elif entry.entity == "party" and entry.entity_id is not None:
            parties.add(entry.entity_id)
    if parties:  # an owner's default terms apply to all their works
        changed.update(w.id for w in index.works.values() if w.owner.id in parties)
    works = dict(index.works)
    fresh = {w.id: w for w in store.works_by_ids(sorted(changed))}
    for work_id in changed:
        if work_id in fresh:
            works[work_id] = fresh[work_id]
        else:
            works.pop(work_id, None)
    batch = FingerprintBatch()
    new = sorted(w for w in created if w in fresh)
    records = store.fingerprints_of(new)
    for work_id, rec in records:
        batch.add(work_id, rec, skip_text=index.text_sizes.keys())
    audio, video = build_media(records)
    embeddings, embedding_works = index.embeddings, index.embedding_works
    if index.embedding_model:
        ids, rows = index.embedding_rows(records, index.embeddings.shape[1])
        if ids:  # a copy: the old index keeps its own matrix
            embeddings = np.concatenate([index.embeddings, np.stack(rows)])
            embedding_works = np.concatenate([index.embedding_works, np.asarray(ids, np.int64)])
    text_sizes = dict(index.text_sizes)
    for work_id, grams in batch.texts:
        text_sizes[work_id] = text_sizes.get(work_id, 0) + len(grams)
    names = index.names.without(changed) if changed else index.names
    for work_id in sorted(changed):
        work = works.get(work_id)
        for ident in work.identifiers if work else ():
            if ident.scheme is IdentifierScheme.NAME:
                try:
                    names.add(work_id, ident.value)
                except ValueError:
                    continue
    agreements = index.agreements  # granted or revoked agreements: reload them all (few rows)
    if any(entry.entity == "agreement" for entry in entries):
        agreements = by_licensee(store.current_agreements(datetime.now(UTC)))
    return replace(
        index,
        agreements=agreements,
        pdq=index.pdq.with_codes(batch.pdq_ids, batch.codes(batch.pdq_codes)),
        regions=index.regions.with_codes(batch.region_ids, batch.codes(batch.region_codes)),
        text=merge_text(index.text, TextSegment.build(batch.texts)),
        text_sizes=text_sizes,
        names=names,
        works=works,
        watermark=mark,
        audio=(*index.audio, audio) if audio is not None else index.audio,
        video=(*index.video, video) if video is not None else index.video,
        embeddings=embeddings,
        embedding_works=embedding_works,
    )


def _needs_rebuild(index: GuardIndex, share: float, min_codes: int) -> bool:
    base = len(index.pdq) - index.pdq.small_codes
    small = index.pdq.small_codes + index.regions.small_codes
    if len(index.audio) + len(index.video) > 2 * MAX_SEGMENTS:
        return True  # media segments are never merged in place: fold them in a rebuild
    return small > min_codes and small > share * max(base, 1)


def _need(store: RegistryStore | None) -> RegistryStore:
    if store is None:
        raise UserError("a guard needs a registry or an index")
    return store


class Guard:
    """The guard over one registry, kept current while it serves checks from many threads.

    ``check``/``check_pdq`` take the same arguments as the module functions,
    minus the index. ``close`` stops the poller (also on ``with`` exit).
    """

    def __init__(
        self,
        store: RegistryStore | None,
        *,
        index: GuardIndex | None = None,
        sync: str = "check",
        poll_seconds: float = 1.0,
        rebuild_share: float = REBUILD_SHARE,
        rebuild_min_codes: int = REBUILD_MIN_CODES,
        embedder: ImageEmbedder | None = None,
    ) -> None:
        if sync not in ("check", "poll", "off"):
            raise UserError(f"guard sync must be check, poll or off, not {sync!r}")
        if store is None:  # a fixed index (benchmarks, tests): nothing to refresh from
            if index is None:
                raise UserError("a guard needs a registry or an index")
            sync = "off"
        self.store = store
        self.sync = sync
        self.rebuild_share = rebuild_share
        self.rebuild_min_codes = rebuild_min_codes
        self.rebuilds = 0
        self.embedder = embedder
        self._index = index if index is not None else GuardIndex.from_store(_need(store), embedder)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if sync == "poll":
            self._poller = threading.Thread(
                target=self._poll, args=(poll_seconds,), name="guard-refresh", daemon=True
            )
            self._poller.start()

    @property
    def index(self) -> GuardIndex:
        """The index checks use now (a snapshot: it never changes afterwards)."""
        return self._index

    def refresh(self) -> bool:
        """Apply the registry's changes since the index was built; ``True`` if there were any."""
        if self.store is None:
            return False
        with self._lock:  # one refresher at a time; checks never wait for this lock
            current = self._index
            if _needs_rebuild(current, self.rebuild_share, self.rebuild_min_codes):
                self._index = GuardIndex.from_store(self.store, self.embedder)
                self.rebuilds += 1
                return True
            new = refreshed(current, self.store)
            if new is None:
                return False
            self._index = new
            return True

    def _current(self) -> GuardIndex:
        if (
            self.sync == "check"
            and self.store is not None
            and self.store.audit_watermark() > self._index.watermark
        ):
            self.refresh()
        return self._index

    def check(
        self,
        output: str | bytes | Path | None = None,
        *,
        text: str | None = None,
        prompt: str | None = None,
        label: str = "output",
        licensee: str | None = None,
    ) -> Verdict:
        return check(
            self._current(),
            output,
            text=text,
            prompt=prompt,
            label=label,
            licensee=licensee,
            embedder=self.embedder,
        )

    def check_pdq(
        self,
        pdq: bytes,
        *,
        prompt: str | None = None,
        label: str = "pdq",
        licensee: str | None = None,
    ) -> Verdict:
        return check_pdq(self._current(), pdq, prompt=prompt, label=label, licensee=licensee)

    def _poll(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.refresh()
            except Exception:
                continue  # the next poll retries; checks keep the last good index

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Guard", "refreshed"]

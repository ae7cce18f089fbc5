"""A live guard: serves checks while the registry changes, and picks changes up in seconds.

Why: a guard service runs for weeks while rights holders keep registering works
and changing terms. Restarting it, or rebuilding a million-code index, for
each registration is not acceptable; neither is a check that sees half a change.

How (read-copy-update):

* ``RegistryView.refreshed(store)`` (``clearance.matching.view``) reads the
  audit entries after the index's ``watermark`` and builds a **new** view
  that shares every unchanged part with the old one: new works' codes go into
  small new segments (``clearance.matching.segments``), changed works are
  reloaded, removed ones dropped, names rebuilt for the changed works only.
  The old view is never touched.
* ``Guard`` holds the current index in one attribute. A check reads that
  reference once and uses that index to the end; a refresh swaps it. Python
  makes the reference swap atomic, so a check sees the old index or the new
  one, never a mix.
* With ``sync="check"`` (the default) each check first compares the store's
  audit watermark (one indexed ``max(id)`` query) with the index's and
  refreshes when they differ, so a work whose registration committed before a
  check began is always matched by it. Concurrent checks share those queries
  (``fresh_watermark``): each waits for the next query that starts after it
  began, so 200 checks at once make one or two queries, not 200. With ``sync="poll"`` a background
  thread refreshes every ``poll_seconds`` (checks then pay nothing, and see a
  registration within ``poll_seconds`` plus the refresh time).
* When the small segments hold more than ``rebuild_share`` of the base's
  codes, a full ``GuardIndex.from_store`` replaces them. In ``check`` mode it
  runs in a background thread (``rebuild_in_background``) while checks keep
  answering from the current index, which incremental refreshes still keep
  current; the rebuilt index is caught up with the changes audited while it
  was built, then swapped in. No check ever waits for a rebuild: a rebuild of
  a million works takes tens of seconds, and a server whose checks queued
  behind it would be off the air for that long (several workers would be off
  the air together, each rebuilding its own index).
"""

from __future__ import annotations

import threading
from pathlib import Path

from clearance.core.errors import UserError
from clearance.core.models import VerificationLevel
from clearance.core.policy import Mode
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.guard.check import Verdict, check, check_pdq
from clearance.guard.index import GuardIndex
from clearance.matching.view import RegistryView
from clearance.registry.store import RegistryStore

REBUILD_SHARE = 0.25
REBUILD_MIN_CODES = 50_000


def refreshed(index: RegistryView, store: RegistryStore) -> RegistryView | None:
    """A new index with the changes audited after ``index.watermark``; ``None`` if none."""
    return index.refreshed(store)


def _needs_rebuild(view: RegistryView, share: float, min_codes: int) -> bool:
    index = view.index
    if index.fragmented:
        return True  # media segments are never merged in place: fold them in a rebuild
    small = index.small_codes
    return small > min_codes and small > share * max(index.base_codes, 1)


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
        index: RegistryView | None = None,
        sync: str = "check",
        poll_seconds: float = 1.0,
        rebuild_share: float = REBUILD_SHARE,
        rebuild_min_codes: int = REBUILD_MIN_CODES,
        embedder: ImageEmbedder | None = None,
        mode: Mode | str = Mode.OPT_OUT,
        min_verification: VerificationLevel | str = VerificationLevel.SELF,
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
        self.mode = Mode.parse(mode) if isinstance(mode, str) else mode
        self.min_verification = VerificationLevel.parse(min_verification)
        self._index: RegistryView = (
            index if index is not None else GuardIndex.from_store(_need(store), embedder)
        )
        self._lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._rebuilder: threading.Thread | None = None
        self._reads = threading.Condition()
        self._read_started = self._read_done = self._read_value = 0
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if sync == "poll":
            self._poller = threading.Thread(
                target=self._poll, args=(poll_seconds,), name="guard-refresh", daemon=True
            )
            self._poller.start()

    @property
    def index(self) -> RegistryView:
        """The index checks use now (a snapshot: it never changes afterwards)."""
        return self._index

    def refresh(self) -> bool:
        """Apply the registry's changes since the index was built; ``True`` if there were any.

        Synchronous: a rebuild, when due, happens in the caller's thread (the
        poller's, or a test's); checks meanwhile answer from the current index.
        """
        if self.store is None:
            return False
        if _needs_rebuild(self._index, self.rebuild_share, self.rebuild_min_codes):
            return self._rebuild()
        return self._incremental()

    def _incremental(self) -> bool:
        assert self.store is not None
        with self._lock:  # one refresher at a time; checks never wait for this lock
            new = self._index.refreshed(self.store)
            if new is None:
                return False
            self._index = new
            return True

    def _rebuild(self) -> bool:
        """A full build outside the refresh lock, caught up under it, then swapped in."""
        assert self.store is not None
        with self._rebuild_lock:  # one rebuild at a time
            if not _needs_rebuild(self._index, self.rebuild_share, self.rebuild_min_codes):
                return self._incremental()  # another thread rebuilt while this one waited
            built: RegistryView = GuardIndex.from_store(self.store, self.embedder)
            with self._lock:
                # what was audited while the build ran (incremental refreshes applied it
                # to the old index meanwhile) is applied to the new one before the swap
                self._index = built.refreshed(self.store) or built
                self.rebuilds += 1
            return True

    def rebuild_in_background(self) -> bool:
        """Start a full rebuild in a thread unless one runs; ``True`` if one was started."""
        with self._lock:
            if self._rebuilder is not None and self._rebuilder.is_alive():
                return False
            self._rebuilder = threading.Thread(
                target=self._rebuild_quietly, name="guard-rebuild", daemon=True
            )
            self._rebuilder.start()
            return True

    def _rebuild_quietly(self) -> None:
        try:
            self._rebuild()
        except Exception:
            return  # checks keep the current index; the next refresh tries again

    def wait_rebuilt(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild, if one runs (tests, shutdown)."""
        rebuilder = self._rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout)

    def fresh(self) -> RegistryView:
        """The index with every change committed so far applied, whatever ``sync`` says
        (registration's near-duplicate check must see the works registered just before).
        Incremental: a rebuild that is due runs in the background, as for checks."""
        if self.store is not None:
            self._incremental()
            if _needs_rebuild(self._index, self.rebuild_share, self.rebuild_min_codes):
                self.rebuild_in_background()
        return self._index

    def current(self) -> RegistryView:
        """The index to answer from now: refreshed first when ``sync`` is ``check`` and the
        registry changed (what every check reads; the bulk query reads it too)."""
        return self._current()

    def _current(self) -> RegistryView:
        if (
            self.sync == "check"
            and self.store is not None
            and self.fresh_watermark() > self._index.watermark
        ):
            self._incremental()  # small and quick: what was committed before this check
            if _needs_rebuild(self._index, self.rebuild_share, self.rebuild_min_codes):
                self.rebuild_in_background()  # slow: never in a check's way
        return self._index

    def fresh_watermark(self) -> int:
        """The store's audit watermark, read by a query that began after this call did.

        Concurrent callers share such reads (single flight): a caller waits for
        the next read to *start* after it arrived, then takes its answer, so
        what committed before the caller began is in the answer, and a burst of
        200 checks costs a query or two, not 200. One read runs at a time; a
        read that fails raises in its caller, and the others start another.
        """
        assert self.store is not None
        with self._reads:
            needed = self._read_started + 1  # the first read that starts after now
            while self._read_done < needed:
                if self._read_started == self._read_done and self._read_started < needed:
                    self._read_started = needed  # nobody reads: this caller does
                    self._reads.release()
                    try:
                        value = self.store.audit_watermark()
                    except BaseException:
                        self._reads.acquire()
                        self._read_started = self._read_done
                        self._reads.notify_all()
                        raise
                    self._reads.acquire()
                    self._read_value = max(self._read_value, value)
                    self._read_done = needed
                    self._reads.notify_all()
                else:
                    self._reads.wait()
            return self._read_value

    def check(
        self,
        output: str | bytes | Path | None = None,
        *,
        text: str | None = None,
        prompt: str | None = None,
        label: str = "output",
        licensee: str | None = None,
        mode: Mode | str | None = None,
    ) -> Verdict:
        return check(
            self._current(),
            output,
            text=text,
            prompt=prompt,
            label=label,
            licensee=licensee,
            embedder=self.embedder,
            mode=mode or self.mode,
            min_verification=self.min_verification,
        )

    def check_pdq(
        self,
        pdq: bytes,
        *,
        prompt: str | None = None,
        label: str = "pdq",
        licensee: str | None = None,
        mode: Mode | str | None = None,
    ) -> Verdict:
        return check_pdq(
            self._current(),
            pdq,
            prompt=prompt,
            label=label,
            licensee=licensee,
            embedder=self.embedder,
            mode=mode or self.mode,
            min_verification=self.min_verification,
        )

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
        self.wait_rebuilt(timeout=5)

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Guard", "refreshed"]

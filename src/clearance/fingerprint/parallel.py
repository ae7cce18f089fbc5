"""Hash many images across processes, one result (hash or error) per input, in order.

PDQ and JPEG decoding hold the GIL for most of their time, so threads do not
scale; processes do. Work is sent in chunks (one pickled call per chunk, not
per image) and every item comes back as either its value or the
``ClearanceError`` that explains why it failed, so one corrupt file never
aborts a batch of a million (the img2dataset lesson: a status per row).
``workers=1`` runs in this process, which is what tests and small batches want.

Workers are started with ``forkserver`` where the platform has it (else
``spawn``): forking a process that already runs threads (faiss, BLAS, an HTTP
client) can deadlock, and Python 3.14 makes ``forkserver`` the default anyway.
``process_context()`` is the one context every pool uses: its workers exit
when the process that started them dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.context
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from clearance.core.errors import ClearanceError, InternalError
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS, ImageHash, image_hash

T = TypeVar("T")

ImageSource = str | Path | bytes | Image.Image

ProgressFn = Callable[[int, int, str], None]
"""Called as ``progress(done, total, current)``, in the calling process, as results arrive."""


def _label(source: ImageSource, index: int) -> str:
    return str(source) if isinstance(source, str | Path) else f"#{index}"


def _safe(fn: Callable[[ImageSource], T], source: ImageSource) -> T | ClearanceError:
    """The per-item boundary: a bad item becomes its error, never an abort."""
    try:
        return fn(source)
    except ClearanceError as exc:
        return exc
    except Exception as exc:  # the item boundary (STYLE: catch Exception only here)
        return InternalError(f"unexpected {type(exc).__name__} while hashing: {exc}")


def _run_chunk(
    fn: Callable[[ImageSource], T], chunk: list[tuple[int, ImageSource]]
) -> list[tuple[int, T | ClearanceError]]:
    return [(i, _safe(fn, source)) for i, source in chunk]


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with(parent: int) -> None:
    """In a worker: exit as soon as ``parent`` (the process that asked for it) dies.

    A SIGKILLed ``works add`` or ``scan`` cannot shut its pool down, and
    multiprocessing's own machinery never notices: forkserver workers are the
    server's children, hold the server's "alive" pipe open (so the server
    waits for them) and block forever on a task queue they hold both ends of.
    So each worker watches its requester itself: a pidfd (Linux 5.3+; else a
    once-a-second poll) in a daemon thread, and where the requester is also
    the parent (``spawn``), the kernel's parent-death signal. Once the workers
    are gone the forkserver sees its pipe close and exits, and the resource
    tracker follows when the last holder of its pipe is gone.
    """
    if os.getppid() == parent and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        watch: int | None = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)  # the requester died before we started
    except (AttributeError, OSError):
        watch = None
    threading.Thread(
        target=_watchdog, args=(parent, watch), name="clearance-lifeline", daemon=True
    ).start()


def _watchdog(parent: int, pidfd: int | None) -> None:
    if pidfd is not None:
        poller = select.poll()  # not select(): a pidfd may be numbered past FD_SETSIZE
        poller.register(pidfd, select.POLLIN)
        poller.poll()  # readable once the process has exited
    else:  # pragma: no cover - kernels without pidfd_open
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                continue
    os._exit(1)


class _LifelineForkServerProcess(multiprocessing.context.ForkServerProcess):
    """A forkserver worker that exits when the process that started it dies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clearance_requester = os.getpid()

    def run(self) -> None:
        _die_with(self._clearance_requester)
        super().run()


class _LifelineSpawnProcess(multiprocessing.context.SpawnProcess):
    """A spawned worker that exits when the process that started it dies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clearance_requester = os.getpid()

    def run(self) -> None:
        _die_with(self._clearance_requester)
        super().run()


class _ForkServerContext(multiprocessing.context.ForkServerContext):
    Process = _LifelineForkServerProcess


class _SpawnContext(multiprocessing.context.SpawnContext):
    Process = _LifelineSpawnProcess


def process_context(
    preload: Sequence[str] = ("clearance.fingerprint.regions",),
) -> multiprocessing.context.BaseContext:
    """The start context for every Clearance process pool: workers die with their requester.

    ``forkserver`` where the platform has it (workers fork from a server that
    has already imported ``preload``, once: the hashers by default, the scan's
    shard code for a scan), else ``spawn``; in both, a worker exits when the
    process that asked for it dies, so a SIGKILLed run leaves no forkserver,
    worker or resource tracker behind (see ``_die_with``).
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = _ForkServerContext()
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return _SpawnContext()  # pragma: no cover - not Linux


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def map_sources(
    fn: Callable[[ImageSource], T],
    sources: Sequence[ImageSource],
    *,
    workers: int | None = 1,
    chunksize: int | None = None,
    progress: ProgressFn | None = None,
) -> list[T | ClearanceError]:
    """Apply a picklable ``fn`` to every source; results in input order, errors in place.

    ``workers=None`` uses every available CPU. ``chunksize`` defaults to about
    four chunks per worker, at most 64 items each, so progress stays live.
    """
    total = len(sources)
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise ValueError("workers must be at least 1")
    results: list[T | ClearanceError | None] = [None] * total
    if n_workers == 1 or total <= 1:
        for i, source in enumerate(sources):
            results[i] = _safe(fn, source)
            if progress is not None:
                progress(i + 1, total, _label(source, i))
        return [r for r in results if r is not None]
    size = chunksize or max(1, min(64, -(-total // (n_workers * 4))))
    indexed = list(enumerate(sources))
    chunks = [indexed[k : k + size] for k in range(0, total, size)]
    done = 0
    with ProcessPoolExecutor(
        max_workers=min(n_workers, len(chunks)), mp_context=process_context()
    ) as ex:
        futures = [ex.submit(_run_chunk, fn, chunk) for chunk in chunks]
        for future in as_completed(futures):
            for i, value in future.result():
                results[i] = value
                done += 1
                if progress is not None:
                    progress(done, total, _label(sources[i], i))
    return [r for r in results if r is not None]


class _ImageHasher:
    """A picklable ``image_hash`` with its options bound (lambdas do not pickle)."""

    def __init__(self, max_pixels: int) -> None:
        self.max_pixels = max_pixels

    def __call__(self, source: ImageSource) -> ImageHash:
        return image_hash(source, max_pixels=self.max_pixels)


def image_hashes(
    sources: Sequence[ImageSource],
    *,
    workers: int | None = 1,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    chunksize: int | None = None,
    progress: ProgressFn | None = None,
) -> list[ImageHash | ClearanceError]:
    """``image_hash`` of every source, across ``workers`` processes, in input order.

    Each item is its ``ImageHash`` or the ``ClearanceError`` it raised
    (``UnsupportedInput``, ``ImageTooLarge``, ``InputNotFound``; anything
    unexpected becomes ``InternalError``). Low-quality hashes are returned like
    any other: their ``low_quality`` flag is what keeps them from matching.
    """
    return map_sources(
        _ImageHasher(max_pixels), sources, workers=workers, chunksize=chunksize, progress=progress
    )

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
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

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


def process_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Workers fork from a server that has already imported the hashers (once).
        ctx.set_forkserver_preload(["clearance.fingerprint.regions"])
        return ctx
    return multiprocessing.get_context("spawn")  # pragma: no cover - not Linux


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

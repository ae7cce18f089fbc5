"""The Ray engine: the local engine's shard plan and ``process_shard``, run on Ray Data.

Why it is this thin: both engines must give identical decisions for the same
input, and ``--resume`` must work whichever engine ran first. So everything
that decides (planning, the configuration digest, the index, each shard's
atomic parts and record, assembly) stays in ``runner``/``shard``; this module
only replaces the process pool. The shard numbers still to do become a Ray
Dataset, mapped by a pool of actors (``--workers`` of them) that each call
``process_shard``.

The registry's ``MatchIndex`` is built once by the caller (into ``DIR/.index``,
as for the local engine); its files are put into the object store once
(``ray.put``), and every actor materialises that one copy into its own
temporary directory when it starts. So a node need not see the driver's
``DIR/.index``, and no task rebuilds the index. The shard outputs still go to
``DIR``, which on a cluster must be a file system every node shares (as must
the input and, for SQLite, the registry).

Ray is imported here, lazily; ``import clearance.scan`` never imports it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from clearance.core.errors import ClearanceError, UserError
from clearance.matching import MatchIndex
from clearance.matching.index import index_files
from clearance.scan.config import ScanConfig
from clearance.scan.shard import ShardTask, Worker, process_shard

RAY_HINT = "pip install 'clearance[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or our ``UserError`` with the install hint."""
    try:
        import ray
        import ray.data  # Ray Data is the part we use
    except ImportError as exc:
        raise UserError(f"the ray engine needs Ray Data ({exc})", hint=RAY_HINT) from None
    return ray


RAY_LOGGERS = ("ray", "ray.data", "ray.train", "ray.tune", "ray.serve")
RAY_LOG = ".ray.log"
"""Where, in the run's ``DIR``, a quiet run keeps what Ray's C++ core wrote to stderr."""


def quiet_ray() -> None:
    """Log only Ray's errors: its Python warnings and Ray Data's execution notes stay quiet."""
    for name in RAY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def native_stderr_to(path: Path) -> Iterator[None]:
    """Send what native code writes to this process's stderr (fd 2) into ``path``.

    Ray's C++ core worker logs to fd 2 directly (``E ... core_worker.cc`` lines
    about actor arguments, its own log-level notes), past Python's logging. The
    file keeps them for a failed run. Python's ``sys.stderr`` (the progress bar,
    our errors) keeps writing to the terminal through a copy of the old fd.
    """
    try:
        sys.stderr.flush()
        redirect_python = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        redirect_python = False
    saved = os.dup(2)
    python_stderr = sys.stderr
    try:
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        if redirect_python:
            sys.stderr = open(  # noqa: SIM115 - closed below
                os.dup(saved), "w", encoding=python_stderr.encoding, errors="backslashreplace"
            )
        yield
    finally:
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def ray_session(
    workers: int | None, address: str | None, *, logs: bool = False, log_dir: Path | None = None
) -> Iterator[Any]:
    """Connect to ``address``, or start a small local Ray for this run (and stop it after).

    A Ray already initialised in this process (a user's own, or a test's) is
    used as it is and left running. Unless ``logs``, Ray is quiet: its Python
    logs show errors only and what its native code writes to stderr goes to
    ``log_dir/.ray.log`` (``native_stderr_to``).
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    with ExitStack() as stack:
        if not logs:
            quiet_ray()
            if log_dir is not None:
                stack.enter_context(native_stderr_to(log_dir / RAY_LOG))
        yield stack.enter_context(_started(ray, workers, address, logs))


@contextmanager
def _started(ray: Any, workers: int | None, address: str | None, logs: bool) -> Iterator[Any]:
    level = "info" if logs else "error"
    if address is not None:
        try:
            ray.init(address=address, log_to_driver=logs, logging_level=level)
        except ConnectionError as exc:
            raise ClearanceError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home, starts offline
        ray.init(
            num_cpus=workers or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=logs,
            logging_level=level,
        )
    if not logs:  # importing Ray Data configures its logger anew
        quiet_ray()
    try:
        yield ray
    finally:
        ray.shutdown()


def index_payload(root: Path) -> dict[str, bytes]:
    """The index files by name (what goes into the object store once per run)."""
    return {path.name: path.read_bytes() for path in index_files(root)}


REPORT_SECONDS = 0.2
"""How often an actor sends its item count, and the driver reads the total, for the bar."""


class ItemCounter:
    """A Ray actor (``ray.remote`` applied in ``run_ray``): the items decided so far, so the
    driver's progress bar moves item by item, as the local engine's does."""

    def __init__(self) -> None:
        self.items = 0

    def add(self, items: int) -> int:
        self.items += items
        return self.items

    def value(self) -> int:
        return self.items


class ShardActor:
    """A Ray Data actor: materialises the shared index once, then processes shards by number."""

    def __init__(self, refs: list[Any]) -> None:
        import ray

        tasks_ref, index_ref, *counter = refs
        self.counter: Any = counter[0] if counter else None
        self.tasks: list[ShardTask] = ray.get(tasks_ref)
        files: dict[str, bytes] = ray.get(index_ref)
        self._dir = tempfile.TemporaryDirectory(prefix="clearance-index-")
        root = Path(self._dir.name)
        for name, data in files.items():
            (root / name).write_bytes(data)
        task = self.tasks[0]
        self.worker = Worker.open(MatchIndex.load(root), task.config, task.as_of)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        task = self.tasks[int(row["n"])]
        unsent, sent_at = 0, time.monotonic()

        def item_done() -> None:
            nonlocal unsent, sent_at
            unsent += 1
            if time.monotonic() - sent_at >= REPORT_SECONDS:
                self.counter.add.remote(unsent)  # fire and forget
                unsent, sent_at = 0, time.monotonic()

        try:
            rec = process_shard(task, self.worker, item_done if self.counter else None)
        except Exception as exc:  # the shard boundary: the other shards go on
            error = exc if isinstance(exc, ClearanceError) else f"{type(exc).__name__}: {exc}"
            return {"n": row["n"], "items": 0, "error": str(error)}
        finally:
            if self.counter is not None and unsent:
                import ray

                ray.get(self.counter.add.remote(unsent))  # counted before the row is seen
        return {"n": row["n"], "items": int(rec["items"]), "error": ""}


@contextmanager
def _polled(ray: Any, counter: Any, tick: Callable[[int], None]) -> Iterator[None]:
    """While the body runs, read ``counter`` every ``REPORT_SECONDS`` and ``tick`` the new
    items; once more at the end, when every actor has sent its last count."""
    seen = 0
    stop = threading.Event()

    def read() -> None:
        nonlocal seen
        now = int(ray.get(counter.value.remote()))
        if now > seen:
            tick(now - seen)
            seen = now

    def poll() -> None:
        while not stop.wait(REPORT_SECONDS):
            try:
                read()
            except Exception:
                return

    thread = threading.Thread(target=poll, name="clearance-ray-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    read()


def run_ray(
    tasks: list[ShardTask],
    index_root: Path,
    config: ScanConfig,
    tick: Callable[[int], None],
) -> list[tuple[int, BaseException]]:
    """Process ``tasks`` on Ray; return the failures as the local pool does."""
    workers, address = config.workers, config.ray_address
    if not tasks:
        import_ray()  # a missing Ray is an error even when nothing is left to do
        return []
    failures: list[tuple[int, BaseException]] = []
    with ray_session(workers, address, logs=config.engine_logs, log_dir=index_root.parent) as ray:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        counter = ray.remote(num_cpus=0)(ItemCounter).remote()
        refs = [ray.put(tasks), ray.put(index_payload(index_root)), counter]
        size = max(1, min(len(tasks), workers or int(ray.cluster_resources().get("CPU", 1))))
        numbers = [{"n": i} for i in range(len(tasks))]
        ds = ray.data.from_items(numbers, override_num_blocks=len(tasks))
        done = ds.map(
            ShardActor,
            fn_constructor_kwargs={"refs": refs},
            compute=ray.data.ActorPoolStrategy(size=size),  # `concurrency=` is deprecated
            num_cpus=1,
        )
        try:
            with _polled(ray, counter, tick):  # items are counted by the actors, as decided
                for row in done.iter_rows():
                    if row["error"]:
                        shard = tasks[int(row["n"])].spec.index
                        failures.append((shard, ClearanceError(row["error"])))
        except ray.exceptions.RayError as exc:  # an actor that could not start, or died
            raise ClearanceError(
                f"the Ray run failed: {exc}",
                hint="finished shards are kept: fix the cause and rerun with --resume"
                + (
                    "" if config.engine_logs else f" (Ray's own log: {index_root.parent / RAY_LOG})"
                ),
            ) from exc
    return failures

"""The Ray engine: the local engine's shard plan and ``process_shard``, run on Ray actors.

Why it is this thin: both engines must give identical decisions for the same
input, and ``--resume`` must work whichever engine ran first. So everything
that decides (planning, the configuration digest, the index, each shard's
atomic parts and record, assembly) stays in ``runner``/``shard``; this module
only replaces the process pool with a pool of Ray actors (``--workers`` of
them, one CPU each; by default one per CPU of the cluster), each calling
``process_shard`` on one shard at a time.

The registry's ``MatchIndex`` is built once by the caller; its files are put
into the object store once (``ray.put``), and every actor materialises that
one copy into its own temporary directory when it starts. So no node needs
the driver's disk, and no task rebuilds the index. Everything else a node
needs has one home every node reaches: the input and ``DIR`` on object
storage (``s3://``, ``gs://``; or a shared file system), the registry on
PostgreSQL, the site cache under ``DIR`` or at ``--site-cache``.

Losing a node: an actor on a node that dies takes its shard with it. That
shard has no record yet (the record is written last), so it goes back to
the queue and a surviving actor redoes it (``process_shard`` is idempotent:
a shard whose record exists is returned as it is). The run finishes on the
nodes that are left; only when every actor is gone does it stop, with an
error that says so, keeping the finished shards for ``--resume``. An actor
gets work only once it has started, so actors that cannot be placed (more
``--workers`` than the cluster has CPUs) never hold a shard.

Ray is imported here, lazily; ``import clearance.scan`` never imports it.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout, suppress
from pathlib import Path
from typing import Any

from clearance.core.errors import ClearanceError, UserError
from clearance.matching import MatchIndex
from clearance.matching.index import index_files
from clearance.scan.config import ScanConfig
from clearance.scan.shard import ShardTask, Worker, process_shard

RAY_HINT = "pip install 'clearance[ray]'"
log = logging.getLogger(__name__)


def import_ray() -> Any:
    """The ``ray`` module, or our ``UserError`` with the install hint."""
    try:
        import ray
    except ImportError as exc:
        raise UserError(f"the ray engine needs Ray ({exc})", hint=RAY_HINT) from None
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
    # Ray prints the errors its cluster publishes (a lost node's raylet log) to stdout,
    # where `--json` writes the result: they go to stderr instead.
    with redirect_stdout(sys.stderr):
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
    """A Ray actor: materialises the shared index once, then processes shards by number."""

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

    def ready(self) -> bool:
        """Answered once the actor has started (and loaded the index): it may get work."""
        return True

    def run(self, n: int) -> dict[str, Any]:
        task = self.tasks[n]
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
            return {"n": n, "items": 0, "error": str(error)}
        finally:
            if self.counter is not None and unsent:
                import ray

                # counted before the result is seen; the bar is not worth a shard
                with suppress(ray.exceptions.RayError):
                    ray.get(self.counter.add.remote(unsent))
        return {"n": n, "items": int(rec["items"]), "error": ""}


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
    with suppress(Exception):  # the counter's node may be gone: the bar is cosmetic
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
    log = "" if config.engine_logs else f" (Ray's own log: {index_root.parent / RAY_LOG})"
    hint = "finished shards are kept: fix the cause and rerun with --resume" + log
    with ray_session(workers, address, logs=config.engine_logs, log_dir=index_root.parent) as ray:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        counter = ray.remote(num_cpus=0)(ItemCounter).options(scheduling_strategy=here).remote()
        refs = [ray.put(tasks), ray.put(index_payload(index_root)), counter]
        size = max(1, min(len(tasks), workers or int(ray.cluster_resources().get("CPU", 1))))
        actor = ray.remote(num_cpus=1, max_restarts=0)(ShardActor)
        actors = [actor.remote(refs) for _ in range(size)]
        try:
            with _polled(ray, counter, tick):  # items are counted by the actors, as decided
                return _dispatch(ray, actors, tasks)
        except ray.exceptions.RayError as exc:
            raise ClearanceError(f"the Ray run failed: {ray_reason(exc)}", hint=hint) from exc
        except ClearanceError as exc:
            raise ClearanceError(exc.message, hint=hint) from exc
        finally:
            for a in actors:
                ray.kill(a)


def _dispatch(
    ray: Any, actors: list[Any], tasks: list[ShardTask]
) -> list[tuple[int, BaseException]]:
    """Give each started actor one shard at a time until every shard is done; a shard whose
    actor died (its node was lost) goes back to the queue for another actor."""
    failures: list[tuple[int, BaseException]] = []
    queue = deque(range(len(tasks)))
    starting = {a.ready.remote(): a for a in actors}
    idle: list[Any] = []
    running: dict[Any, tuple[Any, int]] = {}
    lost: list[str] = []
    while queue or running:
        while queue and idle:
            a = idle.pop()
            n = queue.popleft()
            running[a.run.remote(n)] = (a, n)
        if not running and not starting:
            raise ClearanceError(
                f"every Ray actor was lost ({len(lost)}; {lost[-1] if lost else 'none started'}); "
                f"{len(queue)} shards were not done"
            )
        ready, _ = ray.wait([*starting, *running], num_returns=1)
        ref = ready[0]
        if ref in starting:
            a = starting.pop(ref)
            try:
                ray.get(ref)
            except ray.exceptions.RayActorError as exc:  # could not start, or its node died
                lost.append(ray_reason(exc))
                continue
            idle.append(a)
            continue
        a, n = running.pop(ref)
        try:
            row = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            lost.append(ray_reason(exc))
            queue.appendleft(n)  # idempotent: another actor redoes it (or finds it done)
            log.warning(
                "clearance: a Ray actor was lost (%s); shard %d goes back to the queue",
                lost[-1],
                tasks[n].spec.index,
            )
            continue
        idle.append(a)
        if row["error"]:
            failures.append((tasks[n].spec.index, ClearanceError(row["error"])))
    if not starting:
        return failures
    for a in starting.values():  # never needed: free their CPUs (pending ones included)
        ray.kill(a)
    return failures


def ray_reason(exc: BaseException) -> str:
    """One line on why Ray failed (its messages hold whole remote tracebacks)."""
    text = str(exc)
    for marker in ("node has died", "node was terminated", "died unexpectedly"):
        if marker in text:
            return f"{type(exc).__name__}: a node or actor was lost ({marker})"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1][:300] if lines else 'no detail'}"

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

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def ray_session(workers: int | None, address: str | None) -> Iterator[Any]:
    """Connect to ``address``, or start a small local Ray for this run (and stop it after).

    A Ray already initialised in this process (a user's own, or a test's) is
    used as it is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if address is not None:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as exc:
            raise ClearanceError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    else:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home, starts offline
        ray.init(
            num_cpus=workers or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="warning",
        )
    try:
        yield ray
    finally:
        ray.shutdown()


def index_payload(root: Path) -> dict[str, bytes]:
    """The index files by name (what goes into the object store once per run)."""
    return {path.name: path.read_bytes() for path in index_files(root)}


class ShardActor:
    """A Ray Data actor: materialises the shared index once, then processes shards by number."""

    def __init__(self, refs: list[Any]) -> None:
        import ray

        tasks_ref, index_ref = refs
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
        try:
            rec = process_shard(task, self.worker)
        except Exception as exc:  # the shard boundary: the other shards go on
            error = exc if isinstance(exc, ClearanceError) else f"{type(exc).__name__}: {exc}"
            return {"n": row["n"], "items": 0, "error": str(error)}
        return {"n": row["n"], "items": int(rec["items"]), "error": ""}


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
    with ray_session(workers, address) as ray:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        refs = [ray.put(tasks), ray.put(index_payload(index_root))]
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
            for row in done.iter_rows():
                if row["error"]:
                    shard = tasks[int(row["n"])].spec.index
                    failures.append((shard, ClearanceError(row["error"])))
                else:
                    tick(int(row["items"]))
        except ray.exceptions.RayError as exc:  # an actor that could not start, or died
            raise ClearanceError(
                f"the Ray run failed: {exc}",
                hint="finished shards are kept: fix the cause and rerun with --resume",
            ) from exc
    return failures

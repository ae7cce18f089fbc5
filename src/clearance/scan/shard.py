"""``process_shard``: one shard from reading to its atomically written parts.

Why this shape: a shard is the unit of work, of failure and of resume. The
function is picklable (a module-level function over a frozen ``ShardTask``),
idempotent (a shard whose record already exists with the same configuration
digest is returned as is), and writes its outputs atomically (temporary file,
then ``os.replace``) in a fixed order: the decisions part, the cleared part,
and last the JSON record naming both with their SHA-256. A shard counts as
done only when its record exists and its parts still match their digests, so
a process killed at any instant leaves either a finished shard or one that a
resumed run will redo, never half of one.

Items are matched by ``clearance.matching.match`` (the cascade the guard
runs too, up to the run's ``--match`` level) and decided by
``clearance.matching.decide_item``. This is the one place that catches
``Exception``: a failure on one item becomes that item's ``error`` row, and
the run goes on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clearance.core.errors import ClearanceError, NotFound
from clearance.core.files import atomic_path, atomic_write_text
from clearance.core.models import Agreement, Evidence, Work
from clearance.fetch.evaluate import UrlSignals
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.matching import MatchIndex, Query, decide_item, match, matched_works
from clearance.registry.store import SqlStore, open_store
from clearance.scan.config import FORMAT_VERSION, ScanConfig
from clearance.scan.decide import decision_row, error_row
from clearance.scan.formats import InputFormat, Item, ShardSpec
from clearance.scan.web import evaluate_shard_urls, unreachable_evidence, url_error

PARTS_DIR = ".parts"
INDEX_DIR = ".index"
CACHE_DIR = ".cache"
WORK_CACHE = 100_000
"""Works a worker keeps in memory between items (looked up in the store on a match)."""


@dataclass(frozen=True, slots=True)
class ShardTask:
    """Everything a worker needs for one shard (plain values: it crosses process boundaries)."""

    spec: ShardSpec
    run_dir: str
    config: ScanConfig
    format: InputFormat
    as_of: datetime
    """The run's clock: agreements are judged in force at this instant, in every shard."""


def record_path(run_dir: Path, index: int) -> Path:
    return run_dir / PARTS_DIR / f"shard-{index:06d}.json"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def load_record(run_dir: Path, index: int, config_digest: str) -> dict[str, Any] | None:
    """The shard's record if the shard is complete for this configuration, else None."""
    path = record_path(run_dir, index)
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("config_digest") != config_digest:
        return None
    parts = run_dir / PARTS_DIR
    for key in ("decisions_part", "cleared_part"):
        name = rec.get(key)
        if name is None:
            continue
        try:
            if file_sha256(parts / name) != rec["digests"][name]:
                return None
        except (OSError, KeyError, TypeError):
            return None
    return rec


@dataclass
class Worker:
    """A worker's view of the run: the match index, the registry, agreements, the embedder."""

    index: MatchIndex
    store: SqlStore
    agreements: tuple[Agreement, ...] = ()
    embedder: ImageEmbedder | None = None
    _works: dict[int, Work | None] = field(default_factory=dict)

    @staticmethod
    def open(index: MatchIndex, config: ScanConfig, as_of: datetime) -> Worker:
        """Open the store (without the slow version check: the parent did it) and the rest."""
        store = open_store(config.registry, check=False)
        try:
            agreements: tuple[Agreement, ...] = ()
            if config.licensee:
                agreements = tuple(
                    a for a in store.current_agreements(as_of) if a.licensee == config.licensee
                )
            embedder = None
            if config.embedder and config.match.value == "embedding":
                from clearance.fingerprint.embedding import OnnxImageEmbedder

                embedder = OnnxImageEmbedder.from_path(config.embedder)
        except BaseException:
            store.close()
            raise
        return Worker(index, store, agreements, embedder)

    def work(self, work_id: int) -> Work | None:
        if work_id not in self._works:
            if len(self._works) >= WORK_CACHE:
                self._works.clear()
            try:
                self._works[work_id] = self.store.get_work(work_id)
            except NotFound:  # removed since the index was built
                self._works[work_id] = None
        return self._works[work_id]

    def close(self) -> None:
        self.store.close()


def _embedded(item: Item) -> tuple[list[Evidence], list[str]]:
    if item.data is None:
        return [], []
    from clearance.signals.embedded import embedded_signals

    found = embedded_signals(item.data)
    return list(found.evidence), list(found.warnings)


def decide(
    item: Item, worker: Worker, web: dict[str, UrlSignals], config: ScanConfig, as_of: datetime
) -> dict[str, Any]:
    """The decisions row of one item (an ``error`` row if it cannot be checked)."""
    purpose = config.purpose
    if item.error is not None:
        return error_row(item.item_id, item.source, item.error, purpose=purpose)
    query = Query(
        media=item.media,
        data=item.data,
        name=item.source,
        text=item.text,
        url=item.url,
        sha256=item.sha256,
        identifiers=item.identifiers,
    )
    warnings: list[str] = []
    site = web.get(item.url) if item.url is not None else None
    unreachable = None
    if site is not None and site.unreachable is not None:
        unreachable = {"origin": site.origin, "reason": site.unreachable}
    try:
        result = match(
            worker.index, query, worker.work, level=config.match, embedder=worker.embedder
        )
        if config.match_captions and item.caption is not None:
            said = Query(media="text", name=item.source, text=item.caption)
            result.matches += match(worker.index, said, worker.work, level=config.match).matches
        works = matched_works(result.matches, worker.work, min_verification=config.min_verification)
        signals, notes = _embedded(item)
        warnings += notes
        if site is not None:
            problem = url_error(site, config.web.value)
            if problem is not None:
                raise ClearanceError(problem)
            signals += site.evidence
            warnings += list(site.warnings)
            signals += unreachable_evidence(site, config)
        decided = decide_item(
            works,
            signals,
            purpose=purpose,
            mode=config.mode,
            agreements=worker.agreements,
            at=as_of,
        )
    except ClearanceError as exc:
        return error_row(
            item.item_id,
            item.source,
            str(exc),
            purpose=purpose,
            warnings=warnings,
            unreachable=unreachable,
        )
    except Exception as exc:  # the shard boundary: one bad item must not stop the run
        error = f"{type(exc).__name__}: {exc}"
        return error_row(
            item.item_id,
            item.source,
            error,
            purpose=purpose,
            warnings=warnings,
            unreachable=unreachable,
        )
    return decision_row(
        item.item_id,
        item.source,
        decided,
        works,
        purpose=purpose,
        warnings=warnings,
        sha256=result.sha256,
        unreachable=unreachable,
    )


_items_done: list[Any] = []
"""This pool worker's shared item counter (a ``multiprocessing.Value``), set by ``count_items``."""


def count_items(counter: Any) -> None:
    """Pool initializer: count every decided item into ``counter``, which the runner reads
    to move its progress bar item by item rather than once per finished shard."""
    _items_done[:] = [counter]


def _counted(item_done: Callable[[], None] | None) -> Callable[[], None] | None:
    """What to call after each item: the caller's callback, else the pool's shared counter."""
    if item_done is not None or not _items_done:
        return item_done
    counter = _items_done[0]

    def bump() -> None:
        with counter.get_lock():
            counter.value += 1

    return bump


_open: list[tuple[tuple[str, str, str], Worker]] = []
"""This process's open worker (one slot), reused by its next shards."""


def _worker(run_dir: Path, config: ScanConfig, as_of: datetime) -> Worker:
    """The index and store for this run, opened once per worker process, not once per shard."""
    key = (config.registry, str(run_dir), config.registry_state)
    if _open and _open[0][0] == key:
        return _open[0][1]
    release()
    worker = Worker.open(MatchIndex.load(run_dir / INDEX_DIR), config, as_of)
    _open.append((key, worker))
    return worker


def release() -> None:
    """Close this process's store (the runner calls it after an in-process run)."""
    while _open:
        _open.pop()[1].close()


def process_shard(
    task: ShardTask,
    worker: Worker | None = None,
    item_done: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Process one shard (or return its existing record); return the shard record.

    ``worker``: the index and store to use; by default this process's worker
    over ``DIR/.index`` (the Ray engine passes one built from the copy it
    shares through the object store). ``item_done`` is called after each item
    is decided (in a pool worker, the counter ``count_items`` installed).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clearance.scan.columnar import columnar_input, decide_columnar
    from clearance.scan.schema import DECISIONS_SCHEMA

    run_dir = Path(task.run_dir)
    config, spec, fmt = task.config, task.spec, task.format
    done = load_record(run_dir, spec.index, config.digest)
    if done is not None:
        return done
    parts = run_dir / PARTS_DIR
    cache_dir = Path(config.site_cache) if config.site_cache else run_dir / CACHE_DIR / "fetch"
    if worker is None:
        worker = _worker(run_dir, config, task.as_of)
    tick = _counted(item_done)
    if columnar_input(fmt, config):
        data, table = decide_columnar(spec, fmt, worker, config, task.as_of, cache_dir, decide)
        if tick is not None:
            for _ in range(table.num_rows):
                tick()
    else:
        data = fmt.read(spec)
        urls = [i.url for i in data.items if i.url is not None and i.error is None]
        web = evaluate_shard_urls(
            urls,
            web=config.web.value,
            agent=config.agent,
            allow_private=config.allow_private,
            cache_dir=cache_dir,
        )
        rows = []
        for item in data.items:
            rows.append(decide(item, worker, web, config, task.as_of))
            if tick is not None:
                tick()
        table = pa.Table.from_pylist(rows, schema=DECISIONS_SCHEMA)

    stem = f"shard-{spec.index:06d}"
    decisions_name = f"{stem}.decisions.parquet"
    with atomic_path(parts / decisions_name) as tmp:
        pq.write_table(table, tmp)
    outcomes: list[str] = table.column("outcome").to_pylist()
    keep = [o == "include" for o in outcomes]
    cleared_name = f"{stem}.cleared{fmt.part_suffix}" if fmt.part_suffix else None
    cleared = fmt.write_part(data, keep, parts / cleared_name if cleared_name else parts)
    digests = {decisions_name: file_sha256(parts / decisions_name)}
    if cleared_name is not None:
        digests[cleared_name] = file_sha256(parts / cleared_name)
    inputs = fmt.item_digests(data)
    record: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "shard": spec.index,
        "kind": spec.kind,
        "name": spec.name,
        "start": spec.start,
        "stop": spec.stop,
        "items": table.num_rows,
        "outcomes": dict(Counter(outcomes)),
        "config_digest": config.digest,
        "decisions_part": decisions_name,
        "cleared_part": cleared_name,
        "cleared": cleared,
        "digests": digests,
        "input_digests": inputs,
        "item_digest": hashlib.sha256(
            "\n".join(table.column("item_id").to_pylist()).encode()
        ).hexdigest(),
    }
    atomic_write_text(
        record_path(run_dir, spec.index), json.dumps(record, indent=2, sort_keys=True)
    )
    return record

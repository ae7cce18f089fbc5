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

This is the one place that catches ``Exception``: a failure on one item
becomes that item's ``error`` row, and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance.core.errors import ClearanceError
from clearance.core.models import Evidence
from clearance.fetch.evaluate import UrlSignals
from clearance.registry.store import open_store
from clearance.scan.cleared import PART_SUFFIX, write_part
from clearance.scan.config import FORMAT_VERSION, ScanConfig
from clearance.scan.decide import decide_row, registry_evidence
from clearance.scan.inputs import ShardSpec
from clearance.scan.matching import Match, Matcher
from clearance.scan.readers import Item, read_shard
from clearance.scan.web import evaluate_shard_urls, url_error

PARTS_DIR = ".parts"
INDEX_DIR = ".index"
CACHE_DIR = ".cache"


@dataclass(frozen=True, slots=True)
class ShardTask:
    """Everything a worker needs for one shard (plain values: it crosses process boundaries)."""

    spec: ShardSpec
    run_dir: str
    config: ScanConfig


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
        except (OSError, KeyError):
            return None
    return rec


def _write_json_atomic(path: Path, doc: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _embedded(item: Item) -> tuple[list[Evidence], list[str]]:
    if item.data is None:
        return [], []
    from clearance.signals.embedded import embedded_signals

    found = embedded_signals(item.data)
    return list(found.evidence), list(found.warnings)


def _decide(
    item: Item, matcher: Matcher, web: dict[str, UrlSignals], config: ScanConfig
) -> dict[str, Any]:
    purpose, mode = config.purpose, config.mode
    if item.error is not None:
        return decide_row(
            item.item_id, item.source, None, [], purpose=purpose, mode=mode, error=item.error
        )
    match: Match | None = None
    evidence: list[Evidence] = []
    warnings: list[str] = []
    try:
        match = matcher.match(item)
        for work in match.works.values():
            evidence += registry_evidence(work)
        found, notes = _embedded(item)
        evidence += found
        warnings += notes
        signals = web.get(item.url) if item.url is not None else None
        if signals is not None:
            problem = url_error(signals, config.web)
            if problem is not None:
                raise ClearanceError(problem)
            evidence += signals.evidence
            warnings += list(signals.warnings)
    except ClearanceError as exc:
        error = str(exc)
    except Exception as exc:  # the shard boundary: one bad item must not stop the run
        error = f"{type(exc).__name__}: {exc}"
    else:
        return decide_row(
            item.item_id,
            item.source,
            match,
            evidence,
            purpose=purpose,
            mode=mode,
            warnings=warnings,
        )
    return decide_row(
        item.item_id,
        item.source,
        match,
        evidence,
        purpose=purpose,
        mode=mode,
        warnings=warnings,
        error=error,
    )


_open: list[tuple[tuple[str, str, str], Matcher]] = []
"""This process's open store and loaded indexes (one slot), reused by its next shards."""


def _matcher(run_dir: Path, config: ScanConfig) -> Matcher:
    """The store and index for this run, opened once per worker process, not once per shard.

    The parent already checked the registry's schema version and recorded its
    state digest, so workers skip the (slow) version check.
    """
    key = (config.registry, str(run_dir), config.registry_state)
    if _open and _open[0][0] == key:
        return _open[0][1]
    release()
    matcher = Matcher(run_dir / INDEX_DIR, open_store(config.registry, check=False))
    _open.append((key, matcher))
    return matcher


def release() -> None:
    """Close this process's store (the runner calls it after an in-process run)."""
    while _open:
        _open.pop()[1].store.close()


def process_shard(task: ShardTask, matcher: Matcher | None = None) -> dict[str, Any]:
    """Process one shard (or return its existing record); return the shard record.

    ``matcher``: the indexes to match against; by default this process's
    matcher over ``DIR/.index`` (the Ray engine passes one built from the
    copy it shares through the object store).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clearance.scan.schema import DECISIONS_SCHEMA

    run_dir = Path(task.run_dir)
    config, spec = task.config, task.spec
    done = load_record(run_dir, spec.index, config.digest)
    if done is not None:
        return done
    parts = run_dir / PARTS_DIR
    data = read_shard(spec)
    urls = [i.url for i in data.items if i.url is not None and i.error is None]
    web = evaluate_shard_urls(
        urls,
        web=config.web,
        agent=config.agent,
        allow_private=config.allow_private,
        cache_dir=run_dir / CACHE_DIR / "fetch",
    )
    if matcher is None:
        matcher = _matcher(run_dir, config)
    rows = [_decide(item, matcher, web, config) for item in data.items]

    stem = f"shard-{spec.index:06d}"
    decisions_name = f"{stem}.decisions.parquet"
    table = pa.Table.from_pylist(rows, schema=DECISIONS_SCHEMA)
    tmp = parts / f"{decisions_name}.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, parts / decisions_name)
    keep = [r["outcome"] == "include" for r in rows]
    cleared_name = None if spec.kind == "folder" else f"{stem}.cleared{PART_SUFFIX[spec.kind]}"
    cleared = write_part(data, keep, parts / cleared_name if cleared_name else parts)
    digests = {decisions_name: file_sha256(parts / decisions_name)}
    if cleared_name is not None:
        digests[cleared_name] = file_sha256(parts / cleared_name)
    inputs = {}
    if spec.kind == "folder":
        inputs = {
            rel: hashlib.sha256(item.data).hexdigest()
            for rel, item in zip(spec.members, data.items, strict=True)
            if item.data is not None
        }
    record: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "shard": spec.index,
        "kind": spec.kind,
        "name": spec.name,
        "start": spec.start,
        "stop": spec.stop,
        "items": len(rows),
        "outcomes": dict(Counter(r["outcome"] for r in rows)),
        "config_digest": config.digest,
        "decisions_part": decisions_name,
        "cleared_part": cleared_name,
        "cleared": cleared,
        "digests": digests,
        "input_digests": inputs,
        "item_digest": hashlib.sha256(
            "\n".join(f"{r['item_id']}" for r in rows).encode()
        ).hexdigest(),
    }
    _write_json_atomic(record_path(run_dir, spec.index), record)
    return record

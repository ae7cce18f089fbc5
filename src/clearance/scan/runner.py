"""The local engine: plan shards, build the registry index once, run a process pool, assemble.

Order of a run (each step safe to interrupt):
1. recognise the input (``scan.formats``) and plan shards (deterministic for
   the same input);
2. check ``DIR``: a fresh run needs it empty (and outside the input); ``--resume``
   needs the same configuration digest (input identity, purpose, mode, web,
   agent, match level, licensee, shard size and the registry's state digest)
   as the run recorded there;
3. build the registry's ``MatchIndex`` into ``DIR/.index`` (kept when the
   registry state is unchanged; reused from ``--index-cache``);
4. process the shards not yet done, on a process pool (``workers=1``: in
   this process, which is easier to debug);
5. assemble ``decisions.parquet``, ``cleared/``, ``report.json``,
   ``licenses.json`` and, last, ``manifest.json`` from the shard records.

The Ray engine (``runner_ray``) replaces only step 4: the same plan, index,
``process_shard`` and assembly, so both engines give identical outputs and
either can resume the other's run.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.core.errors import ClearanceError, UserError
from clearance.core.files import atomic_write_text, within
from clearance.evidence import attest, merkle_section
from clearance.fingerprint.parallel import process_context
from clearance.matching import EmbeddingModel, MatchIndex
from clearance.matching.index import index_meta
from clearance.registry.engine import redact
from clearance.registry.store import open_store
from clearance.scan import indexcache
from clearance.scan.config import ScanConfig
from clearance.scan.formats import InputSpec, ShardSpec, open_input
from clearance.scan.outputs import (
    assemble_decisions,
    build_licenses,
    build_manifest,
    build_report,
    write_json,
)
from clearance.scan.report_html import render_scan_report
from clearance.scan.shard import (
    INDEX_DIR,
    PARTS_DIR,
    ShardTask,
    count_items,
    file_sha256,
    load_record,
    process_shard,
    release,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

RUN_FILE = ".run.json"
ProgressFn = Callable[[int, int], None]
"""Called as ``progress(items_done, items_total)`` as items are decided."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Where a scan wrote its outputs, and its report."""

    out: Path
    report: dict[str, Any]
    shards: int
    resumed_shards: int

    @property
    def decisions(self) -> Path:
        return self.out / "decisions.parquet"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report,
            "out": str(self.out),
            "shards": self.shards,
            "resumed_shards": self.resumed_shards,
            "files": {
                name: str(self.out / name)
                for name in (
                    "decisions.parquet",
                    "cleared",
                    "report.json",
                    "report.html",
                    "licenses.json",
                    "manifest.json",
                )
            },
        }


def _check_out(out: Path, spec: InputSpec) -> None:
    """Refuse a ``DIR`` that is a file, lies inside the input, or holds input files."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file", hint="give a directory")
    if spec.format.owns_tree and within(spec.root, out):
        raise UserError(
            f"--out {out} is inside the input folder {spec.root}",
            hint="the outputs would become input on the next run: choose a directory outside it",
        )
    inside = next((f for f in spec.files if within(out, f)), None)
    if inside is not None:
        raise UserError(f"the input file {inside} is inside --out {out}", hint="choose a new --out")


def _make_out(out: Path) -> None:
    try:
        (out / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {out}: {exc.strerror or exc}") from None


def _previous_run(out: Path, config: ScanConfig, resume: bool) -> dict[str, Any] | None:
    """The run recorded in ``out`` when resuming it; None for a fresh run into an empty ``out``."""
    if not out.exists() or not any(out.iterdir()):
        return None
    if not resume:
        raise UserError(
            f"{out} is not empty",
            hint="pass --resume to continue the run there, or choose a new --out",
        )
    try:
        previous = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
        if not isinstance(previous, dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        raise UserError(f"{out} holds no scan run to resume", hint="choose a new --out") from None
    if previous.get("config_digest") != config.digest:
        old = previous.get("config", {})
        old = old if isinstance(old, dict) else {}
        changed = sorted(k for k, v in config.decisive().items() if old.get(k) != v)
        raise UserError(
            f"{out} holds a run with a different configuration ({', '.join(changed)} changed)",
            hint="rerun with the same options, or without --resume into a new --out",
        )
    return previous


POLL_SECONDS = 0.2
"""How often the pool's item counter is read for the progress bar."""


def _run_pool(
    tasks: list[ShardTask],
    workers: int,
    tick: Callable[[int], None],
) -> list[tuple[int, BaseException]]:
    """Run the shards; ``tick(n)`` as every ``n`` more items are decided (item by item)."""
    failures: list[tuple[int, BaseException]] = []
    if workers <= 1 or len(tasks) <= 1:
        try:
            for task in tasks:
                try:
                    process_shard(task, item_done=lambda: tick(1))
                except Exception as exc:  # the shard boundary: keep the other shards going
                    failures.append((task.spec.index, exc))
        finally:
            release()
        return failures
    ctx = _pool_context()
    counter = ctx.Value("q", 0)  # items decided in the workers, read here for the bar
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=count_items, initargs=(counter,)
    ) as pool:
        futures: dict[Future[dict[str, Any]], ShardTask] = {
            pool.submit(process_shard, t): t for t in tasks
        }
        seen = 0
        try:
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, POLL_SECONDS, FIRST_COMPLETED)
                for fut in finished:
                    try:
                        fut.result()
                    except Exception as exc:  # the shard boundary, as above
                        failures.append((futures[fut].spec.index, exc))
                now = int(counter.value)
                if now > seen:
                    tick(now - seen)
                    seen = now
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return failures


def _pool_context() -> BaseContext:
    """A fork server that has imported the shard code once, so workers start warm, and whose
    workers exit when this process dies (``fingerprint.parallel.process_context``).

    Plain ``fork`` would copy whatever threads the caller runs (a progress bar,
    a web server) mid-state; ``spawn`` would re-import numpy, pyarrow and the
    fingerprinting stack in every worker.
    """
    return process_context(["clearance.scan.shard"])


def _raise_failures(failures: list[tuple[int, BaseException]], total: int) -> None:
    index, exc = min(failures, key=lambda f: f[0])
    message = f"{len(failures)} of {total} shards failed; shard {index}: {exc}"
    hint = "finished shards are kept: fix the cause and rerun with --resume"
    if isinstance(exc, ClearanceError):
        raise type(exc)(message, hint=hint) from exc
    raise ClearanceError(message, hint=hint) from exc


def _output_digests(out: Path) -> dict[str, str]:
    names = ["decisions.parquet", "report.json", "report.html", "licenses.json"]
    digests = {n: file_sha256(out / n) for n in names}
    cleared = out / "cleared"
    for f in sorted(p for p in cleared.rglob("*") if p.is_file()):
        digests[f.relative_to(out).as_posix()] = file_sha256(f)
    return digests


def _embedding_model(config: ScanConfig) -> EmbeddingModel | None:
    """The configured embedder's model id and vector length (loads it once, in the parent)."""
    if config.match.value != "embedding" or not config.embedder:
        return None
    from clearance.fingerprint.embedding import OnnxImageEmbedder

    embedder = OnnxImageEmbedder.from_path(config.embedder)
    return EmbeddingModel(embedder.model_id, embedder.dim)


def _index(out: Path, config: ScanConfig, store: Any) -> dict[str, Any]:
    """``DIR/.index`` for the registry's state: kept, restored from the cache, or built."""
    state = config.registry_state
    meta = index_meta(out / INDEX_DIR)
    if meta is not None and meta.get("cache_key") == f"{state}:{config.match.value}":
        return meta
    cache = Path(config.index_cache) if config.index_cache else None
    key = f"{state}:{config.match.value}"
    meta = indexcache.restore(cache, key, out / INDEX_DIR) if cache else None
    if meta is None:
        index = MatchIndex.from_store(store, level=config.match, embedding=_embedding_model(config))
        meta = index.save(out / INDEX_DIR, registry_state=state, cache_key=key)
        if cache is not None:
            indexcache.store(cache, key, out / INDEX_DIR)
    return meta


def run_scan(
    input: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: ScanConfig,
    *,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> ScanResult:
    """Scan a dataset; see ``clearance.scan.scan``."""
    config = config.validated()
    if config.engine == "ray":
        from clearance.scan.runner_ray import import_ray

        import_ray()  # fail before any work when Ray is missing
    # Loaded (and so checked) before any work; never part of the configuration digest,
    # so a resumed run may sign with the same key, another one, or none.
    signer = None
    if config.sign_key:
        from clearance.evidence import load_signing_key

        signer = load_signing_key(config.sign_key)
    spec = open_input(input, config.base_dir or None, config.column_map)
    shards: list[ShardSpec] = spec.plan(config.shard_size)
    out_dir = Path(out).expanduser().resolve()
    with open_store(config.registry) as store:
        config = replace(config, registry_state=store.state_digest(), input_digest=spec.identity())
        _check_out(out_dir, spec)
        previous = _previous_run(out_dir, config, resume)
        _make_out(out_dir)
        for stale in (out_dir / PARTS_DIR).glob("*.tmp"):  # left by a killed run
            stale.unlink(missing_ok=True)
        as_of = datetime.now(UTC)
        if previous is not None and isinstance(previous.get("as_of"), str):
            as_of = datetime.fromisoformat(previous["as_of"])
        run_doc = {
            "format_version": 1,
            "config": config.to_dict(),
            "config_digest": config.digest,
            "as_of": as_of.isoformat(),
        }
        write_json(out_dir / RUN_FILE, run_doc)
        meta = _index(out_dir, config, store)

    total = sum(s.size for s in shards)
    pending = [
        ShardTask(s, str(out_dir), config, spec.format, as_of)
        for s in shards
        if load_record(out_dir, s.index, config.digest) is None
    ]
    done_items = total - sum(t.spec.size for t in pending)
    if progress is not None:
        progress(done_items, total)

    def tick(items: int) -> None:
        nonlocal done_items
        done_items += items
        if progress is not None:
            progress(done_items, total)

    if config.engine == "ray":
        from clearance.scan.runner_ray import run_ray

        failures = run_ray(pending, out_dir / INDEX_DIR, config, tick)
    else:
        failures = _run_pool(pending, config.workers or os.cpu_count() or 1, tick)
    if failures:
        _raise_failures(failures, len(shards))
    if progress is not None:
        progress(total, total)
    records: list[dict[str, Any]] = []
    for s in shards:
        rec = load_record(out_dir, s.index, config.digest)
        if rec is None:  # written moments ago; vanished or changed under us
            raise ClearanceError(f"shard {s.index} record is missing", hint="rerun with --resume")
        records.append(rec)
    resumed = len(shards) - len(pending)
    return _finish(out_dir, spec, config, records, meta, resumed, as_of, signer)


def run_facts(spec: InputSpec, config: ScanConfig, as_of: datetime) -> dict[str, Any]:
    """What report.json's ``run`` says: what was scanned, against what, how, when, by what."""
    from clearance import __version__

    return {
        "as_of": as_of.isoformat(timespec="seconds"),
        "input": str(spec.files[0])
        if len(spec.files) == 1 and not spec.format.owns_tree
        else f"{spec.root} ({len(spec.files):,} files)",
        "input_kind": spec.kind,
        "registry": redact(config.registry),
        "registry_state": config.registry_state,
        "web": config.web.value,
        "match": config.match.value,
        "licensee": config.licensee,
        "version": __version__,
    }


def _finish(
    out: Path,
    spec: InputSpec,
    config: ScanConfig,
    records: list[dict[str, Any]],
    meta: dict[str, Any] | None,
    resumed: int,
    as_of: datetime,
    signer: Ed25519PrivateKey | None = None,
) -> ScanResult:
    parts = out / PARTS_DIR
    rows = assemble_decisions(parts, records, out / "decisions.parquet")
    staging = out / "cleared.tmp"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    spec.format.assemble(records, parts, staging)
    if (out / "cleared").exists():
        shutil.rmtree(out / "cleared")
    os.replace(staging, out / "cleared")
    cfg = config.to_dict()
    report = build_report(rows, cfg, run_facts(spec, config, as_of))
    licenses = build_licenses(rows, config.purpose.value)
    write_json(out / "report.json", report)
    write_json(out / "licenses.json", licenses)
    atomic_write_text(out / "report.html", render_scan_report(report, licenses, rows=rows))
    manifest = build_manifest(
        {**cfg, "input": str(spec.root), "input_kind": spec.kind},
        registry_state=config.registry_state,
        inputs=spec.format.input_digests(spec.files, records),
        outputs=_output_digests(out),
        shards=records,
        index=meta,
        merkle=merkle_section(out / "decisions.parquet", records),
    )
    write_json(out / "manifest.json", attest(manifest, signer))
    return ScanResult(out, report, len(records), resumed)

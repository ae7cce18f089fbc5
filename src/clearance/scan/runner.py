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

``DIR`` may be on object storage (``s3://bucket/run``, ``gs://...``;
``core.storage``). Then the driver works in a local temporary directory (the
index, the downloaded parts, the assembled outputs), the workers write their
parts and records to ``DIR`` (``shard``), and step 5 downloads the parts
(checking each one's SHA-256 against its record), assembles the outputs
locally and uploads them, ``manifest.json`` last: a run on object storage is
finished when its ``manifest.json`` is there.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.core.errors import ClearanceError, UserError
from clearance.core.files import atomic_write_text, within
from clearance.core.storage import Location, storage_error
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
    dump_json,
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
    record_name,
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

    out: Path | str
    """The local directory, or the URI of ``DIR`` on object storage."""
    report: dict[str, Any]
    shards: int
    resumed_shards: int

    def file(self, name: str) -> Path | str:
        """One of the run's outputs: its local path, or its URI."""
        if isinstance(self.out, Path):
            return self.out / name
        return f"{self.out}/{name}"

    @property
    def decisions(self) -> Path | str:
        return self.file("decisions.parquet")

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report,
            "out": str(self.out),
            "shards": self.shards,
            "resumed_shards": self.resumed_shards,
            "files": {
                name: str(self.file(name))
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


def _check_out(target: Location, spec: InputSpec) -> None:
    """Refuse a ``DIR`` that is a file, lies inside the input, or holds input files."""
    if not target.writable:
        raise UserError(
            f"--out {target.uri} is read only", hint="write to a local path, s3://, gs://"
        )
    if target.local is None or spec.format.protocol is not None:
        files = [spec.format.display(f) for f in spec.files]
        root = Location(spec.format.display(spec.root)) if spec.format.protocol else None
        if spec.format.owns_tree and root is not None and root.contains(target.uri):
            raise UserError(
                f"--out {target.uri} is inside the input folder {root.uri}",
                hint="the outputs would become input on the next run: choose a place outside it",
            )
        inside = next((f for f in files if target.contains(f)), None)
        if inside is not None:
            raise UserError(
                f"the input file {inside} is inside --out {target.uri}", hint="choose a new --out"
            )
        if target.local is None:
            return
    out = target.local
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file", hint="give a directory")
    if spec.format.owns_tree and within(Path(spec.root), out):
        raise UserError(
            f"--out {out} is inside the input folder {spec.root}",
            hint="the outputs would become input on the next run: choose a directory outside it",
        )
    local = next((f for f in spec.files if within(out, Path(f))), None)
    if local is not None:
        raise UserError(f"the input file {local} is inside --out {out}", hint="choose a new --out")


def _make_out(out: Path) -> None:
    try:
        (out / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create --out {out}: {exc.strerror or exc}") from None


def _previous_run(target: Location, config: ScanConfig, resume: bool) -> dict[str, Any] | None:
    """The run recorded in ``out`` when resuming it; None for a fresh run into an empty ``out``."""
    out = target.uri
    try:
        empty = target.is_empty()
    except Exception as exc:  # the store's own errors: no bucket, refused credentials
        raise storage_error(exc, f"--out {out}") from None
    if empty:
        return None
    if not resume:
        raise UserError(
            f"{out} is not empty",
            hint="pass --resume to continue the run there, or choose a new --out",
        )
    try:
        previous = json.loads(target.read_text(RUN_FILE))
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
    digests = {n: file_sha256(out / n) for n in OUTPUTS}
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
    cache = config.index_cache
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
    target = Location(out, what="--out")
    if target.local is not None:
        return _run(spec, shards, target, target.local, config, resume, progress, signer)
    work = Path(tempfile.mkdtemp(prefix="clearance-run-"))
    try:
        result = _run(spec, shards, target, work, config, resume, progress, signer)
    except BaseException:
        _keep_only_logs(work)  # a failed Ray run's error names its log there
        raise
    shutil.rmtree(work, ignore_errors=True)
    return result


def _keep_only_logs(work: Path) -> None:
    """Remove a failed run's local working files, except Ray's log (then the folder too)."""
    from clearance.scan.runner_ray import RAY_LOG

    for entry in work.iterdir():
        if entry.name == RAY_LOG:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    if not any(work.iterdir()):
        work.rmdir()


def _run(
    spec: InputSpec,
    shards: list[ShardSpec],
    target: Location,
    work: Path,
    config: ScanConfig,
    resume: bool,
    progress: ProgressFn | None,
    signer: Ed25519PrivateKey | None,
) -> ScanResult:
    """The run into ``target``; ``work`` is the driver's local directory (``target``'s own
    when it is local; a temporary one when it is on object storage)."""
    remote = target.local is None
    with open_store(config.registry) as store:
        config = replace(config, registry_state=store.state_digest(), input_digest=spec.identity())
        _check_out(target, spec)
        previous = _previous_run(target, config, resume)
        _make_out(work)
        for stale in (work / PARTS_DIR).glob("*.tmp"):  # left by a killed run
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
        try:
            target.write_text(RUN_FILE, dump_json(run_doc))
        except OSError as exc:
            raise storage_error(exc, f"--out {target.uri}") from None
        meta = _index(work, config, store)

    total = sum(s.size for s in shards)
    index_dir = str(work / INDEX_DIR) if remote else ""
    pending = [
        ShardTask(s, target.uri, config, spec.format, as_of, index_dir)
        for s in shards
        if load_record(target, s.index, config.digest) is None
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

        failures = run_ray(pending, work / INDEX_DIR, config, tick)
    else:
        failures = _run_pool(pending, config.workers or os.cpu_count() or 1, tick)
    if failures:
        _raise_failures(failures, len(shards))
    if progress is not None:
        progress(total, total)
    records: list[dict[str, Any]] = []
    for s in shards:
        rec = load_record(target, s.index, config.digest)
        if rec is None:  # written moments ago; vanished or changed under us
            raise ClearanceError(f"shard {s.index} record is missing", hint="rerun with --resume")
        records.append(rec)
    resumed = len(shards) - len(pending)
    if remote:
        _download_parts(target, records, work / PARTS_DIR)
    result = _finish(work, spec, config, records, meta, resumed, as_of, signer)
    if remote:
        _upload_outputs(work, target)
        return replace(result, out=target.uri)
    return result


def _download_parts(target: Location, records: list[dict[str, Any]], parts: Path) -> None:
    """Each record's parts from ``DIR`` on object storage into ``parts``, digests checked; a
    part that does not match its record unpublishes the shard (``--resume`` redoes it)."""
    for rec in records:
        for key in ("decisions_part", "cleared_part"):
            name = rec.get(key)
            if name is None:
                continue
            local = parts / name
            target.get(f"{PARTS_DIR}/{name}", local)
            if file_sha256(local) != rec["digests"][name]:
                target.remove(record_name(int(rec["shard"])))
                raise ClearanceError(
                    f"shard {rec['shard']}: {name} does not match its record",
                    hint="rerun with --resume to redo that shard",
                )


OUTPUTS = ("decisions.parquet", "report.json", "report.html", "licenses.json")


def _upload_outputs(work: Path, target: Location) -> None:
    """The assembled outputs from ``work`` to ``DIR`` on object storage; ``manifest.json``
    last, so a run there is finished exactly when its manifest exists."""
    target.remove("manifest.json")
    target.remove_tree("cleared")
    for name in OUTPUTS:
        target.put(work / name, name)
    cleared = work / "cleared"
    for f in sorted(p for p in cleared.rglob("*") if p.is_file()):
        target.put(f, f.relative_to(work).as_posix())
    target.put(work / "manifest.json", "manifest.json")


def run_facts(spec: InputSpec, config: ScanConfig, as_of: datetime) -> dict[str, Any]:
    """What report.json's ``run`` says: what was scanned, against what, how, when, by what."""
    from clearance import __version__

    return {
        "as_of": as_of.isoformat(timespec="seconds"),
        "input": spec.format.display(spec.files[0])
        if len(spec.files) == 1 and not spec.format.owns_tree
        else f"{spec.format.display(spec.root)} ({len(spec.files):,} files)",
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
        {**cfg, "input": spec.format.display(spec.root), "input_kind": spec.kind},
        registry_state=config.registry_state,
        inputs=spec.format.input_digests(spec.files, records),
        outputs=_output_digests(out),
        shards=records,
        index=meta,
        merkle=merkle_section(out / "decisions.parquet", records),
    )
    write_json(out / "manifest.json", attest(manifest, signer))
    return ScanResult(out, report, len(records), resumed)

"""The local engine: plan shards, build the registry index once, run a process pool, assemble.

Order of a run (each step safe to interrupt):
1. recognise the input and plan shards (deterministic for the same input);
2. check ``DIR``: a fresh run needs it empty; ``--resume`` needs the same
   configuration digest (input identity, purpose, mode, web, agent, shard size
   and the registry's state digest) as the run recorded there;
3. build the registry index into ``DIR/.index`` (kept when the registry
   state is unchanged);
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
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.core.errors import ClearanceError, UserError
from clearance.core.policy import Mode
from clearance.core.usage import Usage
from clearance.registry.engine import DEFAULT_REGISTRY
from clearance.registry.store import open_store
from clearance.reports import render_scan_report
from clearance.scan import indexcache
from clearance.scan.cleared import assemble
from clearance.scan.config import (
    DEFAULT_SHARD_SIZE,
    ENGINES,
    ScanConfig,
    parse_purpose,
    parse_web,
)
from clearance.scan.inputs import InputSpec, ShardSpec, open_input, plan_shards
from clearance.scan.matching import build_index, index_meta
from clearance.scan.outputs import (
    assemble_decisions,
    build_licenses,
    build_manifest,
    build_report,
    write_json,
    write_text,
)
from clearance.scan.shard import (
    INDEX_DIR,
    PARTS_DIR,
    ShardTask,
    file_sha256,
    load_record,
    process_shard,
    release,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

RUN_FILE = ".run.json"
ProgressFn = Callable[[int, int], None]
"""Called as ``progress(items_done, items_total)`` after each shard."""


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


def _check_out(out: Path, config: ScanConfig, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file", hint="give a directory")
    if not out.exists() or not any(out.iterdir()):
        return
    if not resume:
        raise UserError(
            f"{out} is not empty",
            hint="pass --resume to continue the run there, or choose a new --out",
        )
    try:
        previous = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{out} holds no scan run to resume", hint="choose a new --out") from None
    if previous.get("config_digest") != config.digest:
        old = previous.get("config", {})
        changed = sorted(k for k, v in config.to_dict().items() if old.get(k) != v)
        raise UserError(
            f"{out} holds a run with a different configuration ({', '.join(changed)} changed)",
            hint="rerun with the same options, or without --resume into a new --out",
        )


def _run_pool(
    tasks: list[ShardTask],
    workers: int,
    tick: Callable[[int], None],
) -> list[tuple[int, BaseException]]:
    failures: list[tuple[int, BaseException]] = []
    if workers <= 1 or len(tasks) <= 1:
        try:
            for task in tasks:
                try:
                    rec = process_shard(task)
                except Exception as exc:  # the shard boundary: keep the other shards going
                    failures.append((task.spec.index, exc))
                    continue
                tick(rec["items"])
        finally:
            release()
        return failures
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        futures: dict[Future[dict[str, Any]], ShardTask] = {
            pool.submit(process_shard, t): t for t in tasks
        }
        try:
            for fut in as_completed(futures):
                try:
                    rec = fut.result()
                except Exception as exc:  # the shard boundary, as above
                    failures.append((futures[fut].spec.index, exc))
                    continue
                tick(rec["items"])
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return failures


def _context() -> BaseContext:
    """A fork server that has imported the shard code once, so workers start warm.

    Plain ``fork`` would copy whatever threads the caller runs (a progress bar,
    a web server) mid-state; ``spawn`` would re-import numpy, pyarrow and the
    fingerprinting stack in every worker. Where there is no fork server
    (Windows, macOS defaults aside), ``spawn`` is used.
    """
    if "forkserver" in get_all_start_methods():
        ctx = get_context("forkserver")
        ctx.set_forkserver_preload(["clearance.scan.shard"])
        return ctx
    return get_context("spawn")


def _raise_failures(failures: list[tuple[int, BaseException]], total: int) -> None:
    index, exc = min(failures, key=lambda f: f[0])
    message = f"{len(failures)} of {total} shards failed; shard {index}: {exc}"
    hint = "finished shards are kept: fix the cause and rerun with --resume"
    if isinstance(exc, ClearanceError):
        raise type(exc)(message, hint=hint) from exc
    raise ClearanceError(message, hint=hint) from exc


def _input_digests(spec: InputSpec, records: list[dict[str, Any]]) -> dict[str, str]:
    if spec.kind == "folder":
        out: dict[str, str] = {}
        for rec in records:
            out.update(rec.get("input_digests", {}))
        return dict(sorted(out.items()))
    return {spec.name_of(f): file_sha256(f) for f in spec.files}


def _output_digests(out: Path) -> dict[str, str]:
    names = ["decisions.parquet", "report.json", "report.html", "licenses.json"]
    digests = {n: file_sha256(out / n) for n in names}
    cleared = out / "cleared"
    for f in sorted(p for p in cleared.rglob("*") if p.is_file()):
        digests[f.relative_to(out).as_posix()] = file_sha256(f)
    return digests


def run_scan(
    input: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    registry: str = DEFAULT_REGISTRY,
    purpose: Usage | str = Usage.TRAIN_GENAI,
    mode: Mode | str = Mode.OPT_OUT,
    agent: str = "Clearance",
    web: str = "origin",
    allow_private: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: ProgressFn | None = None,
    index_cache: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
) -> ScanResult:
    """Scan a dataset; see ``clearance.scan.scan`` for the parameters."""
    if engine not in ENGINES:
        raise UserError(f"--engine must be local or ray, not {engine!r}")
    if ray_address is not None and engine != "ray":
        raise UserError("--ray-address needs --engine ray")
    if engine == "ray":
        from clearance.scan.runner_ray import import_ray

        import_ray()  # fail before any work when Ray is missing
    if workers is not None and workers < 1:
        raise UserError("--workers must be at least 1")
    # Loaded (and so checked) before any work; never part of the configuration digest,
    # so a resumed run may sign with the same key, another one, or none.
    signer = None
    if sign_key is not None:
        from clearance.evidence import load_signing_key

        signer = load_signing_key(sign_key)
    config = ScanConfig(
        purpose=parse_purpose(purpose),
        mode=Mode.parse(mode) if isinstance(mode, str) else mode,
        agent=agent,
        web=parse_web(web),
        allow_private=allow_private,
        shard_size=shard_size,
        registry=registry,
    )
    spec = open_input(input)
    shards: list[ShardSpec] = plan_shards(spec, shard_size)
    out_dir = Path(out).resolve()
    with open_store(registry) as store:
        state = store.state_digest()
        config = replace(config, registry_state=state, input_digest=spec.identity())
        _check_out(out_dir, config, resume)
        (out_dir / PARTS_DIR).mkdir(parents=True, exist_ok=True)
        for stale in (out_dir / PARTS_DIR).glob("*.tmp"):  # left by a killed run
            stale.unlink(missing_ok=True)
        write_json(
            out_dir / RUN_FILE,
            {"format_version": 1, "config": config.to_dict(), "config_digest": config.digest},
        )
        meta = index_meta(out_dir / INDEX_DIR)
        if meta is None or meta.get("registry_state") != state:
            cache = Path(index_cache) if index_cache else None
            meta = indexcache.restore(cache, state, out_dir / INDEX_DIR) if cache else None
            if meta is None:
                meta = build_index(store, out_dir / INDEX_DIR, state)
                if cache is not None:
                    indexcache.store(cache, state, out_dir / INDEX_DIR)

    total = sum(s.size for s in shards)
    pending = [
        ShardTask(s, str(out_dir), config)
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

    if engine == "ray":
        from clearance.scan.runner_ray import run_ray

        failures = run_ray(pending, out_dir / INDEX_DIR, workers, ray_address, tick)
    else:
        failures = _run_pool(pending, workers or os.cpu_count() or 1, tick)
    if failures:
        _raise_failures(failures, len(shards))
    records: list[dict[str, Any]] = []
    for s in shards:
        rec = load_record(out_dir, s.index, config.digest)
        if rec is None:  # written moments ago; vanished or changed under us
            raise ClearanceError(f"shard {s.index} record is missing", hint="rerun with --resume")
        records.append(rec)
    resumed = len(shards) - len(pending)
    return _finish(out_dir, spec, config, records, meta, resumed, engine, signer)


def _finish(
    out: Path,
    spec: InputSpec,
    config: ScanConfig,
    records: list[dict[str, Any]],
    meta: dict[str, Any] | None,
    resumed: int,
    engine: str = "local",
    signer: Ed25519PrivateKey | None = None,
) -> ScanResult:
    parts = out / PARTS_DIR
    rows = assemble_decisions(parts, records, out / "decisions.parquet")
    assemble(spec.kind, spec.root, records, parts, out / "cleared")
    cfg = config.to_dict()
    report = build_report(rows, cfg)
    licenses = build_licenses(rows, config.purpose.value)
    write_json(out / "report.json", report)
    write_json(out / "licenses.json", licenses)
    write_text(out / "report.html", render_scan_report(report, licenses))
    from clearance.evidence import attest, merkle_section

    manifest = build_manifest(
        {**cfg, "input": str(spec.root), "input_kind": spec.kind, "engine": engine},
        registry_state=config.registry_state,
        inputs=_input_digests(spec, records),
        outputs=_output_digests(out),
        shards=records,
        index=meta,
        merkle=merkle_section(out / "decisions.parquet", records),
    )
    write_json(out / "manifest.json", attest(manifest, signer))
    return ScanResult(out, report, len(records), resumed)

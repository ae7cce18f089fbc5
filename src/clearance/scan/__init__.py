"""The dataset scan: which items of a dataset may be used for a purpose, and why.

``scan`` reads a dataset (folder, Parquet/JSONL/CSV, WebDataset tars),
matches every item against the registry (SHA-256, PDQ, text containment,
URL/prefix/domain), reads the file's embedded signals and the web's opt-out
files for URL rows, resolves the evidence for the purpose and mode, and
writes ``decisions.parquet``, ``cleared/``, ``licenses.json``,
``report.json`` and ``manifest.json`` into the output directory. The work is
done in shards that can be resumed after a crash (see docs/scan.md).

Why this module is callable: ``clearance.scan`` names both this package and
the public function. Once the package is imported, Python binds the
attribute ``clearance.scan`` to the module, which would shadow the function;
making the module itself callable (it forwards to ``scan``) keeps
``clearance.scan(input, out)`` working whatever was imported first.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from clearance.core.policy import Mode
from clearance.core.usage import Usage
from clearance.registry.engine import DEFAULT_REGISTRY
from clearance.scan.config import DEFAULT_SHARD_SIZE, FORMAT_VERSION, ScanConfig
from clearance.scan.runner import ProgressFn, ScanResult, run_scan

__all__ = ["DEFAULT_SHARD_SIZE", "FORMAT_VERSION", "ScanConfig", "ScanResult", "scan"]


def scan(
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
    """Scan ``input`` into the directory ``out``; the same as ``clearance scan``.

    ``purpose``: train-genai (default), train-ai, ai-input, search or tdm.
    ``mode``: opt-out (unknown is allowed) or opt-in (only explicit allows).
    ``web``: origin (site-level files), head (plus a HEAD per URL) or off.
    ``engine``: local (a process pool) or ray (Ray Data; a local Ray started
    for the run, or the cluster at ``ray_address``). ``workers``: processes
    of the local engine (default: every core; 1 runs in this process), or
    Ray actors. ``resume`` continues an interrupted run in ``out``.
    ``sign_key``: an Ed25519 private key file (``clearance keys generate``);
    the manifest's root statement is then signed (see docs/compliance.md).
    Raises ``UserError`` for a bad input or a non-empty ``out`` without ``resume``.
    """
    return run_scan(
        input,
        out,
        registry=registry,
        purpose=purpose,
        mode=mode,
        agent=agent,
        web=web,
        allow_private=allow_private,
        engine=engine,
        ray_address=ray_address,
        workers=workers,
        resume=resume,
        shard_size=shard_size,
        progress=progress,
        index_cache=index_cache,
        sign_key=sign_key,
    )


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls ``scan``."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScanResult:
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

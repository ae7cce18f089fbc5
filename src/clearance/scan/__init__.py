"""The dataset scan: which items of a dataset may be used for a purpose, and why.

``scan`` reads a dataset (folder, Parquet/JSONL/CSV, WebDataset tars, a
Hugging Face folder), matches every item against the registry with the
matching cascade the guard shares (``clearance.matching``: identifiers, PDQ,
regions, embeddings, text containment, audio, video), reads the file's
embedded signals and the web's opt-out files for URL rows, resolves the
evidence for the purpose and mode, and writes ``decisions.parquet``,
``cleared/``, ``licenses.json``, ``report.json`` and ``manifest.json`` into
the output directory. The work is
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

from clearance.scan.config import DEFAULT_SHARD_SIZE, FORMAT_VERSION, ScanConfig
from clearance.scan.runner import ProgressFn, ScanResult, run_scan

__all__ = ["DEFAULT_SHARD_SIZE", "FORMAT_VERSION", "ScanConfig", "ScanResult", "scan"]


def scan(
    input: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: ScanConfig | None = None,
    *,
    resume: bool = False,
    progress: ProgressFn | None = None,
    **options: Any,
) -> ScanResult:
    """Scan ``input`` into the directory ``out``; the same as ``clearance scan``.

    Give a ``ScanConfig``, or its fields as keyword arguments (``registry``,
    ``purpose``: train-genai, train-ai, ai-input, search or tdm; ``mode``:
    opt-out or opt-in; ``web``: origin, head or off; ``match``: exact, pdq,
    regions or embedding; ``licensee``; ``base_dir``; ``engine``: local or
    ray; ``workers``; ``ray_address``; ``shard_size``; ``index_cache``;
    ``sign_key``: an Ed25519 private key file from ``clearance keys generate``,
    which signs the manifest's root statement; ...), which override the
    config's. ``resume`` continues an interrupted run in ``out``. Raises
    ``UserError`` for a bad input or option, or a non-empty ``out`` without
    ``resume``.
    """
    from clearance.scan.batch import scan_config

    return run_scan(input, out, scan_config(config, **options), resume=resume, progress=progress)


class _CallableModule(types.ModuleType):
    """This package's module type: calling it calls ``scan``."""

    def __call__(self, *args: Any, **kwargs: Any) -> ScanResult:
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

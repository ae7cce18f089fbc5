"""Reuse a run's registry index across runs against the same registry state.

Why: a scan builds its indexes from the whole registry before the first item
(about 3 s for a million image fingerprints). Dataset builders scan many
datasets, or the same one again, against a registry that has not changed;
with ``index_cache`` (``--index-cache DIR``) the first run stores its
``.index/`` under ``DIR/<registry state>/`` and later runs hard-link (or
copy) it instead of rebuilding.

Safety: an entry is used only when it holds every file of the index
(``matching.index.index_files``) and its ``index.json`` names the same key:
the registry state (which changes with every audited registry change) and
the match level the index was built for. Entries are written to a temporary
directory and renamed into place, so a killed run leaves no half entry.
Only the newest ``KEEP`` entries are kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from clearance.matching.index import index_files, index_meta

KEEP = 4


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(src, dst)


def _entry(cache: Path, key: str) -> Path:
    return cache / hashlib.sha256(key.encode()).hexdigest()[:32]


def restore(cache: Path, key: str, index_dir: Path) -> dict[str, Any] | None:
    """Fill ``index_dir`` from the cache entry for ``key``; its metadata, or None on a miss."""
    entry = _entry(cache, key)
    meta = index_meta(entry)
    if meta is None or meta.get("cache_key") != key:
        return None
    index_dir.mkdir(parents=True, exist_ok=True)
    for source in index_files(entry):
        target = index_dir / source.name
        target.unlink(missing_ok=True)
        _link_or_copy(source, target)
    os.utime(entry)  # recently used: kept longest
    return meta


def store(cache: Path, key: str, index_dir: Path) -> None:
    """Save a freshly built ``index_dir`` as the entry for ``key`` (no-op if one exists)."""
    entry = _entry(cache, key)
    if index_meta(entry) is not None:
        return
    shutil.rmtree(entry, ignore_errors=True)  # a damaged entry: replaced
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{entry.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for source in index_files(index_dir):
        _link_or_copy(source, tmp / source.name)
    try:
        tmp.rename(entry)
    except OSError:  # another run stored it first
        shutil.rmtree(tmp, ignore_errors=True)
    entries = sorted(
        (p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
    for old in entries[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)

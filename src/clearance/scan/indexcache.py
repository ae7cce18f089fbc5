"""Reuse a run's registry index across runs against the same registry state.

Why: a scan builds its indexes from the whole registry before the first item
(about 3 s for a million image fingerprints). Dataset builders scan many
datasets, or the same one again, against a registry that has not changed;
with ``index_cache`` (``--index-cache DIR``) the first run stores its
``.index/`` under ``DIR/<registry state>/`` and later runs hard-link (or
copy) it instead of rebuilding.

Safety: an entry is used only when it holds every ``INDEX_FILES`` member and
its ``index.json`` names the same registry state (the state digest changes
with every audited registry change). Entries are written to a temporary
directory and renamed into place, so a killed run leaves no half entry.
Only the newest ``KEEP`` entries are kept.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from clearance.scan.matching import INDEX_FILES, index_meta

KEEP = 4


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(src, dst)


def restore(cache: Path, state: str, index_dir: Path) -> dict[str, Any] | None:
    """Fill ``index_dir`` from the cache entry for ``state``; its metadata, or None on a miss."""
    entry = cache / state[:32]
    meta = index_meta(entry)
    if meta is None or meta.get("registry_state") != state:
        return None
    index_dir.mkdir(parents=True, exist_ok=True)
    for name in INDEX_FILES:
        target = index_dir / name
        target.unlink(missing_ok=True)
        _link_or_copy(entry / name, target)
    os.utime(entry)  # recently used: kept longest
    return meta


def store(cache: Path, state: str, index_dir: Path) -> None:
    """Save a freshly built ``index_dir`` as the entry for ``state`` (no-op if one exists)."""
    entry = cache / state[:32]
    if index_meta(entry) is not None:
        return
    shutil.rmtree(entry, ignore_errors=True)  # a damaged entry: replaced
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{state[:32]}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in INDEX_FILES:
        _link_or_copy(index_dir / name, tmp / name)
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

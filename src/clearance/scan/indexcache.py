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

The cache may be an object-store URI (``--index-cache s3://bucket/index``):
the one home of the index for drivers that come and go (a job's pod, a
fresh head node). There an entry's files are uploaded under their final keys
and ``index.json`` last, so an entry without it is never read; restoring
downloads the entry and checks it as a local one. Old remote entries are
left to the bucket's lifecycle rules.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from clearance.core.storage import Location, is_uri
from clearance.matching.index import META, index_files, index_meta

KEEP = 4


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(src, dst)


def _entry(cache: Path, key: str) -> Path:
    return cache / hashlib.sha256(key.encode()).hexdigest()[:32]


def restore(cache: Path | str, key: str, index_dir: Path) -> dict[str, Any] | None:
    """Fill ``index_dir`` from the cache entry for ``key``; its metadata, or None on a miss."""
    if is_uri(cache):
        return _restore_remote(Location(cache, what="--index-cache"), key, index_dir)
    cache = Path(cache)
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


def store(cache: Path | str, key: str, index_dir: Path) -> None:
    """Save a freshly built ``index_dir`` as the entry for ``key`` (no-op if one exists)."""
    if is_uri(cache):
        _store_remote(Location(cache, what="--index-cache"), key, index_dir)
        return
    cache = Path(cache)
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


def _entry_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _restore_remote(cache: Location, key: str, index_dir: Path) -> dict[str, Any] | None:
    entry = _entry_name(key)
    names = [n.split("/", 1)[1] for n in cache.files(entry)]
    if META not in names:
        return None
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=index_dir.parent, prefix=".index-cache.") as tmp:
        root = Path(tmp)
        try:
            for name in names:
                cache.get(f"{entry}/{name}", root / name)
        except (OSError, ValueError):  # a hostile or vanished name: a miss
            return None
        meta = index_meta(root)
        if meta is None or meta.get("cache_key") != key:
            return None
        index_dir.mkdir(parents=True, exist_ok=True)
        for source in index_files(root):
            os.replace(source, index_dir / source.name)
    return meta


def _store_remote(cache: Location, key: str, index_dir: Path) -> None:
    entry = _entry_name(key)
    if cache.exists(f"{entry}/{META}"):
        return
    files = index_files(index_dir)
    for source in files:  # the metadata last: an entry without it is never read
        if source.name != META:
            cache.put(source, f"{entry}/{source.name}")
    cache.put(index_dir / META, f"{entry}/{META}")

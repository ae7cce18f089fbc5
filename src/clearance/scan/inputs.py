"""Recognising a scan's INPUT and cutting it into shards.

A dataset arrives as a folder of files, as Parquet/JSONL/CSV tables (one file
or a glob), as WebDataset ``.tar`` shards (img2dataset's two output formats
among them), or as a Hugging Face ``save_to_disk`` folder (kind ``hf``: its
Arrow stream files, read directly, without the ``datasets`` package).

This module only *plans*: it checks that the input is a dataset we
understand (failing early with an error that names what was expected), and
returns ``ShardSpec`` values small enough to pickle to a worker, which reads
its own slice (``readers``). Planning reads metadata, not content: Parquet
footers, line offsets of JSONL, CSV record counts, tar member names, Arrow
row counts.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance.core.errors import InputNotFound, UnsupportedInput, UserError

USABLE_COLUMNS = ("url", "path", "text", "image")
TABLE_SUFFIXES = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
TAR_SUFFIXES = (".tar",)
_EXPECTED = (
    "a folder of files, a .parquet/.jsonl/.csv file (or a glob of them) with a url, path, "
    "text or image column, WebDataset .tar shards, or a Hugging Face save_to_disk folder"
)
HF_STATE = "state.json"
HF_META_FILES = ("dataset_info.json", "dataset_dict.json", HF_STATE)


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """One unit of work: a slice of one input file, or a list of files of a folder.

    ``name`` is the input file's path relative to the input root (it names the
    cleared output and feeds the stable item ids); ``start``/``stop`` are row
    (or tar sample) numbers; ``offset`` is the byte offset of row ``start`` in a
    JSONL file; ``members`` are the relative paths of a folder shard.
    """

    index: int
    kind: str
    file: str
    name: str
    start: int = 0
    stop: int = 0
    offset: int = 0
    members: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.members) if self.kind == "folder" else self.stop - self.start


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A recognised input: its kind, its root and its files (absolute, sorted)."""

    kind: str
    root: Path
    files: tuple[Path, ...]

    def name_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def identity(self) -> str:
        """A digest of the input's file names, sizes and modification times (cheap to compute)."""
        h = hashlib.sha256(self.kind.encode())
        for f in self.files:
            st = f.stat()
            h.update(f"\0{self.name_of(f)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        return h.hexdigest()


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _kind_of(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in TAR_SUFFIXES:
        return "webdataset"
    return TABLE_SUFFIXES.get(suffix)


def _hf_dataset(path: Path) -> InputSpec:
    """A ``save_to_disk`` folder: one Dataset (state.json) or a DatasetDict (one per split)."""
    files: list[Path] = []
    states = sorted(p for p in path.rglob(HF_STATE) if not _is_hidden(p.relative_to(path)))
    if not states:
        raise UnsupportedInput(
            f"{path} looks like a Hugging Face dataset but has no {HF_STATE}",
            hint="save it with Dataset.save_to_disk or DatasetDict.save_to_disk",
        )
    for state_file in states:
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
            names = [d["filename"] for d in state["_data_files"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnsupportedInput(f"{state_file} is not a readable state file: {exc}") from None
        for name in names:
            f = state_file.parent / name
            if not f.is_file():
                raise InputNotFound(f"{f} (named in {state_file.name}) does not exist")
            files.append(f)
    spec = InputSpec("hf", path, tuple(files))
    for f in spec.files:
        _check_columns("hf", f)
    return spec


def _folder(path: Path) -> InputSpec:
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        return _hf_dataset(path)
    files = tuple(
        sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(path)))
    )
    if not files:
        raise UserError(f"{path} holds no files to scan", hint=f"expected {_EXPECTED}")
    return InputSpec("folder", path, files)


def open_input(text: str | os.PathLike[str]) -> InputSpec:
    """Recognise ``text`` (a folder, a file or a glob) or raise a ``UserError`` saying why."""
    raw = os.fspath(text)
    if any(ch in raw for ch in "*?["):
        matches = sorted(Path(m).resolve() for m in glob.glob(raw, recursive=True))
        files = [m for m in matches if m.is_file()]
        if not files:
            raise UserError(f"no files match {raw!r}", hint=f"expected {_EXPECTED}")
    else:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputNotFound(f"no such file or directory: {raw}", hint=f"expected {_EXPECTED}")
        path = path.resolve()
        if path.is_dir():
            return _folder(path)
        files = [path]
    kinds = {_kind_of(f) for f in files}
    if None in kinds:
        bad = next(f for f in files if _kind_of(f) is None)
        raise UnsupportedInput(
            f"cannot scan {bad.name}: unknown file type", hint=f"expected {_EXPECTED}"
        )
    if len(kinds) > 1:
        raise UserError(
            f"{raw!r} mixes input formats ({', '.join(sorted(str(k) for k in kinds))})",
            hint="scan one format at a time",
        )
    root = Path(os.path.commonpath([f.parent for f in files]))
    spec = InputSpec(str(kinds.pop()), root, tuple(files))
    for f in spec.files:
        _check_columns(spec.kind, f)
    return spec


def _check_columns(kind: str, path: Path) -> None:
    if kind == "webdataset":
        return
    columns = _columns(kind, path)
    if columns is not None and not set(columns) & set(USABLE_COLUMNS):
        have = ", ".join(columns) or "none"
        raise UserError(
            f"{path.name} has none of the columns {', '.join(USABLE_COLUMNS)} (it has: {have})",
            hint="rename the column holding the URL, file path, text or image bytes",
        )


def _columns(kind: str, path: Path) -> list[str] | None:
    """The column names of a table file; None when it has no rows to tell (empty JSONL)."""
    if kind == "hf":
        try:
            return list(read_arrow_stream(path).schema.names)
        except (OSError, ValueError) as exc:
            raise UnsupportedInput(f"{path.name} is not a readable Arrow file: {exc}") from None
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
            raise UnsupportedInput(f"{path.name} is not a readable Parquet file: {exc}") from None
    if kind == "csv":
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            return next(csv.reader(fh), [])
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    doc = json.loads(line)
                except ValueError:
                    raise UnsupportedInput(f"{path.name}: first row is not JSON") from None
                if not isinstance(doc, dict):
                    raise UnsupportedInput(f"{path.name}: rows must be JSON objects")
                return list(doc)
    return None


def plan_shards(spec: InputSpec, shard_size: int) -> list[ShardSpec]:
    """Cut the input into shards in a deterministic order (the same input gives the same plan)."""
    if shard_size < 1:
        raise UserError("shard size must be at least 1")
    shards: list[ShardSpec] = []
    if spec.kind == "folder":
        rels = [spec.name_of(f) for f in spec.files]
        for start in range(0, len(rels), shard_size):
            members = tuple(rels[start : start + shard_size])
            shards.append(ShardSpec(len(shards), "folder", str(spec.root), "", members=members))
        return shards
    for f in spec.files:
        name = spec.name_of(f)
        if spec.kind == "webdataset":
            shards.append(ShardSpec(len(shards), "webdataset", str(f), name, 0, _tar_samples(f)))
            continue
        for start, stop, offset in _row_ranges(spec.kind, f, shard_size):
            shards.append(ShardSpec(len(shards), spec.kind, str(f), name, start, stop, offset))
    return shards


def read_arrow_stream(path: Path | str) -> Any:
    """The ``pyarrow.Table`` in an Arrow IPC stream file (how ``datasets`` saves), memory-mapped."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()


def _row_ranges(kind: str, path: Path, size: int) -> list[tuple[int, int, int]]:
    if kind == "hf":
        rows = read_arrow_stream(path).num_rows
        return [(s, min(s + size, rows), 0) for s in range(0, rows, size)]
    if kind == "parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
        return [(s, min(s + size, rows), 0) for s in range(0, rows, size)]
    if kind == "csv":
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            rows = max(sum(1 for _ in csv.reader(fh)) - 1, 0)
        return [(s, min(s + size, rows), 0) for s in range(0, rows, size)]
    starts: list[tuple[int, int]] = []
    rows = 0
    offset = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                if rows % size == 0:
                    starts.append((rows, offset))
                rows += 1
            offset += len(line)
    return [(s, min(s + size, rows), off) for s, off in starts]


def sample_key(member: str) -> tuple[str, str]:
    """WebDataset grouping: ``dir/KEY.ext.more`` is sample ``dir/KEY``, field ``ext.more``."""
    head, _, base = member.rpartition("/")
    key, _, ext = base.partition(".")
    return (f"{head}/{key}" if head else key), ext.lower()


def _tar_samples(path: Path) -> int:
    try:
        with tarfile.open(path) as tar:
            keys = dict.fromkeys(sample_key(m.name)[0] for m in tar if m.isfile())
    except (tarfile.TarError, OSError) as exc:
        raise UnsupportedInput(f"{path.name} is not a readable tar file: {exc}") from None
    return len(keys)

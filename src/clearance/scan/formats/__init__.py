"""Scan inputs: recognising INPUT, and one class per format (folder, tables, WebDataset, HF).

``open_input`` checks that the input is a dataset we understand, failing
early with an error that names what was expected, and returns an
``InputSpec``: the format object (small and picklable: it travels to every
worker) and the input's files. Each format class plans shards, reads them
and writes its cleared parts (``formats.base`` describes the contract).
"""

from __future__ import annotations

import glob
import hashlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

from clearance.core.errors import InputNotFound, UnsupportedInput, UserError
from clearance.core.storage import check_uri, filesystem, is_uri, local_path, storage_error
from clearance.scan.formats.base import (
    MAX_ITEM_BYTES,
    InputFormat,
    Item,
    ShardData,
    ShardSpec,
    decode_text,
    item_id,
)
from clearance.scan.formats.columns import ROLES, ColumnMap, parse_columns
from clearance.scan.formats.folder import FolderInput, folder_files, is_hidden
from clearance.scan.formats.hf import HfInput, hf_files, is_hf_folder, read_arrow_stream
from clearance.scan.formats.rows import USABLE_COLUMNS, row_item
from clearance.scan.formats.tables import CsvInput, JsonlInput, ParquetInput
from clearance.scan.formats.webdataset import WebDatasetInput, sample_key

EXPECTED = (
    "a folder of files, a .parquet/.jsonl/.csv file (or a glob of them) with a url, path, "
    "text or image column, WebDataset .tar shards, or a Hugging Face save_to_disk folder"
)
FORMATS: dict[str, type[InputFormat]] = {
    f.kind: f for f in (FolderInput, ParquetInput, JsonlInput, CsvInput, WebDatasetInput, HfInput)
}
SUFFIXES = {
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tar": "webdataset",
}


@dataclass(frozen=True)
class InputSpec:
    """A recognised input: its format object and its files (absolute, sorted)."""

    format: InputFormat
    files: tuple[PurePath, ...]
    """Local paths, or the object store's keys (``bucket/prefix/file``) for a URI input."""

    @property
    def kind(self) -> str:
        return self.format.kind

    @property
    def root(self) -> PurePath:
        return self.format.root

    def name_of(self, path: PurePath) -> str:
        return path.relative_to(self.root).as_posix()

    def identity(self) -> str:
        """A digest of the input's file names, sizes and modification times (cheap to compute)."""
        h = hashlib.sha256(self.kind.encode())
        for f in self.files:
            h.update(f"\0{self.name_of(f)}\0{self.format.identity(f)}".encode())
        return h.hexdigest()

    def plan(self, shard_size: int) -> list[ShardSpec]:
        if shard_size < 1:
            raise UserError("shard size must be at least 1")
        return self.format.plan(self.files, shard_size)


def _base(base_dir: str | os.PathLike[str] | None, root: Path) -> Path:
    if not base_dir:
        return root
    base = Path(base_dir).expanduser()
    if not base.is_dir():
        raise InputNotFound(f"--base-dir {base_dir} is not a directory")
    return base.resolve()


def open_input(
    text: str | os.PathLike[str],
    base_dir: str | os.PathLike[str] | None = None,
    columns: ColumnMap | None = None,
) -> InputSpec:
    """Recognise ``text`` (a folder, a file or a glob) or raise a ``UserError`` saying why.

    ``columns``: which table columns play which roles (default: the known layouts).
    """
    raw = os.fspath(text)
    if is_uri(raw):
        return _open_uri(raw, base_dir, columns)
    raw = os.fspath(local_path(raw))
    if any(ch in raw for ch in "*?["):
        matches = sorted(Path(m).resolve() for m in glob.glob(raw, recursive=True))
        files = [m for m in matches if m.is_file()]
        if not files:
            raise UserError(f"no files match {raw!r}", hint=f"expected {EXPECTED}")
    else:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputNotFound(f"no such file or directory: {raw}", hint=f"expected {EXPECTED}")
        path = path.resolve()
        if path.is_dir():
            base = _base(base_dir, path)
            if is_hf_folder(path):
                hf = HfInput(path, base, columns)
                spec = InputSpec(hf, hf_files(path))
            else:
                spec = InputSpec(FolderInput(path, base), folder_files(path))
            spec.format.check(spec.files)
            return spec
        files = [path]
    kind = _kind_of(files, raw)
    root = Path(os.path.commonpath([f.parent for f in files]))
    spec = InputSpec(FORMATS[kind](root, _base(base_dir, root), columns), tuple(files))
    spec.format.check(spec.files)
    return spec


def _kind_of(files: list[Path] | list[PurePosixPath], raw: str) -> str:
    """The one format of ``files``, by suffix; a ``UserError`` for an unknown or a mix."""
    kinds = {SUFFIXES.get(f.suffix.lower()) for f in files}
    if None in kinds:
        bad = next(f for f in files if SUFFIXES.get(f.suffix.lower()) is None)
        raise UnsupportedInput(
            f"cannot scan {bad.name}: unknown file type", hint=f"expected {EXPECTED}"
        )
    if len(kinds) > 1:
        raise UserError(
            f"{raw!r} mixes input formats ({', '.join(sorted(str(k) for k in kinds))})",
            hint="scan one format at a time",
        )
    return str(kinds.pop())


def _open_uri(
    raw: str, base_dir: str | os.PathLike[str] | None, columns: ColumnMap | None
) -> InputSpec:
    """An input on object storage (``s3://``, ``gs://``, ``hf://``...): a file, a glob of
    files or a folder, read through the scheme's fsspec file system (``core.storage``)."""
    if base_dir:
        raise UserError("--base-dir applies to a local input only")
    uri = check_uri(raw, what="INPUT")
    scheme, key = uri.split("://", 1)
    fs = filesystem(scheme)
    try:
        if any(ch in key for ch in "*?["):
            keys = [str(k) for k in fs.glob(key)]
            files = sorted(PurePosixPath(k) for k in keys if fs.isfile(k))
            if not files:
                raise UserError(f"no files match {uri!r}", hint=f"expected {EXPECTED}")
        elif fs.isdir(key):
            root = PurePosixPath(key)
            if any(
                fs.exists(f"{key}/{name}") for name in ("dataset_info.json", "dataset_dict.json")
            ):
                raise UnsupportedInput(
                    f"{uri} is a Hugging Face save_to_disk folder, read from a local path only",
                    hint="copy it to local disk, or scan its Parquet files (hf://datasets/...)",
                )
            found = sorted(PurePosixPath(str(k)) for k in fs.find(key))
            folder = FolderInput(root, None, columns, protocol=scheme)
            spec = InputSpec(folder, tuple(f for f in found if not is_hidden(f.relative_to(root))))
            spec.format.check(spec.files)
            return spec
        elif fs.isfile(key):
            files = [PurePosixPath(key)]
        else:
            raise InputNotFound(f"no such file or folder: {uri}", hint=f"expected {EXPECTED}")
    except (UserError, InputNotFound, UnsupportedInput):
        raise
    except Exception as exc:  # the store's own errors (no bucket, refused credentials)
        raise storage_error(exc, uri) from None
    kind = _kind_of(files, uri)
    root = PurePosixPath(posixpath.commonpath([str(f.parent) for f in files]))
    spec = InputSpec(FORMATS[kind](root, None, columns, protocol=scheme), tuple(files))
    spec.format.check(spec.files)
    return spec


__all__ = [
    "EXPECTED",
    "FORMATS",
    "MAX_ITEM_BYTES",
    "ROLES",
    "USABLE_COLUMNS",
    "ColumnMap",
    "InputFormat",
    "InputSpec",
    "Item",
    "ShardData",
    "ShardSpec",
    "decode_text",
    "item_id",
    "open_input",
    "parse_columns",
    "read_arrow_stream",
    "row_item",
    "sample_key",
]

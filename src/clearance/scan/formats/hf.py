"""A Hugging Face ``save_to_disk`` folder: one item per row of its Arrow files.

A ``Dataset`` folder holds ``state.json`` naming its Arrow stream files; a
``DatasetDict`` folder holds one such folder per split. They are read with
pyarrow directly (the ``datasets`` package is not needed), rows as for
tables (``formats.rows``), a ``datasets.Image`` column being the
``{"bytes", "path"}`` struct.

``state.json`` is data, and its file names are hostile: each must be a
string naming a file inside the split's own folder (no absolute name, no
``..``, no link out of it), or the input is refused before anything is read
or written. ``cleared/`` is again a ``save_to_disk`` folder: the Arrow files
filtered, the JSON metadata copied, each ``state.json`` with a new
``_fingerprint`` (the cleared dataset is not the input dataset, and must not
share its ``datasets`` cache files).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any, ClassVar

from clearance.core.errors import InputNotFound, UnsupportedInput
from clearance.core.files import atomic_path, atomic_write_text, confined
from clearance.scan.formats.base import ShardData, ShardSpec
from clearance.scan.formats.folder import is_hidden
from clearance.scan.formats.tables import TableInput, table_rows

HF_STATE = "state.json"
HF_META_FILES = ("dataset_info.json", "dataset_dict.json", HF_STATE)


def is_hf_folder(path: Path) -> bool:
    return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()


def read_arrow_stream(path: Path | str) -> Any:
    """The ``pyarrow.Table`` in an Arrow IPC stream file (how ``datasets`` saves), memory-mapped."""
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_stream(source).read_all()


def _write_stream(table: Any, dest: Path) -> None:
    import pyarrow as pa

    with (
        atomic_path(dest) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table)


def _state_files(root: Path, state_file: Path) -> list[Path]:
    """The data files a ``state.json`` names, each checked to lie in its folder."""
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        entries = state["_data_files"]
        if not isinstance(entries, list):
            raise TypeError("_data_files is not a list")
        names = [d["filename"] for d in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnsupportedInput(f"{state_file} is not a readable state file: {exc}") from None
    files = []
    for name in names:
        f = confined(state_file.parent, name, what=f"data file name in {state_file}")
        if not f.is_file():
            raise InputNotFound(f"{f} (named in {state_file.name}) does not exist")
        files.append(f)
    return files


def hf_files(root: Path) -> tuple[Path, ...]:
    """Every Arrow file named by the folder's ``state.json`` files, in order."""
    states = sorted(p for p in root.rglob(HF_STATE) if not is_hidden(p.relative_to(root)))
    if not states:
        raise UnsupportedInput(
            f"{root} looks like a Hugging Face dataset but has no {HF_STATE}",
            hint="save it with Dataset.save_to_disk or DatasetDict.save_to_disk",
        )
    return tuple(f for state in states for f in _state_files(root, state))


class HfInput(TableInput):
    kind: ClassVar[str] = "hf"
    part_suffix: ClassVar[str | None] = ".arrow"
    owns_tree: ClassVar[bool] = True

    def column_names(self, path: PurePath) -> list[str] | None:
        try:
            return list(read_arrow_stream(str(path)).schema.names)
        except (OSError, ValueError) as exc:
            raise UnsupportedInput(f"{path.name} is not a readable Arrow file: {exc}") from None

    def row_count(self, path: PurePath) -> int:
        return int(read_arrow_stream(str(path)).num_rows)

    def read_table(self, spec: ShardSpec) -> Any:
        """The shard's rows as an Arrow table (every column), without items."""
        return read_arrow_stream(spec.file).slice(spec.start, spec.size)

    def read(self, spec: ShardSpec) -> ShardData:
        table = self.read_table(spec)
        rows = table_rows(table, self.columns)
        return ShardData(spec, self.items(spec, rows, by_role=True), raw=table)

    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        import pyarrow as pa

        _write_stream(data.raw.filter(pa.array(list(keep), pa.bool_())), dest)
        return []

    def join(self, files: list[Path], target: Path) -> None:
        import pyarrow as pa

        _write_stream(pa.concat_tables([read_arrow_stream(f) for f in files]), target)

    def assemble(self, records: Sequence[dict[str, Any]], parts: Path, staging: Path) -> None:
        super().assemble(records, parts, staging)
        self._copy_metadata(staging)

    def _copy_metadata(self, staging: Path) -> None:
        """Copy dataset_info/dataset_dict/state.json; give each state a new ``_fingerprint``."""
        root = Path(self.root)  # a save_to_disk folder is read from a local path only
        for name in HF_META_FILES:
            for src in sorted(root.rglob(name)):
                rel = src.relative_to(root)
                if is_hidden(rel):
                    continue
                target = confined(staging, rel.as_posix(), what="metadata file")
                target.parent.mkdir(parents=True, exist_ok=True)
                if name != HF_STATE:
                    shutil.copy2(src, target)
                    continue
                state = json.loads(src.read_text(encoding="utf-8"))
                digest = hashlib.sha256()
                for data_file in _state_files(root, src):
                    part = confined(
                        staging, data_file.relative_to(root).as_posix(), what="data file"
                    )
                    if not part.is_file():  # an input file with no rows had no shard
                        part.parent.mkdir(parents=True, exist_ok=True)
                        _write_stream(read_arrow_stream(data_file).schema.empty_table(), part)
                    digest.update(part.read_bytes())
                state["_fingerprint"] = digest.hexdigest()[:16]
                atomic_write_text(target, json.dumps(state, indent=2, sort_keys=True))


__all__ = ["HF_META_FILES", "HF_STATE", "HfInput", "hf_files", "is_hf_folder", "read_arrow_stream"]

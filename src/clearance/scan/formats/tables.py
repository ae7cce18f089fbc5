"""Tables: Parquet, JSONL and CSV files, one item per row (columns in ``formats.rows``).

``cleared/`` keeps each table's own format: Parquet stays Parquet with every
passthrough column, JSONL keeps the original lines byte for byte, CSV stays
CSV. Each shard writes its part atomically; ``assemble`` joins the parts of
each input file, in shard order, under the file's own relative name.

A ``path`` row's file is part of the cleared dataset too: it is linked (or
copied) into ``cleared/`` at its place under the base directory, and the
row's ``path`` is rewritten, relative to the cleared table, wherever the
value written in the input would not lead there (a link, ``..``, an absolute
path, a base directory above the table's). So ``cleared/`` can be scanned,
copied or shipped as it is: every ``path`` in it names a file in it.

A bad row never fails its shard: a JSONL line that is not JSON (or nests
deeper than ``MAX_JSON_DEPTH``), a CSV record the parser rejects, a row whose
``path`` cannot be read: each becomes an error row. A CSV field may be as
long as ``MAX_ITEM_BYTES`` (a book chapter fits).
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import shutil
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, ClassVar

from clearance.core.errors import UnsupportedInput
from clearance.core.files import atomic_path, confined, within
from clearance.scan.formats.base import (
    MAX_ITEM_BYTES,
    InputFormat,
    Item,
    ShardData,
    ShardSpec,
    item_id,
    json_depth_ok,
)
from clearance.scan.formats.columns import ColumnMap
from clearance.scan.formats.rows import row_item


def allow_long_csv_fields() -> None:
    """Let the csv module read fields up to ``MAX_ITEM_BYTES`` (its default is 131,072)."""
    if csv.field_size_limit() < MAX_ITEM_BYTES:
        csv.field_size_limit(MAX_ITEM_BYTES)


class TableInput(InputFormat):
    """What the three table formats share: planning by rows, items from rows, joined parts."""

    def name_of(self, path: PurePath) -> str:
        return path.relative_to(self.root).as_posix()

    def check(self, files: Sequence[PurePath]) -> None:
        for f in files:
            names = self.column_names(f)
            if names is not None:
                self.columns.check(f.name, names)

    @abstractmethod
    def column_names(self, path: PurePath) -> list[str] | None:
        """The file's column names (None when it has no rows to tell)."""

    @abstractmethod
    def row_count(self, path: PurePath) -> int:
        """How many rows (items) the file holds."""

    def plan(self, files: Sequence[PurePath], shard_size: int) -> list[ShardSpec]:
        shards: list[ShardSpec] = []
        for f in files:
            rows = self.row_count(f)
            for start in range(0, rows, shard_size):
                stop = min(start + shard_size, rows)
                shards.append(
                    ShardSpec(len(shards), self.kind, str(f), self.name_of(f), start, stop)
                )
        return shards

    def items(
        self, spec: ShardSpec, rows: Sequence[dict[str, Any] | str], *, by_role: bool = False
    ) -> list[Item]:
        """Items of ``rows`` keyed by column name, or by role when ``by_role`` (a string is
        the reason the row could not be parsed)."""
        table_dir = self.table_dir(spec)
        captions = self.columns.match_captions
        out = []
        for i, row in enumerate(rows):
            n = spec.start + i
            if isinstance(row, str):
                item = Item(item_id(spec.name, f"row:{n}"), f"{spec.name}#{n}", error=row)
            else:
                row = row if by_role else self.columns.view(row)
                item = row_item(
                    spec.name, n, row, table_dir, Path(self.base_dir), captions=captions
                )
            out.append(item)
        return out

    def cleared_paths(
        self, data: ShardData, keep: Sequence[bool]
    ) -> tuple[dict[int, str], list[str]]:
        """For the kept rows that read a file: the ``path`` value each must have in the cleared
        table (by row, only where it differs from what a row may hold now), and the files to
        place in ``cleared/`` (relative to the base directory, which ``cleared/`` mirrors)."""
        table_dir = PurePosixPath(data.spec.name).parent
        new: dict[int, str] = {}
        files: list[str] = []
        for i, item in data.indexed_items():
            if not keep[i] or item.file is None:
                continue
            real = Path(item.file)
            if not real.is_relative_to(self.base_dir):
                continue
            rel = real.relative_to(self.base_dir).as_posix()
            files.append(rel)
            new[i] = posixpath.relpath(rel, table_dir.as_posix() or ".")
        return new, files

    def assemble(self, records: Sequence[dict[str, Any]], parts: Path, staging: Path) -> None:
        by_name: dict[str, list[Path]] = {}
        for rec in records:
            by_name.setdefault(rec["name"], []).append(parts / rec["cleared_part"])
        for name, files in by_name.items():
            target = confined(staging, name, what="input file name")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.join(files, target)
        for rec in records:  # the files the kept path rows read
            for rel in rec.get("cleared") or ():
                source = (Path(self.base_dir) / rel).resolve()
                if not within(Path(self.base_dir), source) or not source.is_file():
                    continue  # changed since it was read
                target = confined(staging, rel, what="file name")
                if target.exists():  # a file two rows name, or one that is also a table
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)

    @abstractmethod
    def join(self, files: list[Path], target: Path) -> None:
        """Concatenate one input file's shard parts into ``target``."""


_last_groups: list[tuple[tuple[Any, ...], Any]] = []
"""The row groups this process read last: a file's row groups are often larger than a
shard, and a worker usually takes the shards of one row group one after another."""


class ParquetInput(TableInput):
    kind: ClassVar[str] = "parquet"
    part_suffix: ClassVar[str | None] = ".parquet"

    def column_names(self, path: PurePath) -> list[str] | None:
        try:
            return list(self._parquet(str(path)).schema_arrow.names)
        except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
            raise UnsupportedInput(f"{path.name} is not a readable Parquet file: {exc}") from None

    def row_count(self, path: PurePath) -> int:
        return int(self._parquet(str(path)).metadata.num_rows)

    def _parquet(self, file: str) -> Any:
        """The Parquet file (by path locally, through fsspec on object storage)."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(file if self.protocol is None else self.open(file))

    def read(self, spec: ShardSpec) -> ShardData:
        table = self.read_table(spec)
        rows = table_rows(table, self.columns)
        return ShardData(spec, self.items(spec, rows, by_role=True), raw=table)

    def read_table(self, spec: ShardSpec) -> Any:
        """The shard's rows as an Arrow table (every column), without items."""

        pf = self._parquet(spec.file)
        groups: list[int] = []
        first = 0
        row = 0
        for g in range(pf.metadata.num_row_groups):
            n = pf.metadata.row_group(g).num_rows
            if row + n > spec.start and row < spec.stop:
                if not groups:
                    first = row
                groups.append(g)
            row += n
        if not groups:
            return pf.schema_arrow.empty_table().slice(0, 0)
        key = (spec.file, self.identity(PurePath(spec.file)), tuple(groups))
        if _last_groups and _last_groups[0][0] == key:
            table = _last_groups[0][1]
        else:
            table = pf.read_row_groups(groups)
            _last_groups[:] = [(key, table)]
        return table.slice(spec.start - first, spec.stop - spec.start)

    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = data.raw
        new, files = self.cleared_paths(data, keep)
        if new and "path" in table.column_names:
            column = table.column("path")
            values = column.to_pylist()
            changed = {i: v for i, v in new.items() if str(values[i]).strip() != v}
            if changed:
                values = [changed.get(i, v) for i, v in enumerate(values)]
                index = table.column_names.index("path")
                table = table.set_column(index, "path", pa.array(values, type=column.type))
        with atomic_path(dest) as tmp:
            pq.write_table(table.filter(pa.array(list(keep), pa.bool_())), tmp)
        return files

    def join(self, files: list[Path], target: Path) -> None:
        import pyarrow.parquet as pq

        tables = [pq.read_table(f) for f in files]
        with pq.ParquetWriter(target, tables[0].schema) as writer:
            for t in tables:
                writer.write_table(t)


def table_rows(table: Any, columns: ColumnMap | None = None) -> list[dict[str, Any]]:
    """The rows of an Arrow table keyed by role, reading only the columns that play one."""
    roles = (columns or ColumnMap()).roles(table.column_names)
    if not roles:
        return [{} for _ in range(table.num_rows)]
    names = list(roles)
    picked = table.select([roles[r] for r in names]).rename_columns(names)
    rows: list[dict[str, Any]] = picked.to_pylist()
    return rows


class JsonlInput(TableInput):
    kind: ClassVar[str] = "jsonl"
    part_suffix: ClassVar[str | None] = ".jsonl"

    def column_names(self, path: PurePath) -> list[str] | None:
        with self.open(path) as fh:
            for line in fh:
                if line.strip():
                    doc = _json_row(line)
                    if isinstance(doc, str):
                        raise UnsupportedInput(f"{path.name}: first row: {doc}")
                    return list(doc)
        return None

    def row_count(self, path: PurePath) -> int:
        return sum(1 for _ in self._starts(path, 1))

    def _starts(self, path: PurePath, size: int) -> Iterator[tuple[int, int]]:
        """``(row number, byte offset)`` of every ``size``-th non-blank line."""
        rows = offset = 0
        with self.open(path) as fh:
            for line in fh:
                if line.strip():
                    if rows % size == 0:
                        yield rows, offset
                    rows += 1
                offset += len(line)

    def plan(self, files: Sequence[PurePath], shard_size: int) -> list[ShardSpec]:
        shards: list[ShardSpec] = []
        for f in files:
            starts = list(self._starts(f, shard_size))
            total = self.row_count(f) if starts else 0
            for start, offset in starts:
                stop = min(start + shard_size, total)
                shards.append(
                    ShardSpec(len(shards), "jsonl", str(f), self.name_of(f), start, stop, offset)
                )
        return shards

    def read(self, spec: ShardSpec) -> ShardData:
        rows: list[dict[str, Any] | str] = []
        lines: list[bytes] = []
        with self.open(spec.file) as fh:
            fh.seek(spec.offset)
            row_no = spec.start
            while row_no < spec.stop:
                line = fh.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                if not line.endswith(b"\n"):
                    line += b"\n"
                lines.append(line)
                rows.append(_json_row(line))
                row_no += 1
        return ShardData(spec, self.items(spec, rows), raw=lines)

    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        new, files = self.cleared_paths(data, keep)
        lines = list(data.raw)
        for i, value in new.items():  # kept lines stay byte for byte unless a path must change
            doc = json.loads(lines[i])
            if str(doc.get("path", "")).strip() != value:
                doc["path"] = value
                lines[i] = json.dumps(doc, ensure_ascii=False).encode() + b"\n"
        with atomic_path(dest) as tmp, open(tmp, "wb") as fh:
            fh.writelines(line for line, k in zip(lines, keep, strict=True) if k)
        return files

    def join(self, files: list[Path], target: Path) -> None:
        with open(target, "wb") as out:
            for f in files:
                with open(f, "rb") as fh:
                    shutil.copyfileobj(fh, out)


def _json_row(line: bytes) -> dict[str, Any] | str:
    """A JSON object, or the reason the line is not one."""
    if not json_depth_ok(line):
        return "row is JSON nested too deeply"
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return f"row is not JSON: {exc}"
    if not isinstance(doc, dict):
        return "row is not a JSON object"
    return doc


class CsvInput(TableInput):
    kind: ClassVar[str] = "csv"
    part_suffix: ClassVar[str | None] = ".csv"

    def _text(self, path: PurePath) -> Any:
        """The CSV file as text (``csv`` wants ``newline=""``)."""
        return io.TextIOWrapper(self.open(path), encoding="utf-8-sig", errors="replace", newline="")

    def column_names(self, path: PurePath) -> list[str] | None:
        allow_long_csv_fields()
        with self._text(path) as fh:
            try:
                return next(csv.reader(fh), [])
            except csv.Error as exc:
                raise UnsupportedInput(f"{path.name}: unreadable CSV header: {exc}") from None

    def _records(self, path: PurePath) -> Iterator[list[str] | str]:
        """Every record after the header: its fields, or why the parser rejected it."""
        allow_long_csv_fields()
        with self._text(path) as fh:
            reader = csv.reader(fh)
            try:
                next(reader, None)
            except csv.Error:
                return
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield f"CSV record cannot be parsed: {exc}"
                    continue
                yield record

    def row_count(self, path: PurePath) -> int:
        return sum(1 for _ in self._records(path))

    def read(self, spec: ShardSpec) -> ShardData:
        header = self.column_names(PurePath(spec.file)) or []
        records: list[list[str] | str] = []
        for i, record in enumerate(self._records(PurePath(spec.file))):
            if i >= spec.stop:
                break
            if i >= spec.start:
                records.append(record)
        rows: list[dict[str, Any] | str] = [
            r if isinstance(r, str) else dict(zip(header, (v or None for v in r), strict=False))
            for r in records
        ]
        data = ShardData(spec, self.items(spec, rows), raw=records)
        data.header = header
        return data

    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        new, files = self.cleared_paths(data, keep)
        records = list(data.raw)
        if new and "path" in data.header:
            column = data.header.index("path")
            for i, value in new.items():
                record = records[i]
                if isinstance(record, list) and column < len(record):
                    records[i] = [*record[:column], value, *record[column + 1 :]]
        with atomic_path(dest) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(data.header)
            writer.writerows(
                r for r, k in zip(records, keep, strict=True) if k and not isinstance(r, str)
            )
        return files

    def join(self, files: list[Path], target: Path) -> None:
        allow_long_csv_fields()
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for i, f in enumerate(files):
                with open(f, newline="", encoding="utf-8") as fh:
                    rows = csv.reader(fh)
                    header = next(rows, [])
                    if i == 0:
                        writer.writerow(header)
                    writer.writerows(rows)

"""The ``cleared/`` output: the included items, in the input's own format.

A dataset builder wants to train on what was cleared without another
conversion step, so Parquet stays Parquet (every passthrough column kept),
JSONL stays JSONL (the original lines, byte for byte), CSV stays CSV,
WebDataset stays tar (every member of an included sample) and a folder
becomes a folder of hard links (or copies across file systems) at the same
relative paths. Each shard writes its own part atomically; ``assemble``
joins the parts per input file into ``cleared/``, and can be rerun at will.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clearance.scan.inputs import sample_key
from clearance.scan.readers import ShardData

PART_SUFFIX = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv", "webdataset": ".tar"}


def _tmp(path: Path) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def write_part(data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
    """Write the shard's cleared part to ``dest`` atomically; return included folder paths.

    For a folder shard nothing is written: the included relative paths are
    returned and recorded in the shard record instead.
    """
    kind = data.spec.kind
    if kind == "folder":
        return [m for m, k in zip(data.spec.members, keep, strict=True) if k]
    tmp = _tmp(dest)
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(data.table.filter(pa.array(list(keep), pa.bool_())), tmp)
    elif kind == "jsonl":
        with open(tmp, "wb") as fh:
            fh.writelines(line for line, k in zip(data.lines, keep, strict=True) if k)
    elif kind == "csv":
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(data.header)
            writer.writerows(r for r, k in zip(data.records, keep, strict=True) if k)
    else:
        wanted = {s for s, k in zip(data.samples, keep, strict=True) if k}
        _filter_tar(Path(data.spec.file), tmp, wanted)
    os.replace(tmp, dest)
    return []


def _filter_tar(src: Path, dest: Path, keys: set[str]) -> None:
    with tarfile.open(src) as tin, tarfile.open(dest, "w") as tout:
        for member in tin:
            if member.isfile() and sample_key(member.name)[0] in keys:
                fh = tin.extractfile(member)
                tout.addfile(member, io.BytesIO(fh.read() if fh is not None else b""))


def assemble(
    kind: str, root: Path, records: Sequence[dict[str, Any]], parts: Path, out: Path
) -> None:
    """Rebuild ``out`` (``DIR/cleared``) from the shard parts; safe to rerun after a crash."""
    staging = out.with_name(out.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if kind == "folder":
        for rec in records:
            for rel in rec["cleared"]:
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(root / rel, target)
    else:
        by_name: dict[str, list[Path]] = {}
        for rec in records:
            by_name.setdefault(rec["name"], []).append(parts / rec["cleared_part"])
        for name, files in by_name.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            _join(kind, files, target)
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _join(kind: str, files: list[Path], target: Path) -> None:
    if kind == "webdataset":
        _link_or_copy(files[0], target)
    elif kind == "parquet":
        import pyarrow.parquet as pq

        tables = [pq.read_table(f) for f in files]
        writer = pq.ParquetWriter(target, tables[0].schema)
        with writer:
            for t in tables:
                writer.write_table(t)
    elif kind == "jsonl":
        with open(target, "wb") as out:
            for f in files:
                with open(f, "rb") as fh:
                    shutil.copyfileobj(fh, out)
    else:
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for i, f in enumerate(files):
                with open(f, newline="", encoding="utf-8") as fh:
                    rows = csv.reader(fh)
                    header = next(rows, [])
                    if i == 0:
                        writer.writerow(header)
                    writer.writerows(rows)

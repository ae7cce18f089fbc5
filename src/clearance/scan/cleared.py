"""The ``cleared/`` output: the included items, in the input's own format.

A dataset builder wants to train on what was cleared without another
conversion step, so Parquet stays Parquet (every passthrough column kept),
JSONL stays JSONL (the original lines, byte for byte), CSV stays CSV,
WebDataset stays tar (every member of an included sample), a Hugging Face
``save_to_disk`` folder stays one (its Arrow files filtered, its JSON
metadata copied, with a new fingerprint) and a folder
becomes a folder of hard links (or copies across file systems) at the same
relative paths. Each shard writes its own part atomically; ``assemble``
joins the parts per input file into ``cleared/``, and can be rerun at will.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clearance.scan.inputs import sample_key
from clearance.scan.readers import ShardData

PART_SUFFIX = {
    "parquet": ".parquet",
    "jsonl": ".jsonl",
    "csv": ".csv",
    "webdataset": ".tar",
    "hf": ".arrow",
}


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
    elif kind == "hf":
        import pyarrow as pa

        _write_stream(data.table.filter(pa.array(list(keep), pa.bool_())), tmp)
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
    if kind == "hf":
        _copy_hf_metadata(root, staging)
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _write_stream(table: Any, dest: Path) -> None:
    import pyarrow as pa

    with pa.OSFile(str(dest), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def _copy_hf_metadata(root: Path, staging: Path) -> None:
    """Copy dataset_info/dataset_dict/state.json; give each state a new ``_fingerprint``.

    The fingerprint names ``datasets``' cache files; the cleared dataset is a
    different dataset from its input, so it must not share the input's.
    """
    from clearance.scan.inputs import HF_META_FILES, HF_STATE, read_arrow_stream

    for name in HF_META_FILES:
        for src in sorted(root.rglob(name)):
            rel = src.relative_to(root)
            if any(p.startswith(".") for p in rel.parts):
                continue
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if name != HF_STATE:
                shutil.copy2(src, target)
                continue
            state = json.loads(src.read_text(encoding="utf-8"))
            digest = hashlib.sha256()
            for d in state.get("_data_files", []):
                part = staging / rel.parent / d["filename"]
                if not part.is_file():  # an input file with no rows had no shard
                    empty = read_arrow_stream(src.parent / d["filename"]).schema.empty_table()
                    _write_stream(empty, part)
                digest.update(part.read_bytes())
            state["_fingerprint"] = digest.hexdigest()[:16]
            target.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")


def _join(kind: str, files: list[Path], target: Path) -> None:
    if kind == "webdataset":
        _link_or_copy(files[0], target)
    elif kind == "hf":
        import pyarrow as pa

        from clearance.scan.inputs import read_arrow_stream

        tables = [read_arrow_stream(f) for f in files]
        _write_stream(pa.concat_tables(tables), target)
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

"""Reading one shard's items, whatever the input format.

Every format becomes the same ``Item``: where it came from (``source``), a
stable ``item_id``, and whichever of URL, bytes, text and a known SHA-256 it
carries. A row that cannot be read (a ``path`` that does not exist, text that
is not UTF-8) becomes an item with ``error`` set, so it turns into an error
row instead of stopping the run. ``ShardData`` also keeps what the cleared
writer needs to copy the included items out in the input's own format.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.registry.register import (
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    TEXT_EXTENSIONS,
    VIDEO_EXTENSIONS,
)
from clearance.scan.inputs import ShardSpec, read_arrow_stream, sample_key

MAX_ITEM_BYTES = 256 * 1024 * 1024
_IMAGE_FIELDS = tuple(e.lstrip(".") for e in sorted(IMAGE_EXTENSIONS))
_TEXT_FIELDS = ("txt", "text")


@dataclass(slots=True)
class Item:
    """One dataset item as the matcher sees it."""

    item_id: str
    source: str
    url: str | None = None
    data: bytes | None = None
    text: str | None = None
    sha256: str | None = None
    media: str = "other"
    """``image``, ``text``, ``audio``, ``video`` or ``other``: how ``data`` is fingerprinted."""
    error: str | None = None


@dataclass(slots=True)
class ShardData:
    """A shard's items plus the raw material for its cleared part (format-specific)."""

    spec: ShardSpec
    items: list[Item]
    table: Any = None
    lines: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    records: list[list[str]] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)


def item_id(name: str, locator: str) -> str:
    """Stable id: SHA-256 (128 bits shown) of the input file's relative name and the locator."""
    return hashlib.sha256(f"{name}\0{locator}".encode()).hexdigest()[:32]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; raise ``ValueError`` otherwise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _media_for(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in TEXT_EXTENSIONS:
        return "text"
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return "other"


def _read_file(item: Item, path: Path) -> None:
    try:
        size = path.stat().st_size
        if size > MAX_ITEM_BYTES:
            item.error = f"file is {size} bytes, over the {MAX_ITEM_BYTES} byte limit"
            return
        item.data = path.read_bytes()
    except OSError as exc:
        item.error = f"cannot read {path}: {exc.strerror or exc}"
        return
    item.media = _media_for(path.name)
    if item.media == "text":
        try:
            item.text = decode_text(item.data)
        except (UnicodeDecodeError, ValueError) as exc:
            item.error = (
                f"text is not valid UTF-8/UTF-16: {exc.reason}"
                if isinstance(exc, UnicodeDecodeError)
                else f"undecodable text: {exc}"
            )


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _row_item(spec: ShardSpec, row_no: int, row: dict[str, Any]) -> Item:
    """An item from a table row with any of url, path, text, image (+ img2dataset's sha256)."""
    url = _str(row.get("url"))
    path = _str(row.get("path"))
    locator = f"row:{row_no}"
    source = url or path or f"{spec.name}#{row_no}"
    item = Item(item_id(spec.name, locator), source, url=url)
    digest = _str(row.get("sha256"))
    if digest and len(digest) == 64 and all(c in "0123456789abcdefABCDEF" for c in digest):
        item.sha256 = digest.lower()
    text = row.get("text")
    image = row.get("image")
    if isinstance(image, dict):  # Hugging Face's Image feature: {"bytes": ..., "path": ...}
        image = image.get("bytes")
    if isinstance(image, bytes | bytearray) and image:
        item.data, item.media = bytes(image), "image"
    elif path is not None:
        p = Path(path)
        if not p.is_absolute():
            p = Path(spec.file).parent / p
        _read_file(item, p)
    if isinstance(text, str) and text.strip():
        item.text = text
        if item.data is None:
            item.media = "text"
    if url is None and path is None and item.data is None and item.text is None:
        item.error = "row has no url, path, text or image value"
    return item


def read_shard(spec: ShardSpec) -> ShardData:
    """Read the items of ``spec``; the caller turns each item's ``error`` into an error row."""
    if spec.kind == "folder":
        return _read_folder(spec)
    if spec.kind == "parquet":
        return _read_parquet(spec)
    if spec.kind == "hf":
        return _table_shard(spec, read_arrow_stream(spec.file).slice(spec.start, spec.size))
    if spec.kind == "jsonl":
        return _read_jsonl(spec)
    if spec.kind == "csv":
        return _read_csv(spec)
    return _read_tar(spec)


def _read_folder(spec: ShardSpec) -> ShardData:
    root = Path(spec.file)
    items: list[Item] = []
    for rel in spec.members:
        path = root / rel
        item = Item(item_id("", f"file:{rel}"), str(path))
        _read_file(item, path)
        items.append(item)
    return ShardData(spec, items)


def _read_parquet(spec: ShardSpec) -> ShardData:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(spec.file)
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
    table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    return _table_shard(spec, table.slice(spec.start - first, spec.stop - spec.start))


def _table_shard(spec: ShardSpec, table: Any) -> ShardData:
    import pyarrow as pa

    wanted = [c for c in ("url", "path", "text", "image", "sha256") if c in table.column_names]
    rows = table.select(wanted).to_pylist() if wanted else [{} for _ in range(table.num_rows)]
    items = [_row_item(spec, spec.start + i, r) for i, r in enumerate(rows)]
    assert isinstance(table, pa.Table)
    return ShardData(spec, items, table=table)


def _read_jsonl(spec: ShardSpec) -> ShardData:
    items: list[Item] = []
    lines: list[bytes] = []
    with open(spec.file, "rb") as fh:
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
            try:
                doc = json.loads(line)
            except ValueError as exc:
                doc = None
                bad = f"row is not JSON: {exc}"
            if isinstance(doc, dict):
                items.append(_row_item(spec, row_no, doc))
            else:
                item = Item(item_id(spec.name, f"row:{row_no}"), f"{spec.name}#{row_no}")
                item.error = bad if doc is None else "row is not a JSON object"
                items.append(item)
            row_no += 1
    return ShardData(spec, items, lines=lines)


def _read_csv(spec: ShardSpec) -> ShardData:
    with open(spec.file, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        records: list[list[str]] = []
        for i, record in enumerate(reader):
            if i >= spec.stop:
                break
            if i >= spec.start:
                records.append(record)
    items = [
        _row_item(spec, spec.start + i, dict(zip(header, (v or None for v in r), strict=False)))
        for i, r in enumerate(records)
    ]
    return ShardData(spec, items, header=header, records=records)


def _read_tar(spec: ShardSpec) -> ShardData:
    """WebDataset: members grouped by key; KEY.jpg/png... is the image, KEY.txt the text and
    KEY.json the metadata (img2dataset writes the ``url`` there)."""
    fields: dict[str, dict[str, bytes]] = {}
    with tarfile.open(spec.file) as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, ext = sample_key(member.name)
            fh = tar.extractfile(member)
            fields.setdefault(key, {})[ext] = fh.read() if fh is not None else b""
    items: list[Item] = []
    for key, parts in fields.items():
        meta: dict[str, Any] = {}
        if "json" in parts:
            try:
                loaded = json.loads(parts["json"])
                meta = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                meta = {}
        url = _str(meta.get("url"))
        item = Item(item_id(spec.name, f"sample:{key}"), url or f"{spec.name}:{key}", url=url)
        digest = _str(meta.get("sha256"))
        if digest and len(digest) == 64:
            item.sha256 = digest.lower()
        image = next((parts[e] for e in _IMAGE_FIELDS if e in parts), None)
        if image is not None:
            item.data, item.media = image, "image"
        text = next((parts[e] for e in _TEXT_FIELDS if e in parts), None)
        if text is not None:
            try:
                item.text = decode_text(text)
            except (UnicodeDecodeError, ValueError) as exc:
                item.error = f"{key}.txt is not valid UTF-8: {exc}"
            if item.data is None:
                item.media = "text"
        if item.data is None:  # audio or video: KEY.mp3, KEY.flac, KEY.mp4, ...
            media = next(
                ((e, v) for e, v in parts.items() if _media_for(f"x.{e}") in ("audio", "video")),
                None,
            )
            if media is not None:
                item.data, item.media = media[1], _media_for(f"x.{media[0]}")
        if item.data is None and item.text is None and url is None:
            other = next((v for e, v in parts.items() if e != "json"), None)
            if other is None:
                item.error = f"sample {key} has no image, text or url"
            else:
                item.data = other
        items.append(item)
    return ShardData(spec, items, samples=list(fields))

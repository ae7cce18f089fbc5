"""A folder of files: one item per file, recursively; hidden files and folders ignored.

The file's extension says how it is matched (image, text, audio, video, or
other: exact hash and embedded signals only). A symbolic link is followed
only when it resolves inside the base directory (``--base-dir``, by default
the folder itself); a link out of it, a FIFO, a socket or a device becomes an
error row and is never read. ``cleared/`` is a folder of hard links (or
copies across file systems) to the included files, at the same relative paths.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any, ClassVar

from clearance.core.errors import UserError
from clearance.core.files import confined, within
from clearance.core.storage import filesystem
from clearance.scan.formats.base import (
    MAX_ITEM_BYTES,
    InputFormat,
    Item,
    ShardData,
    ShardSpec,
    decode_text,
    item_id,
    media_for,
    read_into,
)


def is_hidden(rel: PurePath) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def folder_files(root: Path) -> tuple[Path, ...]:
    """Every non-hidden entry of ``root`` that is not a folder (links to folders: not entered)."""
    return tuple(
        sorted(p for p in root.rglob("*") if not is_hidden(p.relative_to(root)) and not p.is_dir())
    )


class FolderInput(InputFormat):
    kind: ClassVar[str] = "folder"
    part_suffix: ClassVar[str | None] = None
    owns_tree: ClassVar[bool] = True

    def name_of(self, path: PurePath) -> str:
        return path.relative_to(self.root).as_posix()

    def check(self, files: Sequence[PurePath]) -> None:
        if not files:
            raise UserError(f"{self.display(self.root)} holds no files to scan")

    def plan(self, files: Sequence[PurePath], shard_size: int) -> list[ShardSpec]:
        rels = [self.name_of(f) for f in files]
        return [
            ShardSpec(i, "folder", str(self.root), "", members=tuple(rels[s : s + shard_size]))
            for i, s in enumerate(range(0, len(rels), shard_size))
        ]

    def read(self, spec: ShardSpec) -> ShardData:
        items: list[Item] = []
        for rel in spec.members:
            path = self.root / rel
            if self.protocol is not None:
                items.append(self._read_object(rel))
                continue
            item = Item(item_id("", f"file:{rel}"), str(path))
            read_into(item, Path(path), Path(self.base_dir))
            items.append(item)
        return ShardData(spec, items)

    def _read_object(self, rel: str) -> Item:
        """The item of one object of a folder on object storage (no links there to follow)."""
        key = str(self.root / rel)
        item = Item(item_id("", f"file:{rel}"), self.display(key))
        try:
            fs = filesystem(str(self.protocol))
            size = int(fs.info(key).get("size") or 0)
            if size > MAX_ITEM_BYTES:
                item.error = f"cannot read {item.source}: over the {MAX_ITEM_BYTES} byte limit"
                return item
            item.data = bytes(fs.cat_file(key))
        except Exception as exc:  # the shard boundary: a missing object is this item's error
            item.error = f"cannot read {item.source}: {exc}"
            return item
        item.file = item.source
        item.media = media_for(rel)
        if item.media == "text":
            try:
                item.text = decode_text(item.data)
            except (UnicodeDecodeError, ValueError) as exc:
                item.error = f"text is not valid UTF-8/UTF-16: {exc}"
        return item

    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        return [m for m, k in zip(data.spec.members, keep, strict=True) if k]

    def item_digests(self, data: ShardData) -> dict[str, str]:
        """The files this shard read (their digests go into the shard record, so the
        manifest never reads a million files twice)."""
        return {
            rel: hashlib.sha256(item.data).hexdigest()
            for rel, item in zip(data.spec.members, data.items, strict=True)
            if item.data is not None
        }

    def input_digests(
        self, files: Sequence[PurePath], records: Sequence[dict[str, Any]]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for rec in records:
            out.update(rec.get("input_digests", {}))
        return dict(sorted(out.items()))

    def assemble(self, records: Sequence[dict[str, Any]], parts: Path, staging: Path) -> None:
        for rec in records:
            for rel in rec["cleared"]:
                if self.protocol is not None:
                    target = confined(staging, rel, what="file name")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    filesystem(self.protocol).get_file(str(self.root / rel), str(target))
                    continue
                source = (Path(self.root) / rel).resolve()
                if not within(Path(self.base_dir), source):  # changed since it was read
                    continue
                target = confined(staging, rel, what="file name")
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)

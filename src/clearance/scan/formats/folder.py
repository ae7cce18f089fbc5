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
from pathlib import Path
from typing import Any, ClassVar

from clearance.core.errors import UserError
from clearance.core.files import confined, within
from clearance.scan.formats.base import InputFormat, Item, ShardData, ShardSpec, item_id, read_into


def is_hidden(rel: Path) -> bool:
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

    def name_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def check(self, files: Sequence[Path]) -> None:
        if not files:
            raise UserError(f"{self.root} holds no files to scan")

    def plan(self, files: Sequence[Path], shard_size: int) -> list[ShardSpec]:
        rels = [self.name_of(f) for f in files]
        return [
            ShardSpec(i, "folder", str(self.root), "", members=tuple(rels[s : s + shard_size]))
            for i, s in enumerate(range(0, len(rels), shard_size))
        ]

    def read(self, spec: ShardSpec) -> ShardData:
        items: list[Item] = []
        for rel in spec.members:
            path = self.root / rel
            item = Item(item_id("", f"file:{rel}"), str(path))
            read_into(item, path, self.base_dir)
            items.append(item)
        return ShardData(spec, items)

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
        self, files: Sequence[Path], records: Sequence[dict[str, Any]]
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for rec in records:
            out.update(rec.get("input_digests", {}))
        return dict(sorted(out.items()))

    def assemble(self, records: Sequence[dict[str, Any]], parts: Path, staging: Path) -> None:
        for rec in records:
            for rel in rec["cleared"]:
                source = (self.root / rel).resolve()
                if not within(self.base_dir, source):  # changed since it was read
                    continue
                target = confined(staging, rel, what="file name")
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)

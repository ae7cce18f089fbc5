"""WebDataset ``.tar`` shards: members grouped into samples by key; one item per sample.

``dir/KEY.jpg`` (or png, webp, ...) is the image, ``KEY.txt`` the text,
``KEY.mp3``/``KEY.mp4``... the audio or video (when there is no image) and
``KEY.json`` the metadata (img2dataset writes the ``url`` and ``sha256``
there). Each tar file is one shard, and its cleared part is a tar of every
member of the included samples.

Member names are hostile: a name that is absolute or holds ``..`` (or an
empty part) makes its sample an error row, and such a member is never copied
into ``cleared/``, so extracting a cleared tar cannot write outside its
folder. Links, devices and other non-file members are ignored. A member over
``MAX_ITEM_BYTES`` or a ``.json`` nested too deeply makes its sample an error row.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, ClassVar

from clearance.core.errors import UnsafePath, UnsupportedInput
from clearance.core.files import atomic_path, check_relative, confined
from clearance.registry.register import IMAGE_EXTENSIONS
from clearance.scan.formats.base import (
    MAX_ITEM_BYTES,
    InputFormat,
    Item,
    ShardData,
    ShardSpec,
    decode_text,
    item_id,
    json_depth_ok,
    media_for,
)
from clearance.scan.formats.rows import digest_of, url_problem

_IMAGE_FIELDS = tuple(e.lstrip(".") for e in sorted(IMAGE_EXTENSIONS))
_TEXT_FIELDS = ("txt", "text")


def sample_key(member: str) -> tuple[str, str]:
    """WebDataset grouping: ``dir/KEY.ext.more`` is sample ``dir/KEY``, field ``ext.more``."""
    head, _, base = member.rpartition("/")
    key, _, ext = base.partition(".")
    return (f"{head}/{key}" if head else key), ext.lower()


def safe_member(name: str) -> str | None:
    """Why a member name is refused (None when it is a safe relative name)."""
    try:
        check_relative(name, what="tar member")
    except UnsafePath as exc:
        return exc.message
    return None


class WebDatasetInput(InputFormat):
    kind: ClassVar[str] = "webdataset"
    part_suffix: ClassVar[str | None] = ".tar"

    def name_of(self, path: PurePath) -> str:
        return path.relative_to(self.root).as_posix()

    def plan(self, files: Sequence[PurePath], shard_size: int) -> list[ShardSpec]:
        return [
            ShardSpec(i, "webdataset", str(f), self.name_of(f), 0, self._sample_count(f))
            for i, f in enumerate(files)
        ]

    @contextmanager
    def _tar(self, file: PurePath | str) -> Iterator[tarfile.TarFile]:
        """The tar file (locally, or streamed through fsspec); both closed after."""
        with self.open(file) as fh, tarfile.open(fileobj=fh, mode="r:*") as tar:
            yield tar

    def _sample_count(self, path: PurePath) -> int:
        try:
            with self._tar(path) as tar:
                keys = dict.fromkeys(sample_key(m.name)[0] for m in tar if m.isfile())
        except (tarfile.TarError, OSError) as exc:
            raise UnsupportedInput(f"{path.name} is not a readable tar file: {exc}") from None
        return len(keys)

    def read(self, spec: ShardSpec) -> ShardData:
        fields: dict[str, dict[str, bytes]] = {}
        problems: dict[str, str] = {}
        with self._tar(spec.file) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = sample_key(member.name)
                parts = fields.setdefault(key, {})
                problem = safe_member(member.name)
                if problem is None and member.size > MAX_ITEM_BYTES:
                    problem = f"member {member.name} is {member.size} bytes, over the limit"
                if problem is not None:
                    problems.setdefault(key, problem)
                    continue
                fh = tar.extractfile(member)
                parts[ext] = fh.read() if fh is not None else b""
        items = [self._item(spec, key, parts, problems.get(key)) for key, parts in fields.items()]
        return ShardData(spec, items, raw=list(fields))

    def _item(
        self, spec: ShardSpec, key: str, parts: dict[str, bytes], problem: str | None
    ) -> Item:
        meta: dict[str, Any] = {}
        bad_json = None
        if "json" in parts:
            if not json_depth_ok(parts["json"]):
                bad_json = f"{key}.json is nested too deeply"
            else:
                try:
                    loaded = json.loads(parts["json"])
                    meta = loaded if isinstance(loaded, dict) else {}
                except (ValueError, RecursionError):
                    meta = {}
        url = meta.get("url") if isinstance(meta.get("url"), str) else None
        url = url.strip() or None if url else None
        item = Item(item_id(spec.name, f"sample:{key}"), (url or f"{spec.name}:{key}")[:2000])
        item.url = url
        if problem is not None or bad_json is not None:
            item.error = problem or bad_json
            return item
        item.sha256 = digest_of(meta.get("sha256"))
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
                ((e, v) for e, v in parts.items() if media_for(f"x.{e}") in ("audio", "video")),
                None,
            )
            if media is not None:
                item.data, item.media = media[1], media_for(f"x.{media[0]}")
        if item.data is None and item.text is None and url is None and item.error is None:
            other = next((v for e, v in parts.items() if e != "json"), None)
            if other is None:
                item.error = f"sample {key} has no image, text or url"
            else:
                item.data = other
        if url is not None and item.error is None:
            item.error = url_problem(url)
        return item

    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        wanted = {key for key, ok, item in zip(data.raw, keep, data.items, strict=True) if ok}
        with (
            atomic_path(dest) as tmp,
            self._tar(data.spec.file) as tin,
            tarfile.open(tmp, "w") as tout,
        ):
            for member in tin:
                if not member.isfile() or safe_member(member.name) is not None:
                    continue
                if sample_key(member.name)[0] in wanted:
                    fh = tin.extractfile(member)
                    tout.addfile(member, io.BytesIO(fh.read() if fh is not None else b""))
        return []

    def assemble(self, records: Sequence[dict[str, Any]], parts: Path, staging: Path) -> None:
        for rec in records:
            target = confined(staging, rec["name"], what="input file name")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = parts / rec["cleared_part"]
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)

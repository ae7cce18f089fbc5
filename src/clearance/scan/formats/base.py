"""What every input format shares: items, shard specs, safe file reads, and the format contract.

Every format (a folder, a table, WebDataset tars, a Hugging Face folder) is one
class with three jobs, after img2dataset's reader/writer classes:

* ``plan(files, shard_size)`` cuts the input into ``ShardSpec``\\ s (metadata
  only: Parquet footers, JSONL line offsets, tar member names);
* ``read(spec)`` turns one shard into ``Item``\\ s, one per row, sample or
  file; a row that cannot be read becomes an item with ``error`` set, so it
  turns into an error row and never fails the shard;
* ``write_part(data, keep, dest)`` writes the included items of a shard in
  the input's own format, and ``assemble`` joins the parts into ``cleared/``.

A format object holds only small, picklable settings (its root and base
directory, and ``protocol``: None for a local input, else the scheme of the
object store it lies on), so it travels to every worker with its shards. On
object storage, files are read through the scheme's fsspec file system
(``core.storage``; credentials from its own environment), named by their key
(``bucket/prefix/file``) as ``PurePosixPath``\\ s; ``open`` and ``identity``
are the two places that differ. A table's ``path`` rows are read only from a
local table: on object storage such a row is an error row, so a hostile row
can never make a worker read its own disk.

Names that come from data are hostile (``clearance.core.files``): a path row,
a folder entry that is a symbolic link, a tar member name or a
``state.json`` entry is checked to stay inside its tree before anything is
read, and every file written under ``cleared/`` is joined with ``confined``.
Only regular files are read, each up to ``MAX_ITEM_BYTES``, opened without
blocking (a FIFO or a device is refused, never read).
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any, ClassVar

from clearance.core.files import read_regular
from clearance.core.models import Identifier, IdentifierScheme
from clearance.core.storage import filesystem
from clearance.registry.register import (
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    TEXT_EXTENSIONS,
    VIDEO_EXTENSIONS,
)
from clearance.scan.formats.columns import ColumnMap

MAX_ITEM_BYTES = 256 * 1024 * 1024
"""Largest file, path row or archive member read as one item."""

MAX_JSON_DEPTH = 256
"""JSON nested deeper than this (a row, a WebDataset ``.json``) is an error row."""


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
    identifiers: tuple[Identifier, ...] = ()
    caption: str | None = None
    """A caption describing the content (metadata; matched only with ``--match-captions``)."""
    error: str | None = None
    file: str | None = None
    """The file the item was read from, links resolved (a folder's file, a table's path row)."""


@dataclass(slots=True)
class ShardData:
    """A shard's items plus the raw material for its cleared part (format-specific)."""

    spec: ShardSpec
    items: list[Item]
    raw: Any = None
    """What ``write_part`` copies from: an Arrow table, JSONL lines, CSV records, sample keys."""
    header: list[str] = field(default_factory=list)
    sparse: dict[int, Item] = field(default_factory=dict)
    """A columnar shard (``scan.columnar``, ``items`` empty): the items of the rows that went
    through the per-row path, by row, the only ones that can have read a file."""

    def indexed_items(self) -> Iterable[tuple[int, Item]]:
        """``(row, item)`` of every item there is: all rows, or a columnar shard's sparse ones."""
        return enumerate(self.items) if self.items else sorted(self.sparse.items())


def _stat(path: Path) -> os.stat_result:
    """The file's status; a link that leads nowhere (a loop, a dangling link) by its own."""
    try:
        return path.stat()
    except OSError:
        return path.lstat()


def item_id(name: str, locator: str) -> str:
    """Stable id: SHA-256 (128 bits shown) of the input file's relative name and the locator."""
    return hashlib.sha256(f"{name}\0{locator}".encode()).hexdigest()[:32]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; raise ``ValueError`` otherwise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def media_for(name: str) -> str:
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


def read_into(item: Item, path: Path, base: Path) -> None:
    """Read the file ``path`` (links resolved, which must stay in ``base``, itself already
    resolved) into ``item``. Any problem becomes ``item.error``, never an exception.
    """
    try:
        real = path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a link loop; a NUL in the name
        item.error = f"cannot read {path}: {exc}"
        return
    if real != base and not real.is_relative_to(base):
        item.error = (
            f"{path} is outside {base} (a path row or link must stay in the base directory; "
            "see --base-dir)"
        )
        return
    try:
        item.data = read_regular(real, MAX_ITEM_BYTES, follow=False)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        item.error = f"cannot read {path}: {reason}"
        return
    item.file = str(real)
    item.media = media_for(path.name)
    if item.media == "text":
        try:
            item.text = decode_text(item.data)
        except (UnicodeDecodeError, ValueError) as exc:
            item.error = (
                f"text is not valid UTF-8/UTF-16: {exc.reason}"
                if isinstance(exc, UnicodeDecodeError)
                else f"undecodable text: {exc}"
            )


def json_depth_ok(text: bytes | str) -> bool:
    """Whether brackets nest no deeper than ``MAX_JSON_DEPTH`` (a cheap pre-check before
    ``json.loads``, whose recursion a hostile row could exhaust)."""
    raw = text.encode() if isinstance(text, str) else text
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


IDENTIFIER_COLUMNS = {
    "isbn": IdentifierScheme.ISBN,
    "isrc": IdentifierScheme.ISRC,
    "iscc": IdentifierScheme.ISCC,
}


class InputFormat(ABC):
    """A scan input format: plans shards, reads them, writes the cleared part. See module doc."""

    kind: ClassVar[str] = ""
    part_suffix: ClassVar[str | None] = None
    """The suffix of a shard's cleared part (None: the format writes no parts)."""
    owns_tree: ClassVar[bool] = False
    """Whether the input is a whole folder tree (an ``--out`` inside it is refused)."""

    def __init__(
        self,
        root: PurePath,
        base_dir: Path | None = None,
        columns: ColumnMap | None = None,
        *,
        protocol: str | None = None,
    ) -> None:
        self.root = root
        self.protocol = protocol
        """None for a local input; else the object store's scheme (``s3``, ``gs``, ``hf``)."""
        self.base_dir: PurePath = root
        """The local tree path rows and links must stay in (resolved); on object storage the
        root (nothing is read through it there)."""
        if protocol is None:
            self.base_dir = (base_dir if base_dir is not None else Path(root)).resolve()
        self.columns = columns if columns is not None else ColumnMap()
        """Which columns play which roles (tables only; ``formats.columns``)."""

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, InputFormat)
            and (other.root, other.base_dir, other.columns, other.protocol)
            == (self.root, self.base_dir, self.columns, self.protocol)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.root, self.base_dir, self.columns, self.protocol))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display(self.root)!r})"

    def display(self, path: PurePath | str) -> str:
        """How a user sees one of the input's files: its path, or its URI."""
        return f"{self.protocol}://{path}" if self.protocol else str(path)

    def open(self, path: PurePath | str, mode: str = "rb") -> IO[Any]:
        """One of the input's files, opened for reading (locally, or through fsspec)."""
        if self.protocol is None:
            return open(path, mode)
        fh: IO[Any] = filesystem(self.protocol).open(str(path), mode)
        return fh

    def identity(self, path: PurePath) -> str:
        """What changes when the file changes: size and modification time (or ETag)."""
        if self.protocol is None:
            st = _stat(Path(path))
            return f"{st.st_size}\0{st.st_mtime_ns}"
        info = filesystem(self.protocol).info(str(path))
        tag = info.get("ETag") or info.get("etag") or info.get("LastModified") or info.get("mtime")
        return f"{info.get('size')}\0{tag}"

    def table_dir(self, spec: ShardSpec) -> Path | None:
        """Where a local table's ``path`` rows start from; None on object storage (they are
        error rows there: see the module docstring)."""
        return None if self.protocol is not None else Path(spec.file).parent

    def check(self, files: Sequence[PurePath]) -> None:  # noqa: B027 - most formats need no check
        """Refuse an input this format cannot read (``UserError``), before any work."""

    def item_digests(self, data: ShardData) -> dict[str, str]:
        """SHA-256 per input file read by this shard, where the shard reads whole files
        (a folder); table formats hash their input files once, at the end."""
        return {}

    def input_digests(
        self, files: Sequence[PurePath], records: Sequence[dict[str, Any]]
    ) -> dict[str, str]:
        """SHA-256 of every input file, for the manifest."""
        out = {}
        for f in files:
            h = hashlib.sha256()
            with self.open(f) as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            out[f.relative_to(self.root).as_posix()] = h.hexdigest()
        return out

    @abstractmethod
    def plan(self, files: Sequence[PurePath], shard_size: int) -> list[ShardSpec]:
        """Cut ``files`` into shards, deterministically (the same input, the same plan)."""

    @abstractmethod
    def read(self, spec: ShardSpec) -> ShardData:
        """The shard's items (bad rows become items with ``error`` set)."""

    @abstractmethod
    def write_part(self, data: ShardData, keep: Sequence[bool], dest: Path) -> list[str]:
        """Write the shard's included items to ``dest`` atomically; return kept member names
        (folders only: they record the names instead of writing a part)."""

    @abstractmethod
    def assemble(self, records: Sequence[dict[str, Any]], parts: Path, staging: Path) -> None:
        """Write ``cleared/`` (into ``staging``) from the shard records and their parts."""

"""Locations: a local directory or an object-store prefix, behind one small interface.

Why: the people who scan LAION-sized data keep it on S3, GCS or the Hugging
Face Hub, and run on clusters whose nodes share no disk. A scan's input,
its output directory (``--out``), the site cache and the index cache may
therefore each be a local path or a URI (``s3://bucket/prefix``,
``gs://...``, ``hf://...`` for reading) on an fsspec file system. This
module is the one place that tells them apart and reads and writes them, so
the jobs above say *what* they store, never *how*.

The file rules of ``core.files`` hold for URIs too:

* names are hostile: every name joined onto a location passes
  ``check_relative`` (no absolute name, no ``..``, no empty part); a local
  location also refuses a name that leads out through a symbolic link
  (``confined``); object stores have no links, so the checked name is the key;
* writes are all or nothing: a local file is written beside its target and
  renamed (``atomic_write_bytes``); an object store has no rename, but a PUT
  (even a multipart one) makes the object visible whole or not at all, so an
  object is written once, under its final key, and whatever marks a unit of
  work as done (a shard's record) is written last, after what it names.

Credentials are never stored or passed by Clearance: each file system reads
its own standard environment and configuration (``AWS_*`` and
``~/.aws`` for s3fs, Application Default Credentials for gcsfs, ``HF_TOKEN``
for the Hub). A URI carrying credentials (``s3://key:secret@bucket``) is
refused, so none can reach a manifest or a log.

fsspec (and s3fs, gcsfs) are imported lazily, only when a URI is used; a
missing one is our ``UserError`` with the install hint.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clearance.core.errors import UserError
from clearance.core.files import atomic_write_bytes, check_relative, confined

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)
READ_ONLY = frozenset({"hf", "http", "https"})
"""Schemes Clearance reads from but never writes to (``--out hf://`` is refused)."""
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "hf": "huggingface_hub"}
INSTALL_HINT = "pip install 'clearance[cloud]' (fsspec, s3fs, gcsfs)"


def scheme_of(text: str) -> str | None:
    """The URI scheme of ``text`` (lower case), or None for a local path (``file://`` too)."""
    m = _SCHEME.match(text)
    if m is None:
        return None
    scheme = m.group("scheme").lower()
    return None if scheme == "file" else scheme


def is_uri(text: str | os.PathLike[str]) -> bool:
    """Whether ``text`` names an object-store location rather than a local path."""
    return scheme_of(os.fspath(text)) is not None


def local_path(text: str | os.PathLike[str]) -> Path:
    """A local path (``file://`` prefix removed, ``~`` expanded)."""
    raw = os.fspath(text)
    if raw.lower().startswith("file://"):
        raw = raw[len("file://") :]
    return Path(raw).expanduser()


def check_uri(text: str, *, what: str = "location") -> str:
    """``text`` as a URI with no credentials and no hostile parts; ``UserError`` if refused."""
    m = _SCHEME.match(text)
    if m is None:
        raise UserError(f"{what} {text!r} is not a URI")
    rest = m.group("rest")
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        raise UserError(
            f"{what} {redact_uri(text)!r} holds credentials",
            hint="credentials come from the file system's own environment and config "
            "(AWS_ACCESS_KEY_ID, ~/.aws, GOOGLE_APPLICATION_CREDENTIALS, HF_TOKEN)",
        )
    parts = [p for p in rest.rstrip("/").split("/")]
    if not parts or not parts[0] or any(p in ("", ".", "..") for p in parts) or "\x00" in rest:
        raise UserError(f"{what} {text!r} has an empty, '.' or '..' part")
    return f"{m.group('scheme').lower()}://{rest.rstrip('/')}"


def redact_uri(text: str) -> str:
    """``text`` with any ``user:password@`` part of its authority removed."""
    m = _SCHEME.match(text)
    if m is None:
        return text
    authority, sep, path = m.group("rest").partition("/")
    return f"{m.group('scheme')}://{authority.rpartition('@')[2]}{sep}{path}"


_filesystems: dict[str, Any] = {}


def filesystem(scheme: str) -> Any:
    """The fsspec file system for ``scheme`` (one per process), configured only by its own
    environment and config files; ``UserError`` with the install hint if it is missing."""
    fs = _filesystems.get(scheme)
    if fs is not None:
        return fs
    try:
        import fsspec

        fs = fsspec.filesystem(scheme)
    except ImportError as exc:
        package = PACKAGES.get(scheme, "fsspec")
        raise UserError(
            f"reading {scheme}:// needs the {package} package ({exc})", hint=INSTALL_HINT
        ) from None
    except ValueError as exc:  # an unknown protocol
        raise UserError(f"unknown storage scheme {scheme}://: {exc}") from None
    _filesystems[scheme] = fs
    return fs


def storage_error(exc: BaseException, where: str) -> UserError:
    """A storage failure (a missing bucket, a refused credential) as a one-line user error."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return UserError(f"cannot use {where}: {reason}")


@contextlib.contextmanager
def _as_oserror() -> Iterator[None]:
    """Let a store's own exception types (botocore's, aiohttp's) through as ``OSError``, the
    one kind of failure callers of a file system expect."""
    try:
        yield
    except OSError:
        raise
    except Exception as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc


class Location:
    """A directory-like place: a local directory (``local`` set) or a URI prefix.

    Every name passed in is relative and checked (``check_relative``; locally
    ``confined`` too). ``uri`` is what users and documents see: the local
    path, or the URI without credentials.
    """

    def __init__(self, text: str | os.PathLike[str], *, what: str = "location") -> None:
        raw = os.fspath(text)
        self.scheme = scheme_of(raw)
        self.local: Path | None = None
        if self.scheme is None:
            self.local = local_path(raw).resolve()
            self.uri = str(self.local)
            self.key = self.uri
        else:
            self.uri = check_uri(raw, what=what)
            self.key = self.uri.split("://", 1)[1]
            """The file system's own name for the prefix (``bucket/prefix``)."""

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def fs(self) -> Any:
        if self.scheme is None:
            raise TypeError("a local location has no fsspec file system")
        return filesystem(self.scheme)

    @property
    def writable(self) -> bool:
        return self.scheme not in READ_ONLY

    def child(self, name: str) -> Location:
        """The location ``name`` (a checked relative name) below this one."""
        return Location(self.join(name))

    def join(self, name: str) -> str:
        """The local path or URI of ``name`` below this location."""
        if self.local is not None:
            return str(confined(self.local, name))
        return f"{self.uri}/{'/'.join(check_relative(name))}"

    def _key(self, name: str) -> str:
        return f"{self.key}/{'/'.join(check_relative(name))}"

    def contains(self, other: str) -> bool:
        """Whether the URI or path ``other`` is this location or lies under it."""
        if self.local is not None:
            if is_uri(other):
                return False
            target = local_path(other).resolve()
            return target == self.local or target.is_relative_to(self.local)
        text = other.rstrip("/")
        return text == self.uri or text.startswith(self.uri + "/")

    # reads

    def read_bytes(self, name: str) -> bytes:
        if self.local is not None:
            return confined(self.local, name).read_bytes()
        with _as_oserror():
            return bytes(self.fs.cat_file(self._key(name)))

    def read_text(self, name: str) -> str:
        return self.read_bytes(name).decode("utf-8")

    def exists(self, name: str) -> bool:
        if self.local is not None:
            return confined(self.local, name).exists()
        return self.size(name) is not None

    def size(self, name: str) -> int | None:
        """The size of the file ``name``, or None when there is none."""
        if self.local is not None:
            try:
                return confined(self.local, name).stat().st_size
            except OSError:
                return None
        key = self._key(name)
        try:
            self.fs.invalidate_cache(key)
            with _as_oserror():
                info = self.fs.info(key)
        except OSError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def files(self, prefix: str = "") -> list[str]:
        """Every file below ``prefix`` (or the whole location), as names relative to it."""
        if self.local is not None:
            root = confined(self.local, prefix) if prefix else self.local
            if not root.is_dir():
                return []
            return sorted(
                p.relative_to(self.local).as_posix() for p in root.rglob("*") if p.is_file()
            )
        base = self._key(prefix) if prefix else self.key
        try:
            self.fs.invalidate_cache(base)
            with _as_oserror():
                found = self.fs.find(base)
        except FileNotFoundError:
            return []
        skip = len(self.key) + 1
        return sorted(str(p)[skip:] for p in found if str(p).startswith(self.key + "/"))

    def is_empty(self) -> bool:
        if self.local is not None:
            return not self.local.exists() or not any(self.local.iterdir())
        try:
            self.fs.invalidate_cache(self.key)
            return not self.fs.find(self.key, maxdepth=1, withdirs=True)
        except FileNotFoundError:
            return True

    # writes

    def _check_writable(self) -> None:
        if not self.writable:
            raise UserError(
                f"{self.uri} is read only", hint="write to a local path, s3:// or gs://"
            )

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write ``name`` all or nothing (locally: beside it, then renamed; remotely: one PUT)."""
        self._check_writable()
        if self.local is not None:
            target = confined(self.local, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
            return
        with _as_oserror():
            self.fs.pipe_file(self._key(name), data)

    def write_text(self, name: str, text: str) -> None:
        self.write_bytes(name, text.encode("utf-8"))

    def put(self, source: Path, name: str) -> None:
        """Copy the local file ``source`` to ``name`` (remotely one upload, visible whole)."""
        self._check_writable()
        if self.local is not None:
            target = confined(self.local, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, source.read_bytes())
            return
        with _as_oserror():
            self.fs.put_file(str(source), self._key(name))

    def get(self, name: str, target: Path) -> None:
        """Copy ``name`` to the local file ``target``."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.local is not None:
            target.write_bytes(confined(self.local, name).read_bytes())
            return
        with _as_oserror():
            self.fs.get_file(self._key(name), str(target))

    def remove(self, name: str) -> None:
        """Remove the file ``name`` (no error when there is none)."""
        if self.local is not None:
            confined(self.local, name).unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._key(name))

    def remove_tree(self, prefix: str) -> None:
        """Remove every file below ``prefix``."""
        for name in self.files(prefix):
            self.remove(name)


__all__ = [
    "INSTALL_HINT",
    "READ_ONLY",
    "Location",
    "check_uri",
    "filesystem",
    "is_uri",
    "local_path",
    "redact_uri",
    "scheme_of",
    "storage_error",
]

"""Hostile names and atomic writes: the two file rules every layer follows.

Why in ``core``: a file name that comes from data (a ``state.json`` entry, a
tar member, a table's ``path`` value) is attacker-controlled, and every job
that turns such a name into a path must refuse the same things, the same way.
And every output Clearance writes must be all or nothing (a killed process
leaves the old file or the new one, never half of one). Both rules are a few
lines of standard library, so they live at the bottom, once.

* ``check_relative(name)`` accepts a relative POSIX name with no empty, ``.``
  or ``..`` part, no NUL and no drive or absolute root, and returns its parts.
* ``confined(base, name)`` joins such a name onto ``base`` and checks that the
  result, with every symbolic link resolved, still lies under ``base``
  (resolved too), so a link planted inside the tree cannot lead out of it.
* ``within(base, path)`` is that last check for a path built elsewhere.
* ``atomic_write_bytes`` / ``atomic_write_text`` / ``atomic_path`` write next
  to the target under a unique temporary name and ``os.replace`` it into place;
  ``write_output_text`` does so for a file the user named, with the checks
  that make a bad ``--out`` a user error.
* ``read_regular`` reads a file a user or a dataset named: regular files only
  (a FIFO, a socket, ``/dev/zero`` is refused before a byte is read, never
  waited on), and never past a limit.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath

from clearance.core.errors import UnsafePath, UserError


def check_relative(name: object, *, what: str = "name") -> tuple[str, ...]:
    """The parts of a safe relative name, or ``UnsafePath`` saying why it is refused."""
    if not isinstance(name, str):
        raise UnsafePath(f"{what} {name!r} is not a string")
    if not name or "\x00" in name:
        raise UnsafePath(f"{what} {name!r} is empty or holds a NUL character")
    if "\\" in name or PureWindowsPath(name).drive:
        raise UnsafePath(f"{what} {name!r} holds a backslash or a drive")
    posix = PurePosixPath(name)
    if posix.is_absolute():
        raise UnsafePath(f"{what} {name!r} is absolute")
    parts = tuple(p for p in name.split("/"))
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePath(f"{what} {name!r} has an empty, '.' or '..' part")
    return parts


def within(base: Path, path: Path) -> bool:
    """Whether ``path``, links resolved, is ``base`` or lies under it (``base`` resolved too).

    A path whose links cannot be resolved (a loop) is not within anything.
    """
    try:
        root = base.resolve()
        target = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return target == root or target.is_relative_to(root)


def confined(base: Path, name: object, *, what: str = "name") -> Path:
    """``base / name`` after checking that ``name`` is safe and the result stays under ``base``."""
    parts = check_relative(name, what=what)
    path = base.joinpath(*parts)
    if not within(base, path):
        raise UnsafePath(f"{what} {name!r} leads outside {base} through a symbolic link")
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it goes.

    The temporary name is unique per call (process id and a random part), so
    concurrent writers of the same target never share one; the file gets the
    usual permissions (the umask's), not a private temporary file's.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_output_text(path: Path, text: str) -> Path:
    """Write ``text`` to a file the user named (``--out``), atomically.

    A directory, or a file in a directory that does not exist, is a user
    error (exit 2), reported before anything is written.
    """
    if path.is_dir():
        raise UserError(f"--out {path} is a directory", hint="give a file name")
    if not path.parent.is_dir():
        raise UserError(f"directory {path.parent} does not exist")
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _open_fd(path: Path | str, follow: bool) -> int:
    """A non-blocking read descriptor; ``follow`` resolves links first (a loop is ELOOP)."""
    target = os.path.realpath(path) if follow else path
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    return os.open(target, flags)


def open_regular(path: Path | str, *, follow: bool = True) -> io.BufferedReader:
    """A regular file opened for reading (without blocking, whatever it is); ``OSError`` for a
    FIFO, a socket, a device, a directory or a link loop, before anything is read.

    ``follow=False`` refuses a final symbolic link instead of following it.
    """
    fd = _open_fd(path, follow)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return os.fdopen(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path | str, limit: int, *, follow: bool = True) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``OSError`` (with a reason)
    for anything else.

    Opened without blocking (links resolved first unless ``follow`` is False),
    then checked with ``fstat``: a FIFO, a socket or a device is refused before
    a single byte is read, a link loop is ELOOP, and no file is read past ``limit``.
    """
    fd = _open_fd(path, follow)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"file is {info.st_size} bytes, over the {limit} limit")
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(limit + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"file is over the {limit} byte limit")
    return data


__all__ = [
    "UnsafePath",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_relative",
    "confined",
    "open_regular",
    "read_regular",
    "within",
]

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
  to the target under a unique temporary name and ``os.replace`` it into place.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath

from clearance.core.errors import UnsafePath


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


__all__ = [
    "UnsafePath",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_relative",
    "confined",
    "within",
]

"""The media indexes' file format: a JSON header and raw arrays, never pickled.

Why not ``.npz`` or pickle: an index is read by every scan worker and by the
guard, possibly written by another Clearance version, so it must be safe to
open (no code runs on load), cheap to open (arrays are memory-mapped in
place, not parsed) and checked (a damaged or foreign file is refused with
``UnsupportedInput`` before anything indexes into it).

Layout (``format_version`` 1): an 8-byte magic naming the index kind, the
header length as uint32 little-endian, a UTF-8 JSON header (``format``,
``format_version``, index-specific keys, and ``arrays``: per array its
``offset``, numpy ``dtype`` and ``shape``) padded with spaces to a 64-byte
boundary, then each array's little-endian bytes at its 64-byte aligned
offset (zero padding between). ``unpack`` checks the magic, the format name
and version, and every array's dtype, shape and bounds.

Also here, because both indexes need it: ``check_work_id``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clearance.core.errors import InputNotFound, UnsupportedInput, UserError

FORMAT_VERSION = 1
_ALIGN = 64
_MAX_HEADER = 1 << 20


def _pad(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def pack(
    magic: bytes, name: str, extra: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> bytes:
    specs: dict[str, dict[str, Any]] = {}
    start = _ALIGN
    while True:
        offset = start
        for key, arr in arrays.items():
            dtype = arr.dtype.newbyteorder("<").str
            specs[key] = {"offset": offset, "dtype": dtype, "shape": list(arr.shape)}
            offset = _pad(offset + arr.nbytes)
        header = {"format": name, "format_version": FORMAT_VERSION, **extra, "arrays": specs}
        text = json.dumps(header, sort_keys=True).encode()
        if len(magic) + 4 + len(text) <= start:
            break
        start = _pad(len(magic) + 4 + len(text))
    out = bytearray(magic + len(text).to_bytes(4, "little") + text)
    out += b" " * (start - len(out))
    for key, arr in arrays.items():
        out += b"\0" * (specs[key]["offset"] - len(out))
        out += np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    return bytes(out)


def unpack(
    data: bytes | npt.NDArray[np.uint8],
    magic: bytes,
    name: str,
    expected: dict[str, tuple[str, tuple[int, ...]]],
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray) else data
    what = f"a Clearance {name.split('.')[-1]}"
    if buf.ndim != 1 or len(buf) < len(magic) + 4 or bytes(buf[: len(magic)]) != magic:
        raise UnsupportedInput(f"not {what} (bad magic)")
    length = int.from_bytes(bytes(buf[len(magic) : len(magic) + 4]), "little")
    end = len(magic) + 4 + length
    if length > _MAX_HEADER or end > len(buf):
        raise UnsupportedInput(f"{what}: header of {length} bytes is corrupt")
    try:
        header = json.loads(bytes(buf[len(magic) + 4 : end]).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise UnsupportedInput(f"{what}: unreadable header ({exc!r})") from None
    if not isinstance(header, dict) or header.get("format") != name:
        raise UnsupportedInput(f"not {what} (header names another format)")
    if header.get("format_version") != FORMAT_VERSION:
        raise UnsupportedInput(
            f"{what} of format_version {header.get('format_version')!r}; "
            f"this Clearance reads version {FORMAT_VERSION}",
            hint="rebuild the index",
        )
    arrays: dict[str, npt.NDArray[Any]] = {}
    try:
        for key, (dtype, tail) in expected.items():
            spec = header["arrays"][key]
            shape, offset = spec["shape"], spec["offset"]
            if spec["dtype"] != dtype or not isinstance(shape, list) or len(shape) != 1 + len(tail):
                raise ValueError(f"{key}: dtype {spec['dtype']!r}, shape {shape!r}")
            if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
                raise ValueError(f"{key}: shape {shape!r}")
            if tuple(shape[1:]) != tail:
                raise ValueError(f"{key}: shape {shape!r}")
            if not isinstance(offset, int) or isinstance(offset, bool):
                raise ValueError(f"{key}: offset {offset!r}")
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            if offset % _ALIGN or offset < end or offset + nbytes > len(buf):
                raise ValueError(f"{key}: offset {offset} outside the data")
            arrays[key] = buf[offset : offset + nbytes].view(dtype).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedInput(f"{what}: corrupt header ({exc})") from None
    return header, arrays


def check_starts(starts: npt.NDArray[np.int64], works: int, rows: int) -> int:
    """Check that ``starts`` cuts ``rows`` rows into ``works`` consecutive recordings."""
    if (
        len(starts) != works + 1
        or int(starts[0]) != 0
        or int(starts[-1]) != rows
        or bool((np.diff(starts) < 0).any())
    ):
        raise UnsupportedInput("corrupt media index: recording bounds do not add up")
    return rows


def map_file(path: Path) -> npt.NDArray[np.uint8]:
    if not path.is_file():
        raise InputNotFound(f"no media index file at {path}")
    if path.stat().st_size == 0:
        raise UnsupportedInput(f"{path} is empty, not a media index")
    return np.memmap(path, dtype=np.uint8, mode="r")


def check_work_id(value: Any) -> int:
    """``value`` as a work id; ``UserError`` unless it is an integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise UserError(f"work ids must be integers, not {value!r}")
    return int(value)

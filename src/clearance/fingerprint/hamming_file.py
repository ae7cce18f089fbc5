"""The ``HammingIndex`` file: one file, memory-mapped on load, never pickled.

Why a module of its own: the format is a contract with files already on
disk (scan run directories, saved indexes), versioned by ``FORMAT_VERSION``
and documented in docs/matching.md; reading it must refuse damaged or foreign
bytes with a clear error, whatever the search code does.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clearance.core.errors import InputNotFound, UnsupportedInput, UserError
from clearance.fingerprint.hamming_layout import ChunkLayout, _check_layout

FORMAT_NAME = "clearance.hamming-index"
FORMAT_VERSION = 1
MAGIC = b"CLRHAMIX"
_ALIGN = 64
_MAX_HEADER = 1 << 20
_INDEX_DTYPES = ("<u4", "<u8")


# --------------------------------------------------------------------- file format
# MAGIC (8 bytes), header length (uint32 little-endian), JSON header (UTF-8, padded
# with spaces to a 64-byte boundary), then each array's raw bytes at the 64-byte
# aligned offset its header entry names. See docs/matching.md.


def _write_file(path: Path, header: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> None:
    specs: dict[str, dict[str, Any]] = {}
    start = _ALIGN
    while True:
        offset = start
        for name, arr in arrays.items():
            specs[name] = {
                "offset": offset,
                "dtype": arr.dtype.newbyteorder("<").str,
                "shape": list(arr.shape),
            }
            offset = _align(offset + arr.nbytes)
        text = json.dumps({**header, "arrays": specs}, sort_keys=True).encode()
        if len(MAGIC) + 4 + len(text) <= start:
            break
        start = _align(len(MAGIC) + 4 + len(text))
    text += b" " * (start - len(MAGIC) - 4 - len(text))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC + len(text).to_bytes(4, "little") + text)
            for name, arr in arrays.items():
                f.write(b"\0" * (specs[name]["offset"] - f.tell()))
                data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
                f.write(data.reshape(-1).view(np.uint8).data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _align(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    if not path.is_file():
        raise InputNotFound(f"no Hamming index file at {path}")
    with open(path, "rb") as f:
        prefix = f.read(len(MAGIC) + 4)
        if len(prefix) < len(MAGIC) + 4 or prefix[: len(MAGIC)] != MAGIC:
            raise UnsupportedInput(f"{path} is not a Clearance Hamming index")
        length = int.from_bytes(prefix[len(MAGIC) :], "little")
        if length > _MAX_HEADER:
            raise UnsupportedInput(f"{path}: header of {length} bytes is corrupt")
        try:
            header = json.loads(f.read(length))
        except ValueError as exc:
            raise UnsupportedInput(f"{path}: unreadable index header ({exc})") from None
    try:
        return header, _map_arrays(path, header, len(MAGIC) + 4 + length)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedInput(f"{path}: corrupt index header ({exc!r})") from None


def _map_arrays(path: Path, header: Any, data_start: int) -> dict[str, NDArray[Any]]:
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise UnsupportedInput(f"{path} is not a Clearance Hamming index")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise UnsupportedInput(
            f"{path} has Hamming index format_version {version!r}; "
            f"this Clearance reads version {FORMAT_VERSION}",
            hint="upgrade Clearance, or rebuild the index",
        )
    bits, count = _int(header["bits"]), _int(header["count"])
    _int(header["design_radius"])
    if bits <= 0 or bits % 8:
        raise ValueError(f"bits {bits}")
    _parse_layout(header["fixed_layout"], bits)
    words = -(-bits // 64)
    head_bytes = -(-words // 2) * 8
    expect: dict[str, tuple[tuple[str, ...], list[int]]] = {
        "ids": (("<i8",), [count]),
        "codes_head": (("|u1",), [count, head_bytes]),
        "codes_tail": (("|u1",), [count, words * 8 - head_bytes]),
        "offsets": (_INDEX_DTYPES, [0]),
        "rows": (_INDEX_DTYPES, [0]),
    }
    layout = _parse_layout(header["layout"], bits)
    if layout is not None:
        chunks, chunk_bits = layout.chunks, layout.chunk_bits
        expect["offsets"] = (_INDEX_DTYPES, [chunks * ((1 << chunk_bits) + 1)])
        expect["rows"] = (_INDEX_DTYPES, [chunks * count])
    whole = np.memmap(path, dtype=np.uint8, mode="r")
    arrays: dict[str, NDArray[Any]] = {}
    for name, (dtypes, shape) in expect.items():
        spec = header["arrays"][name]
        dtype, offset = spec["dtype"], _int(spec["offset"])
        if dtype not in dtypes or spec["shape"] != shape:
            raise ValueError(f"{name}: dtype {dtype} shape {spec['shape']}")
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if offset % _ALIGN or offset < data_start or offset + nbytes > whole.shape[0]:
            raise ValueError(f"{name}: offset {offset} outside the file")
        arrays[name] = whole[offset : offset + nbytes].view(dtype).reshape(shape)
    if layout is not None and count:
        size = (1 << chunk_bits) + 1
        ends = arrays["offsets"][size - 1 :: size]
        if ends.tolist() != [(j + 1) * count for j in range(chunks)]:
            raise ValueError("offsets do not add up to the row count")
    return arrays


def _layout_json(layout: ChunkLayout | None) -> list[int] | None:
    return None if layout is None else [layout.chunks, layout.chunk_bits]


def _parse_layout(value: Any, bits: int) -> ChunkLayout | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"layout {value!r}")
    layout = ChunkLayout(_int(value[0]), _int(value[1]))
    try:
        _check_layout(layout, bits)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return layout


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value

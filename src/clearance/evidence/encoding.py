"""The canonical byte encoding of one decisions row: what a Merkle leaf commits to.

Why a binary encoding of our own and not JSON: the leaf must be the same bytes
on every platform and engine, for every column the lead may add later
(strings, integers of any size, floats, lists, structs, bytes, decimals,
timestamps), and two different rows must never share an encoding. Typed,
length-prefixed values give all three with nothing left to interpretation
(no float formatting, no escaping, no key order). The encoding is generic: it
covers every column of ``decisions.parquet`` by its Arrow value, sorted by
column name, so a new column is committed to without a code change.

Format ``clearance.row`` version 1 (docs/formats.md has the table)::

    row   = 0x01  u32 ncols  { u32 len  name-utf8  value }*    names sorted by UTF-8 bytes
    value = 0x00                                      null
          | 0x01 | 0x02                               false | true
          | 0x03 u32 len ascii-decimal                 integer ("-" sign, no leading zeros)
          | 0x04 f64-big-endian                        float (every NaN as 7ff8000000000000)
          | 0x05 u32 len utf8                          string
          | 0x06 u32 len bytes                         bytes
          | 0x07 u32 count value*                      list
          | 0x08 u32 count { u32 len key-utf8 value }*  struct/map, keys sorted by UTF-8 bytes
          | 0x09 u32 len ascii                         decimal (Python ``str(Decimal)``)
          | 0x0a u32 len ascii                         date/time (ISO 8601, ``isoformat()``)

``u32`` is big-endian. ``decode_row`` turns the bytes back into a JSON view of
the row (bytes, decimals, times and non-finite floats as ``{"$bytes": b64}``,
``{"$decimal": s}``, ``{"$time": s}``, ``{"$float": "NaN"}``), which is what a
proof shows a rights holder.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from clearance.evidence.errors import MalformedEvidence

ROW_ENCODING = "clearance.row"
ROW_ENCODING_VERSION = 1

(T_NULL, T_FALSE, T_TRUE, T_INT, T_FLOAT, T_STR, T_BYTES, T_LIST, T_MAP, T_DECIMAL, T_TIME) = range(
    11
)
_NAN = struct.pack(">d", math.nan)
_NULL = bytes([T_NULL])
_MAX = 0xFFFFFFFF


def _len(n: int) -> bytes:
    if n > _MAX:
        raise MalformedEvidence("a value is too long for the row encoding (over 4 GiB)")
    return n.to_bytes(4, "big")


def _str(tag: int, text: str) -> bytes:
    raw = text.encode("utf-8")
    return bytes([tag]) + _len(len(raw)) + raw


def encode_value(value: Any) -> bytes:
    """One value, recursively (``bool`` before ``int``: it is one in Python)."""
    if value is None:
        return _NULL
    if isinstance(value, _Encoded):
        return bytes(value)
    if value is True:
        return bytes([T_TRUE])
    if value is False:
        return bytes([T_FALSE])
    if isinstance(value, int):
        return _str(T_INT, str(value))
    if isinstance(value, float):
        return bytes([T_FLOAT]) + (_NAN if math.isnan(value) else struct.pack(">d", value))
    if isinstance(value, str):
        return _str(T_STR, value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return bytes([T_BYTES]) + _len(len(raw)) + raw
    if isinstance(value, list | tuple):
        return bytes([T_LIST]) + _len(len(value)) + b"".join(encode_value(v) for v in value)
    if isinstance(value, Mapping):
        items = sorted((_key(k), v) for k, v in value.items())
        return (
            bytes([T_MAP])
            + _len(len(items))
            + b"".join(_len(len(k)) + k + encode_value(v) for k, v in items)
        )
    if isinstance(value, Decimal):
        return _str(T_DECIMAL, str(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return _str(T_TIME, value.isoformat())
    raise MalformedEvidence(
        f"a value of type {type(value).__name__} is not covered by row encoding "
        f"version {ROW_ENCODING_VERSION}"
    )


def _key(key: object) -> bytes:
    if not isinstance(key, str):
        raise MalformedEvidence(f"a struct key must be a string, not {type(key).__name__}")
    return key.encode("utf-8")


def encode_row(row: Mapping[str, Any]) -> bytes:
    """The leaf data of one row given as ``{column: value}`` (the reference encoder)."""
    cols = sorted((_key(k), v) for k, v in row.items())
    return (
        bytes([ROW_ENCODING_VERSION])
        + _len(len(cols))
        + b"".join(_len(len(k)) + k + encode_value(v) for k, v in cols)
    )


def _prefixes(tag: int, lengths: Any) -> Any:
    """A binary array of ``tag || u32be(length)`` per row (5 bytes each)."""
    import numpy as np
    import pyarrow as pa

    n = len(lengths)
    buf = np.empty((n, 5), dtype=np.uint8)
    buf[:, 0] = tag
    buf[:, 1:] = np.asarray(lengths, dtype=">u4").view(np.uint8).reshape(n, 4)
    offsets = np.arange(0, 5 * n + 1, 5, dtype=np.int64)
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    )


def _join(*parts: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))


def _or_null(encoded: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.fill_null(encoded, pa.scalar(_NULL, pa.large_binary()))


def _text_values(tag: int, text: Any) -> Any:
    """``tag || u32be(len) || bytes`` for a string/binary array; null stays null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = text.cast(pa.large_binary())
    lengths = pc.binary_length(raw).fill_null(0).to_numpy(zero_copy_only=False)
    return _join(_prefixes(tag, lengths), raw)


def _encode_array(arr: Any) -> Any | None:
    """The encoded values of an Arrow array as a large_binary array, or None (use Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _or_null(_text_values(T_STR, arr))
    if pa.types.is_integer(t):
        return _or_null(_text_values(T_INT, pc.cast(arr, pa.string())))
    if pa.types.is_boolean(t):
        true, false = (pa.scalar(bytes([x]), pa.large_binary()) for x in (T_TRUE, T_FALSE))
        return _or_null(pc.if_else(arr, true, false))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = _encode_array(arr.values)
        if inner is None:
            return None
        # ``offsets`` index into ``values`` even for a sliced array; nulls are put back after.
        kind = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        joined = pc.binary_join(
            kind.from_arrays(arr.offsets, inner), pa.scalar(b"", pa.large_binary())
        )
        counts = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
        encoded = _join(_prefixes(T_LIST, counts), joined)
        return _or_null(pc.if_else(arr.is_valid(), encoded, pa.scalar(None, pa.large_binary())))
    return None


def encode_batch(batch: Any) -> tuple[list[str | None], list[bytes]]:
    """A ``pyarrow.RecordBatch`` as its rows' ``item_id`` values and leaf data, in batch order.

    Column by column, in Arrow (strings, integers, booleans and lists of them
    are encoded by Arrow compute kernels and joined row-wise there; other
    types fall back to ``encode_value`` per value), so a row costs one Python
    object instead of one per value. ``encode_row`` is the reference it must
    equal; the tests hold them to each other.
    """
    import pyarrow as pa

    names = list(batch.schema.names)
    if "item_id" not in names:
        raise MalformedEvidence("the decisions have no item_id column")
    order = sorted(range(len(names)), key=lambda i: names[i].encode("utf-8"))
    header = bytes([ROW_ENCODING_VERSION]) + _len(len(names))
    parts: list[Any] = [pa.scalar(header, pa.large_binary())]
    for i in order:
        name = names[i].encode("utf-8")
        parts.append(pa.scalar(_len(len(name)) + name, pa.large_binary()))
        column = batch.column(i)
        encoded = _encode_array(column)
        if encoded is None:
            encoded = pa.array([encode_value(v) for v in column.to_pylist()], pa.large_binary())
        parts.append(encoded)
    if batch.num_rows == 0:
        leaves: list[bytes] = []
    elif len(parts) == 1:
        leaves = [header] * batch.num_rows
    else:
        leaves = _join(*parts).to_pylist()
    return batch.column(names.index("item_id")).to_pylist(), leaves


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedEvidence("the row encoding ends early")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def text(self) -> str:
        try:
            return self.take(self.u32()).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedEvidence("the row encoding holds invalid UTF-8") from None


def _decode(r: _Reader, depth: int = 0) -> Any:
    if depth > 64:
        raise MalformedEvidence("the row encoding nests too deeply")
    tag = r.take(1)[0]
    if tag == T_NULL:
        return None
    if tag in (T_FALSE, T_TRUE):
        return tag == T_TRUE
    if tag == T_INT:
        text = r.text()
        if not _canonical_int(text):
            raise MalformedEvidence(f"{text!r} is not a canonical integer")
        return int(text)
    if tag == T_FLOAT:
        raw = r.take(8)
        value = struct.unpack(">d", raw)[0]
        if math.isnan(value):
            if raw != _NAN:
                raise MalformedEvidence("a NaN that is not the canonical NaN")
            return {"$float": "NaN"}
        if math.isinf(value):
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        return value
    if tag == T_STR:
        return r.text()
    if tag == T_BYTES:
        return {"$bytes": base64.b64encode(r.take(r.u32())).decode("ascii")}
    if tag == T_LIST:
        return [_decode(r, depth + 1) for _ in range(r.u32())]
    if tag == T_MAP:
        return _decode_map(r, r.u32(), depth)
    if tag == T_DECIMAL:
        return {"$decimal": r.text()}
    if tag == T_TIME:
        return {"$time": r.text()}
    raise MalformedEvidence(f"unknown value tag 0x{tag:02x} in the row encoding")


def _decode_map(r: _Reader, count: int, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    last: bytes | None = None
    for _ in range(count):
        key = r.take(r.u32())
        if last is not None and key <= last:
            raise MalformedEvidence("row encoding keys are not sorted and unique")
        last = key
        try:
            out[key.decode("utf-8")] = _decode(r, depth + 1)
        except UnicodeDecodeError:
            raise MalformedEvidence("the row encoding holds invalid UTF-8") from None
    return out


def _canonical_int(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return (
        digits.isascii()
        and digits.isdigit()
        and (digits == "0" or not digits.startswith("0"))
        and text != "-0"
    )


def decode_row(data: bytes) -> dict[str, Any]:
    """The JSON view of a row from its leaf data; malformed or non-canonical bytes are refused.

    Refusing non-canonical input (unsorted names, ``007``, a second NaN) keeps
    the encoding injective both ways: one row, one byte string.
    """
    r = _Reader(data)
    version = r.take(1)[0]
    if version != ROW_ENCODING_VERSION:
        raise MalformedEvidence(f"row encoding version {version} is not supported")
    row = _decode_map(r, r.u32(), 0)
    if r.pos != len(data):
        raise MalformedEvidence("trailing bytes after the row encoding")
    return row


def encode_json_view(row: Mapping[str, Any]) -> bytes:
    """Encode a row given in ``decode_row``'s JSON view (the inverse of ``decode_row``)."""
    return encode_row({k: _from_view(v) for k, v in row.items()})


class _Encoded(bytes):
    """A value already in its encoded form (a tagged value of the JSON view)."""


def _from_view(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, text),) = value.items()
            if tag == "$bytes" and isinstance(text, str):
                return base64.b64decode(text, validate=True)
            if tag == "$decimal" and isinstance(text, str):
                return _Encoded(_str(T_DECIMAL, text))
            if tag == "$time" and isinstance(text, str):
                return _Encoded(_str(T_TIME, text))
            if tag == "$float" and text in ("NaN", "Infinity", "-Infinity"):
                return float(text.replace("Infinity", "inf"))
        return {k: _from_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_view(v) for v in value]
    return value

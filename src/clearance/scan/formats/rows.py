"""A table row as an item: the roles a row's columns play, read the same way by every table.

Parquet, JSONL, CSV and Hugging Face Arrow rows (and the rows a
``BatchDecider`` is handed) carry columns playing any of these roles (which
column plays which role: ``formats.columns``; ``row_item`` takes the row
keyed by role):

* ``url``: matched against registered URLs, prefixes and domains, and
  evaluated for web signals; a value that is not an http(s) URL makes the row
  an error row (whatever ``--web`` says);
* ``path``: a file to read, relative to the table's folder; it must resolve
  (links included) inside the base directory (``--base-dir``, by default the
  input's root), and must be a regular file; a table on object storage has
  no folder on this machine, so its ``path`` rows are error rows;
* ``text``: text content, matched against registered texts;
* ``image``: image bytes, or Hugging Face's ``{"bytes", "path"}`` struct;
* ``caption``: a caption describing the content (LAION's ``TEXT``,
  img2dataset's ``caption``): metadata, matched against registered texts only
  with ``--match-captions``;
* ``sha256``: a known hex digest of the content (img2dataset writes it);
* ``isbn``, ``isrc``, ``iscc``: identifiers matched exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clearance.core.errors import UserError
from clearance.core.models import Identifier
from clearance.registry.identifiers import normalise_url, parse_identifier
from clearance.scan.formats.base import IDENTIFIER_COLUMNS, Item, item_id, read_into
from clearance.scan.formats.columns import CONTENT_ROLES, ROLES

USABLE_COLUMNS = CONTENT_ROLES
READ_COLUMNS = ROLES
_HEX = frozenset("0123456789abcdefABCDEF")


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, bytes | bytearray | dict | list):
        return None
    text = str(value).strip()
    return text or None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a URL row (None when it is an http(s) URL we can normalise)."""
    try:
        normalise_url(url)
    except UserError as exc:
        return f"invalid URL: {exc.message}"
    except ValueError as exc:  # a port out of range, a bad IPv6 literal, an IDNA error
        return f"invalid URL {url[:200]!r}: {exc}"
    return None


def digest_of(value: Any) -> str | None:
    """A 64-digit hex SHA-256 (lower-cased), or None."""
    text = _str(value)
    if text and len(text) == 64 and set(text) <= _HEX:
        return text.lower()
    return None


def row_item(
    name: str,
    row_no: int,
    row: dict[str, Any],
    table_dir: Path | None,
    base: Path,
    *,
    captions: bool = False,
) -> Item:
    """An item from one row keyed by role (``name`` is the table's relative name, ``row_no``
    its row, ``table_dir`` its local folder, None on object storage); ``captions``: a caption
    alone makes the row something to decide."""
    url = _str(row.get("url"))
    path = _str(row.get("path"))
    source = url or path or f"{name}#{row_no}"
    item = Item(item_id(name, f"row:{row_no}"), source[:2000], url=url)
    item.sha256 = digest_of(row.get("sha256"))
    idents: list[Identifier] = []
    for column in IDENTIFIER_COLUMNS:
        value = _str(row.get(column))
        if value:
            try:
                idents.append(parse_identifier(f"{column}:{value}"))
            except UserError:
                item.error = f"invalid {column} {value[:100]!r}"
                return item
    item.identifiers = tuple(idents)
    if url is not None:
        item.error = url_problem(url)
        if item.error is not None:
            return item
    text = row.get("text")
    image = row.get("image")
    if isinstance(image, dict):  # Hugging Face's Image feature: {"bytes": ..., "path": ...}
        image = image.get("bytes")
    if isinstance(image, bytes | bytearray) and image:
        item.data, item.media = bytes(image), "image"
    elif path is not None:
        if table_dir is None:
            item.error = "path rows are read from local tables only, not from object storage"
            return item
        p = Path(path)
        read_into(item, p if p.is_absolute() else table_dir / p, base)
        if item.error is not None:
            return item
    if isinstance(text, str) and text.strip():
        item.text = text
        if item.data is None:
            item.media = "text"
    caption = row.get("caption")
    if isinstance(caption, str) and caption.strip():
        item.caption = caption
    nothing = url is None and path is None and item.data is None and item.text is None
    nothing = nothing and not (captions and item.caption is not None)
    if nothing and not item.identifiers and item.sha256 is None:
        item.error = "row has no url, path, text or image value" + (
            " (nor a caption)" if captions else ""
        )
    return item

"""Reading a finished scan's outputs for licensing: its bill, its manifest digest, its works.

Why here and not in the scan: licensing sits below the jobs (layer 3), so it
reads the scan's documented files (docs/scan.md) rather than importing the
scan. A scan directory is data from disk: every field used is checked, and a
missing or malformed file is one ``UserError`` naming it.

The *manifest digest* that keys requests, agreements and runs is the SHA-256
of ``manifest.json``'s bytes, so anyone can recompute it (``sha256sum``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance.core.errors import InputNotFound, UserError
from clearance.core.usage import Usage, parse_usage

MAX_SCAN_FILE = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScanOutputs:
    """What licensing needs from one scan directory."""

    path: Path
    manifest_digest: str
    purpose: Usage
    licensee: str | None
    licenses: dict[str, Any]


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_SCAN_FILE:
            raise UserError(f"{path} is larger than {MAX_SCAN_FILE} bytes")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputNotFound(
            f"{path} not found", hint="is this a finished scan's directory?"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


def _json(path: Path, data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path} is not JSON") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path} is not a JSON object")
    return doc


def read_scan(directory: str | Path) -> ScanOutputs:
    """The manifest digest, purpose and ``licenses.json`` of a finished scan."""
    root = Path(directory)
    if not root.is_dir():
        raise InputNotFound(f"no scan directory at {root}")
    raw = _read(root / "manifest.json")
    manifest = _json(root / "manifest.json", raw)
    if manifest.get("format") != "clearance.scan-manifest":
        raise UserError(f"{root / 'manifest.json'} is not a Clearance scan manifest")
    config = manifest.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("purpose"), str):
        raise UserError(f"{root / 'manifest.json'} has no config.purpose")
    licensee = config.get("licensee")
    licenses = _json(root / "licenses.json", _read(root / "licenses.json"))
    if not isinstance(licenses.get("owners"), list):
        raise UserError(f"{root / 'licenses.json'} has no owners list")
    return ScanOutputs(
        path=root,
        manifest_digest=hashlib.sha256(raw).hexdigest(),
        purpose=parse_usage(config["purpose"]),
        licensee=licensee if isinstance(licensee, str) else None,
        licenses=licenses,
    )


@dataclass(frozen=True, slots=True)
class UsedWork:
    """Items a scan cleared that matched one work, and the agreement that covered them."""

    work_id: int
    owner: str
    items: int
    agreement_id: int | None
    permission: str


def used_works(scan: ScanOutputs) -> list[UsedWork]:
    """Per (work, agreement): how many of the scan's included items matched the work."""
    import pyarrow.parquet as pq

    path = scan.path / "decisions.parquet"
    if not path.is_file():
        raise InputNotFound(f"{path} not found", hint="is this a finished scan's directory?")
    try:
        table = pq.read_table(path, columns=["outcome", "evidence"])
    except Exception as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    counts: Counter[tuple[int, str, int | None, str]] = Counter()
    for outcome, evidence in zip(
        table.column("outcome").to_pylist(), table.column("evidence").to_pylist(), strict=True
    ):
        if outcome != "include" or not evidence:
            continue
        try:
            works = json.loads(evidence).get("works", [])
        except (ValueError, AttributeError):
            raise UserError(f"{path}: a row's evidence is not JSON") from None
        for w in works:
            try:
                key = (int(w["id"]), str(w["owner"]), w.get("agreement_id"), str(w["permission"]))
            except (KeyError, TypeError, ValueError):
                raise UserError(f"{path}: a row's works entry is malformed") from None
            if key[2] is not None and not isinstance(key[2], int):
                raise UserError(f"{path}: a row's agreement id is not a number")
            counts[key] += 1
    return [
        UsedWork(work_id, owner, n, agreement, permission)
        for (work_id, owner, agreement, permission), n in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][2] or 0)
        )
    ]


__all__ = ["ScanOutputs", "UsedWork", "read_scan", "used_works"]

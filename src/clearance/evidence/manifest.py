"""Reading a scan's ``manifest.json`` as evidence: strictly, with every shape checked.

The manifest is data from disk, so every field ``verify`` and ``prove`` rely
on is checked here once (types, hex digests, file names that must stay inside
the run directory) and a malformed one is a clear ``MalformedEvidence``
naming the field, never a ``KeyError`` three modules later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from clearance.core.errors import InputNotFound
from clearance.evidence.attest import ATTESTATION, SignedRoot, signed_root
from clearance.evidence.canonical import hex32, read_json
from clearance.evidence.errors import MalformedEvidence
from clearance.evidence.tree import MERKLE_FORMAT, MERKLE_FORMAT_VERSION

MANIFEST = "manifest.json"
DECISIONS = "decisions.parquet"
SCAN_MANIFEST_FORMAT = "clearance.scan-manifest"
PARTS_DIR = ".parts"
"""The scan's working directory of shard parts (``scan.shard.PARTS_DIR``; evidence sits
below the scan in the layers, so the name is repeated here rather than imported)."""


@dataclass(frozen=True, slots=True)
class RecordedShard:
    shard: int
    items: int
    root: bytes
    first_item: str | None
    order: str | None
    """The scan's ``item_digest`` for the shard, when the manifest has it."""
    decisions_part: tuple[str, str] | None
    """(file name under ``.parts/``, its SHA-256) of the shard's decisions part."""


@dataclass(frozen=True, slots=True)
class ScanManifest:
    """A parsed manifest: the raw document and the parts evidence needs, checked."""

    doc: dict[str, Any]
    columns: tuple[str, ...]
    items: int
    root: bytes
    shards: tuple[RecordedShard, ...]
    outputs: dict[str, str]

    def attestation(self) -> SignedRoot | None:
        att = self.doc.get(ATTESTATION)
        return None if att is None else signed_root(att, "manifest attestation")


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEvidence(f"manifest {what} must be a non-negative integer")
    return value


def _str_or_none(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise MalformedEvidence(f"manifest {what} must be a string")
    return value


def safe_relative(name: object, what: str) -> str:
    """A relative POSIX path that stays inside its directory (no ``..``, not absolute)."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        raise MalformedEvidence(f"manifest {what} names an invalid path: {name!r}")
    parts = PurePosixPath(name).parts
    if PurePosixPath(name).is_absolute() or any(p in ("..", ".") for p in parts):
        raise MalformedEvidence(f"manifest {what} names a path outside the run: {name!r}")
    return name


def _part(digests: object, index: int) -> tuple[str, str] | None:
    if not isinstance(digests, dict):
        return None
    for name, digest in digests.items():
        if isinstance(name, str) and name.endswith(".decisions.parquet"):
            if "/" in name or name.startswith(".") or not isinstance(digest, str):
                raise MalformedEvidence(f"manifest shards[{index}] names an invalid part {name!r}")
            return name, digest
    return None


def parse_manifest(doc: object) -> ScanManifest:
    if not isinstance(doc, dict) or doc.get("format") != SCAN_MANIFEST_FORMAT:
        raise MalformedEvidence(f"{MANIFEST} is not a {SCAN_MANIFEST_FORMAT}")
    merkle = doc.get("merkle")
    if merkle is None:
        raise MalformedEvidence(
            f"{MANIFEST} has no merkle section (written by an older Clearance)",
            hint="rerun the scan with --resume to add it",
        )
    if not isinstance(merkle, dict) or merkle.get("format") != MERKLE_FORMAT:
        raise MalformedEvidence(f"{MANIFEST} merkle is not a {MERKLE_FORMAT}")
    if merkle.get("format_version") != MERKLE_FORMAT_VERSION:
        raise MalformedEvidence(
            f"{MANIFEST} merkle has format_version {merkle.get('format_version')!r}; "
            f"this Clearance reads {MERKLE_FORMAT_VERSION}"
        )
    columns = merkle.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise MalformedEvidence(f"{MANIFEST} merkle columns must be a list of names")
    raw_shards = merkle.get("shards")
    if not isinstance(raw_shards, list):
        raise MalformedEvidence(f"{MANIFEST} merkle shards must be a list")
    raw_scan_shards = doc.get("shards")
    scan_shards: list[Any] = raw_scan_shards if isinstance(raw_scan_shards, list) else []
    shards = []
    for i, s in enumerate(raw_shards):
        if not isinstance(s, dict) or s.get("shard") != i:
            raise MalformedEvidence(f"{MANIFEST} merkle shards[{i}] is not shard {i}")
        record = scan_shards[i] if i < len(scan_shards) and isinstance(scan_shards[i], dict) else {}
        shards.append(
            RecordedShard(
                shard=i,
                items=_int(s.get("items"), f"merkle shards[{i}].items"),
                root=hex32(s.get("root"), f"manifest merkle shards[{i}].root"),
                first_item=_str_or_none(s.get("first_item"), f"merkle shards[{i}].first_item"),
                order=_str_or_none(record.get("item_digest"), f"shards[{i}].item_digest"),
                decisions_part=_part(record.get("digests"), i),
            )
        )
    outputs = doc.get("outputs")
    if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
        raise MalformedEvidence(f"{MANIFEST} outputs must map file names to SHA-256 digests")
    for name in outputs:
        safe_relative(name, "outputs")
    return ScanManifest(
        doc=doc,
        columns=tuple(columns),
        items=_int(merkle.get("items"), "merkle.items"),
        root=hex32(merkle.get("root"), "manifest merkle.root"),
        shards=tuple(shards),
        outputs=dict(outputs),
    )


def load_manifest(out_dir: Path) -> ScanManifest:
    """The manifest of the scan output in ``out_dir``."""
    if not out_dir.is_dir():
        raise InputNotFound(f"{out_dir} is not a scan output directory")
    return parse_manifest(read_json(out_dir / MANIFEST, f"{out_dir.name}/{MANIFEST}"))

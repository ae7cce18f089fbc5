"""``verify``: recompute a scan's evidence from its files and name every difference.

What is checked, in this order, each difference becoming a ``Finding``:

1. the attestation: the signature (against ``--pubkey`` when given, else the
   key the manifest names), the statement against the manifest, and each
   manifest field against its recorded digest (naming the edited field);
2. the decision rows: ``decisions.parquet`` is streamed shard by shard and
   each shard's Merkle root, row count and row order are recomputed and
   compared with the manifest; a difference is named as a changed, dropped,
   added or reordered row;
3. the files: every output the manifest lists (``cleared/`` included) is
   hashed, and files under ``cleared/`` it does not list are reported.

Shards are found in the file by their recorded first item id, so a row
dropped from one shard does not make every later shard look wrong. When the
shard's working part (``.parts/shard-N.decisions.parquet``) still exists and
still has the SHA-256 the manifest recorded, it is an authenticated copy of
the original rows, and the finding names the exact item ids (and, for a
changed row, its changed columns); otherwise it names the shard and the kind
of change. The parts only ever *localise* a difference; pass or fail is
decided from the manifest alone.

Memory is bounded by one shard plus one entry per shard, whatever the run's size.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearance.core.errors import UnsafePath
from clearance.core.files import confined, open_regular
from clearance.evidence import keys
from clearance.evidence.attest import field_digests, manifest_body
from clearance.evidence.canonical import digest_json
from clearance.evidence.encoding import decode_row
from clearance.evidence.errors import MalformedEvidence
from clearance.evidence.manifest import (
    DECISIONS,
    PARTS_DIR,
    RecordedShard,
    ScanManifest,
    load_manifest,
)
from clearance.evidence.merkle import MerkleBuilder
from clearance.evidence.tree import Shard, columns_of, iter_ids, iter_shards, row_count

KINDS = (
    "row-changed",
    "row-dropped",
    "row-added",
    "rows-reordered",
    "column-added",
    "column-removed",
    "file-changed",
    "file-missing",
    "file-added",
    "manifest-field-edited",
    "manifest-field-added",
    "manifest-field-removed",
    "attestation-missing",
    "attestation-edited",
    "signature-missing",
    "signature-bad",
    "key-mismatch",
    "root-mismatch",
)
"""Every kind of finding ``verify`` reports (a public contract; see docs/compliance.md)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference between a scan's files and its manifest."""

    kind: str
    where: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of ``verify_run``: ``ok`` when nothing differs."""

    dir: Path
    findings: tuple[Finding, ...]
    items: int
    shards: int
    files: int
    run_root: str
    signed: bool
    key_id: str | None
    pinned: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "clearance.verify-report",
            "format_version": 1,
            "dir": str(self.dir),
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
            "items": self.items,
            "shards": self.shards,
            "files": self.files,
            "run_root": self.run_root,
            "signed": self.signed,
            "key_id": self.key_id,
            "pinned": self.pinned,
            "notes": list(self.notes),
        }


def verify_run(
    out_dir: str | os.PathLike[str], *, pubkey: Ed25519PublicKey | None = None
) -> VerifyReport:
    """Verify the scan output in ``out_dir``; ``pubkey`` pins the operator's signing key.

    Raises ``MalformedEvidence``/``InputNotFound`` (exit 2) for a manifest that
    cannot be read; every *difference* is a finding in the returned report.
    """
    out = Path(out_dir)
    manifest = load_manifest(out)
    findings: list[Finding] = []
    notes: list[str] = []
    signed, key, pinned = _check_attestation(manifest, pubkey, findings, notes)
    rows = _check_rows(out, manifest, findings)
    files = _check_files(out, manifest, findings, rows_differ=rows.differ)
    if not rows.differ and rows.root != manifest.root:
        findings.append(
            Finding("root-mismatch", "/merkle/root", "the shard roots do not lead to this root")
        )
    return VerifyReport(
        dir=out,
        findings=tuple(findings),
        items=rows.items,
        shards=len(manifest.shards),
        files=files,
        run_root=rows.root.hex(),
        signed=signed,
        key_id=key,
        pinned=pinned,
        notes=tuple(notes),
    )


# --- 1. the attestation --------------------------------------------------------------------


def _check_attestation(
    manifest: ScanManifest,
    pubkey: Ed25519PublicKey | None,
    findings: list[Finding],
    notes: list[str],
) -> tuple[bool, str | None, bool]:
    """Signature, statement and field digests; returns (signed, key id, pinned)."""
    att = manifest.attestation()
    if att is None:
        findings.append(
            Finding(
                "attestation-missing",
                "/attestation",
                "the manifest carries no root statement, so edits to it cannot be detected",
            )
        )
        if pubkey is not None:
            findings.append(Finding("signature-missing", "/attestation", "the run is not signed"))
        return False, None, False
    signed, key_name, pinned = att.signature is not None, att.key_id, False
    if att.signature is None:
        if pubkey is not None:
            findings.append(
                Finding("signature-missing", "/attestation/signature", "the run is not signed")
            )
        else:
            notes.append("not signed: the manifest is checked against accidents only")
    else:
        embedded = att.public_key()
        assert embedded is not None
        check_key = embedded
        if pubkey is not None:
            check_key = pubkey
            if keys.raw_public(pubkey) != keys.raw_public(embedded):
                findings.append(
                    Finding(
                        "key-mismatch",
                        "/attestation/signature",
                        f"signed by key {att.key_id}, not by the given key {keys.key_id(pubkey)}",
                    )
                )
        if not att.signature_valid(check_key):
            findings.append(
                Finding(
                    "signature-bad",
                    "/attestation/signature",
                    "the signature does not match the statement",
                )
            )
        elif pubkey is not None:
            pinned = True
        else:
            notes.append(
                f"signature checked against the key the manifest names ({att.key_id}); "
                "pass --pubkey to check it is the operator's key"
            )
    body = manifest_body(manifest.doc)
    statement = att.statement
    for name, value in (
        ("run_root", body["merkle"].get("root")),
        ("items", body["merkle"].get("items")),
        ("shards", len(manifest.shards)),
        ("registry_state", body.get("registry_state")),
    ):
        if statement.get(name) != value:
            findings.append(
                Finding(
                    "attestation-edited",
                    f"/attestation/statement/{name}",
                    f"the statement says {statement.get(name)!r}, the manifest {value!r}",
                )
            )
    recorded = manifest.doc["attestation"].get("fields")
    edited = 0
    if not isinstance(recorded, dict) or digest_json(recorded) != statement.get("fields_sha256"):
        findings.append(
            Finding(
                "attestation-edited",
                "/attestation/fields",
                "the field digests do not match the statement",
            )
        )
    else:
        current = field_digests(body)
        differing: dict[str, tuple[str, str]] = {}
        for ptr in sorted(set(recorded) | set(current)):
            if ptr not in current:
                differing[ptr] = ("manifest-field-removed", "recorded, now missing")
            elif ptr not in recorded:
                differing[ptr] = ("manifest-field-added", "not in the recorded manifest")
            elif recorded[ptr] != current[ptr]:
                differing[ptr] = ("manifest-field-edited", "differs from the recorded value")
        for ptr, (kind, detail) in differing.items():
            if any(other.startswith(ptr + "/") for other in differing):
                continue  # name the member that changed, not also its object
            findings.append(Finding(kind, ptr, detail))
            edited += 1
    if digest_json(body) != statement.get("manifest_sha256") and not edited:
        findings.append(
            Finding("manifest-field-edited", "/", "the manifest differs from its statement")
        )
    return signed, key_name, pinned


# --- 2. the rows ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Rows:
    items: int = 0
    root: bytes = b""
    differ: bool = False


def _align(path: Path, shards: Sequence[RecordedShard], total: int) -> list[int]:
    """Rows per shard in the file as it is, found by each shard's recorded first item id.

    A shard starts at the occurrence of its first id nearest to where the
    previous shard's recorded size puts it; when that id is gone (the row was
    dropped or its id edited), at that expected place.
    """
    firsts = {s.first_item: s.shard for s in shards if s.first_item is not None}
    seen: dict[int, list[int]] = {}
    for pos, item in enumerate(iter_ids(path)):
        index = firsts.get(item) if item is not None else None
        if index is not None:
            hits = seen.setdefault(index, [])
            if len(hits) < 16:
                hits.append(pos)
    starts = [0]
    for s in shards[1:]:
        expected = min(starts[-1] + shards[s.shard - 1].items, total)
        hits = [p for p in seen.get(s.shard, []) if p >= starts[-1]]
        start = min(hits, key=lambda p: abs(p - expected)) if hits else expected
        starts.append(start)
    ends = [*starts[1:], total]
    return [max(0, e - s) for s, e in zip(starts, ends, strict=True)]


def _check_rows(out: Path, manifest: ScanManifest, findings: list[Finding]) -> _Rows:
    path = out / DECISIONS
    result = _Rows(root=b"")
    if not path.is_file():
        findings.append(Finding("file-missing", DECISIONS, "the decisions file is missing"))
        result.differ = True
        return result
    have = columns_of(path)
    for name in have:
        if name not in manifest.columns:
            findings.append(Finding("column-added", f"{DECISIONS}:{name}", "not a recorded column"))
            result.differ = True  # explains the file's changed bytes
    missing = [c for c in manifest.columns if c not in have]
    for name in missing:
        findings.append(Finding("column-removed", f"{DECISIONS}:{name}", "a recorded column"))
    if missing or "item_id" not in have:
        result.differ = True
        return result
    total = row_count(path)
    if not manifest.shards:
        if total:
            findings.append(Finding("row-added", DECISIONS, f"{total} rows; none were recorded"))
            result.differ = True
        result.root = MerkleBuilder().root()
        return result
    bounds = _align(path, manifest.shards, total)
    run = MerkleBuilder()  # the run root, folded as the shards stream past
    for shard in iter_shards(path, bounds, manifest.columns):
        recorded = manifest.shards[shard.index]
        digest = shard.digest()
        run.add(digest.root)
        result.items += shard.items
        same = digest.root == recorded.root and shard.items == recorded.items
        if same and recorded.order not in (None, digest.order):
            same = False
        if not same:
            result.differ = True
            findings.extend(_diagnose(out, shard, digest.root, digest.order, recorded))
    result.root = run.root()
    return result


def _diagnose(
    out: Path, shard: Shard, root: bytes, order: str, recorded: RecordedShard
) -> list[Finding]:
    where = f"shard {shard.index} (rows {shard.start}-{shard.start + shard.items - 1})"
    original = _authentic_part(out, recorded)
    if original is not None:
        named = _diff_rows(shard, original)
        if named:
            return named
    found, want = shard.items, recorded.items
    if found < want:
        return [Finding("row-dropped", where, f"{want - found} of its {want} rows are missing")]
    if found > want:
        return [Finding("row-added", where, f"{found - want} rows more than the {want} recorded")]
    if root == recorded.root:
        return [Finding("rows-reordered", where, "its rows are not in the recorded order")]
    if recorded.order in (None, order):
        return [Finding("row-changed", where, "a row's content differs; the item ids are in place")]
    return [Finding("row-changed", where, "rows differ in content and item ids")]


def _authentic_part(out: Path, recorded: RecordedShard) -> Shard | None:
    """The shard's working part, if it still has the SHA-256 the manifest recorded."""
    if recorded.decisions_part is None:
        return None
    name, digest = recorded.decisions_part
    path = out / PARTS_DIR / name
    try:
        with open_regular(path) as fh:
            if hashlib.file_digest(fh, "sha256").hexdigest() != digest:
                return None
        return next(iter_shards(path, [recorded.items]))
    except (OSError, MalformedEvidence, StopIteration):
        return None


def _diff_rows(now: Shard, original: Shard) -> list[Finding]:
    """Name the item ids that differ between the file's shard and its authentic part."""
    out: list[Finding] = []
    before = {i: leaf for i, leaf in zip(original.ids, original.leaves, strict=True)}
    after = {i: leaf for i, leaf in zip(now.ids, now.leaves, strict=True)}
    position = {i: now.start + n for n, i in reversed(list(enumerate(now.ids)))}
    counts = Counter(now.ids)
    for item in original.ids:
        if item not in after:
            out.append(Finding("row-dropped", f"item {item}", f"from shard {now.index}"))
    for item, n in counts.items():
        if item not in before:
            out.append(Finding("row-added", f"item {item}", f"row {position[item]} of {DECISIONS}"))
        elif n > 1:
            out.append(
                Finding("row-added", f"item {item}", f"appears {n} times in shard {now.index}")
            )
    for item, leaf in after.items():
        if item in before and before[item] != leaf:
            cols = _changed_columns(before[item], leaf)
            out.append(
                Finding(
                    "row-changed",
                    f"item {item}",
                    f"row {position[item]} of {DECISIONS}; columns: {', '.join(cols) or '?'}",
                )
            )
    if not out and now.ids != original.ids:
        first = next(
            n for n, (a, b) in enumerate(zip(now.ids, original.ids, strict=False)) if a != b
        )
        out.append(
            Finding(
                "rows-reordered",
                f"shard {now.index}",
                f"row {now.start + first} of {DECISIONS} (item {now.ids[first]}) is out of order",
            )
        )
    return out


def _changed_columns(before: bytes, after: bytes) -> list[str]:
    try:
        a, b = decode_row(before), decode_row(after)
    except MalformedEvidence:
        return []
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


# --- 3. the files --------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    with open_regular(path) as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _check_files(
    out: Path, manifest: ScanManifest, findings: list[Finding], *, rows_differ: bool
) -> int:
    checked = 0
    for name, want in sorted(manifest.outputs.items()):
        try:
            path = confined(out, name, what="output file name")
        except UnsafePath as exc:  # a manifest is evidence to check, not to trust
            findings.append(Finding("manifest-field-edited", "/outputs", exc.message))
            continue
        if not path.is_file():
            if name != DECISIONS:  # a missing decisions file is already a finding
                findings.append(Finding("file-missing", name, "listed in the manifest"))
            continue
        checked += 1
        try:
            digest = _sha256(path)
        except OSError as exc:
            findings.append(Finding("file-changed", name, f"cannot be read: {exc.strerror or exc}"))
            continue
        if digest != want:
            if name == DECISIONS:
                if not rows_differ:
                    findings.append(
                        Finding(
                            "file-changed",
                            name,
                            "its bytes differ from the manifest, though every row is as recorded",
                        )
                    )
                continue
            findings.append(Finding("file-changed", name, "its SHA-256 differs from the manifest"))
    cleared = out / "cleared"
    if cleared.is_dir():
        for f in sorted(p for p in cleared.rglob("*") if p.is_file() or p.is_symlink()):
            rel = f.relative_to(out).as_posix()
            if rel not in manifest.outputs:
                findings.append(Finding("file-added", rel, "not in the manifest"))
    return checked

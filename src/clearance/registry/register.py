"""Registering works from files, folders and bare identifiers.

This is the library function behind ``clearance works add``: it expands folders,
fingerprints each file (SHA-256 always; PDQ for images; shingles and MinHash for
texts), and registers each work in its own transaction. A corrupt or
unreadable file is skipped with its reason and the rest go on; a missing path is
a user error raised before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from clearance.core.errors import ClearanceError, UserError
from clearance.core.models import Identifier, IdentifierScheme, WorkKind
from clearance.fingerprint import DEFAULT_MAX_PIXELS, image_hash, sha256_file, text_fingerprint
from clearance.fingerprint.audio import audio_fingerprint
from clearance.fingerprint.text import SHINGLE_FORMAT_VERSION
from clearance.fingerprint.video import video_hashes
from clearance.registry.identifiers import Target, parse_target
from clearance.registry.records import FingerprintRecord, Registration, TermsChange, WorkSpec
from clearance.registry.store import RegistryStore

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp"})
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".text", ".rst"})
AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"})

MAX_TEXT_BYTES = 64 * 1024 * 1024

ProgressFn = Callable[[int, int, str], None]
"""Called as ``progress(done, total, current)`` after each file."""


def detect_kind(path: Path) -> WorkKind | None:
    """The work kind a file's extension implies, or None if we do not fingerprint it."""
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return WorkKind.IMAGE
    if ext in TEXT_EXTENSIONS:
        return WorkKind.TEXT
    if ext in AUDIO_EXTENSIONS:
        return WorkKind.AUDIO
    if ext in VIDEO_EXTENSIONS:
        return WorkKind.VIDEO
    return None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that was not registered, and why."""

    path: str
    reason: str


@dataclass(slots=True)
class AddSummary:
    """What ``add_works`` did."""

    registrations: list[Registration] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _read_text(path: Path) -> str:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise UserError(f"text file is {size} bytes, over the {MAX_TEXT_BYTES} byte limit")
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"not valid UTF-8 text (byte {exc.start})") from None


def fingerprint_file(
    path: Path, kind: WorkKind, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[str, list[FingerprintRecord]]:
    """SHA-256 plus the kind's fingerprints; raises ``ClearanceError`` for a bad file."""
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror or exc}") from None
    records = [FingerprintRecord("sha256", bytes.fromhex(digest))]
    if kind in (WorkKind.IMAGE, WorkKind.CHARACTER):
        h = image_hash(path, max_pixels=max_pixels)
        records.append(FingerprintRecord("pdq", h.pdq, 1, h.quality))
    elif kind is WorkKind.TEXT:
        fp = text_fingerprint(_read_text(path))
        if fp.word_count == 0:
            raise UserError("text file has no words")
        records.append(FingerprintRecord("text-minhash", fp.minhash_bytes(), 1))
        records.append(FingerprintRecord("text-8grams", fp.shingle_bytes(), SHINGLE_FORMAT_VERSION))
    elif kind is WorkKind.AUDIO:
        records.append(FingerprintRecord("chromaprint", audio_fingerprint(path).to_bytes(), 1))
    elif kind is WorkKind.VIDEO:
        records.append(FingerprintRecord("video-pdq", video_hashes(path).to_bytes(), 1))
    return digest, records


def _expand(targets: Sequence[Target], kind: WorkKind | None) -> tuple[list[Target], list[Skipped]]:
    out: list[Target] = []
    skipped: list[Skipped] = []
    for t in targets:
        if t.path is None or not t.path.is_dir():
            out.append(t)
            continue
        for child in sorted(t.path.rglob("*")):
            if not child.is_file() or any(
                p.startswith(".") for p in child.relative_to(t.path).parts
            ):
                continue
            if kind is None and detect_kind(child) is None:
                skipped.append(Skipped(str(child), "unsupported file type"))
                continue
            out.append(Target(path=child))
    return out, skipped


def add_works(
    store: RegistryStore,
    items: Sequence[str],
    *,
    owner: str,
    terms: TermsChange | None = None,
    title: str | None = None,
    kind: WorkKind | None = None,
    extra_identifiers: Sequence[Identifier] = (),
    actor: str = "clearance",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: ProgressFn | None = None,
) -> AddSummary:
    """Register every file, folder and identifier in ``items`` for ``owner``."""
    if not items:
        raise UserError("nothing to add: name files, folders or identifiers")
    if not owner.strip():
        raise UserError("an owner is required", hint="pass --owner NAME")
    targets, summary_skipped = _expand([parse_target(i) for i in items], kind)
    summary = AddSummary(skipped=summary_skipped)
    total = len(targets)
    for done, target in enumerate(targets, start=1):
        label = str(target.path) if target.path else f"{target.identifier}"
        try:
            spec = _spec_for(
                target,
                owner=owner,
                terms=terms,
                title=title,
                kind=kind,
                extra=extra_identifiers,
                max_pixels=max_pixels,
            )
            summary.registrations.append(store.register(spec, actor=actor))
        except (UserError, ClearanceError) as exc:
            if target.path is None or not isinstance(exc, UserError):
                raise
            summary.skipped.append(Skipped(str(target.path), str(exc)))
        if progress is not None:
            progress(done, total, label)
    return summary


def _spec_for(
    target: Target,
    *,
    owner: str,
    terms: TermsChange | None,
    title: str | None,
    kind: WorkKind | None,
    extra: Sequence[Identifier],
    max_pixels: int,
) -> WorkSpec:
    if target.identifier is not None:
        ident = target.identifier
        guessed = None
        if ident.scheme is IdentifierScheme.URL:
            guessed = detect_kind(Path(urlsplit(ident.value).path))
        return WorkSpec(kind or guessed or WorkKind.OTHER, owner, (ident, *extra), title, (), terms)
    assert target.path is not None
    path = target.path
    work_kind = kind or detect_kind(path) or WorkKind.OTHER
    digest, records = fingerprint_file(path, work_kind, max_pixels=max_pixels)
    idents = (Identifier(IdentifierScheme.SHA256, digest), *extra)
    return WorkSpec(work_kind, owner, idents, title or path.name, tuple(records), terms)

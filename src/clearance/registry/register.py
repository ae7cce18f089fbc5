"""Registering works from files, folders and bare identifiers.

This is the library function behind ``clearance works add``: it expands folders,
fingerprints each file (SHA-256 always; PDQ for images; shingles and MinHash for
texts), and registers each work in its own transaction. With an image
``embedder`` configured, each image also gets its embedding vector
(``embedding_record``), computed in this process after the workers' hashes:
an onnxruntime session does not pickle, and it spreads one image over every
core itself. A corrupt or
unreadable file is skipped with its reason and the rest go on; a missing path is
a user error raised before anything is written.
"""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from clearance.core.errors import UserError
from clearance.core.models import Identifier, IdentifierScheme, WorkKind
from clearance.core.validation import clean_name
from clearance.fingerprint import DEFAULT_MAX_PIXELS, sha256_file, text_fingerprint
from clearance.fingerprint.audio import audio_fingerprint
from clearance.fingerprint.embedding import (
    EMBEDDING_FORMAT_VERSION,
    ImageEmbedder,
    embed_image,
    embedding_algo,
    vector_bytes,
)
from clearance.fingerprint.parallel import default_workers, process_context
from clearance.fingerprint.regions import REGION_FORMAT_VERSION, image_fingerprints
from clearance.fingerprint.text import SHINGLE_FORMAT_VERSION
from clearance.fingerprint.video import video_hashes
from clearance.registry.identifiers import Target, parse_target
from clearance.registry.records import (
    ContentCheck,
    FingerprintRecord,
    Registration,
    TermsChange,
    WorkSpec,
)
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


def read_text_work(path: Path) -> str:
    """A text file as registration reads it (UTF-8, or UTF-16 with a BOM; bounded)."""
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
        if not stat.S_ISREG(path.stat().st_mode):  # swapped for a FIFO or device meanwhile
            raise UserError("not a regular file")
        digest = sha256_file(path)
    except OSError as exc:
        raise UserError(f"cannot read file: {exc.strerror or exc}") from None
    records = [FingerprintRecord("sha256", bytes.fromhex(digest))]
    if kind in (WorkKind.IMAGE, WorkKind.CHARACTER):
        h, regions = image_fingerprints(path, kind="registered", max_pixels=max_pixels)
        records.append(FingerprintRecord("pdq", h.pdq, 1, h.quality))
        records.append(FingerprintRecord("pdq-regions", regions.to_bytes(), REGION_FORMAT_VERSION))
    elif kind is WorkKind.TEXT:
        fp = text_fingerprint(read_text_work(path))
        if fp.word_count == 0:
            raise UserError("text file has no words")
        records.append(FingerprintRecord("text-minhash", fp.minhash_bytes(), 1))
        records.append(FingerprintRecord("text-8grams", fp.shingle_bytes(), SHINGLE_FORMAT_VERSION))
    elif kind is WorkKind.AUDIO:
        records.append(FingerprintRecord("chromaprint", audio_fingerprint(path).to_bytes(), 1))
    elif kind is WorkKind.VIDEO:
        records.append(FingerprintRecord("video-pdq", video_hashes(path).to_bytes(), 1))
    return digest, records


def embedding_record(
    embedder: ImageEmbedder, path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> FingerprintRecord:
    """The stored embedding of one image: ``emb:<model_id>``, little-endian float32."""
    vector = embed_image(embedder, path, max_pixels=max_pixels)
    return FingerprintRecord(
        embedding_algo(embedder.model_id), vector_bytes(vector), EMBEDDING_FORMAT_VERSION
    )


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


@dataclass(frozen=True, slots=True)
class _FingerprintJob:
    """A picklable fingerprinting task for one file (run in a worker process)."""

    kind: WorkKind | None
    max_pixels: int

    def __call__(self, path: Path) -> tuple[WorkKind, str, list[FingerprintRecord]] | UserError:
        kind = self.kind or detect_kind(path) or WorkKind.OTHER
        try:
            digest, records = fingerprint_file(path, kind, max_pixels=self.max_pixels)
        except UserError as exc:
            return exc
        return kind, digest, records


BATCH = 256
"""Files fingerprinted ahead of registration; bounds memory however large the folder."""


def _fingerprinted(
    targets: Sequence[Target], job: _FingerprintJob, workers: int
) -> Iterator[tuple[Target, tuple[WorkKind, str, list[FingerprintRecord]] | UserError | None]]:
    """Yield each target with its fingerprints (None for identifiers), in order, in parallel."""
    if workers <= 1:
        for t in targets:
            yield t, (job(t.path) if t.path is not None else None)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=process_context()) as pool:
        for start in range(0, len(targets), BATCH):
            batch = targets[start : start + BATCH]
            paths = [t.path for t in batch if t.path is not None]
            chunk = max(1, min(16, len(paths) // (workers * 4) or 1))
            results = iter(pool.map(job, paths, chunksize=chunk))
            for t in batch:
                yield t, (next(results) if t.path is not None else None)


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
    workers: int | None = 1,
    progress: ProgressFn | None = None,
    embedder: ImageEmbedder | None = None,
    update_terms: bool = False,
    similar: ContentCheck | None = None,
) -> AddSummary:
    """Register every file, folder and identifier in ``items`` for ``owner``.

    Files are fingerprinted by ``workers`` processes (None: every CPU) a batch
    ahead of registration; each work is then registered in its own transaction.
    With ``embedder``, image works also store their embedding vector.
    A file or identifier already registered with other terms is a
    ``ConflictError`` unless ``update_terms`` (the change is then audited).
    An identifier that names several works is a ``UserError`` listing them.
    With ``similar`` (``clearance.service.content_check``), a file whose content
    reproduces another owner's work becomes a disputed claim on it
    (``SqlStore.register``).
    """
    if not items:
        raise UserError("nothing to add: name files, folders or identifiers")
    if not owner.strip():
        raise UserError("an owner is required", hint="pass --owner NAME")
    owner = clean_name(owner, "owner name")  # before hours of hashing, not after
    targets, summary_skipped = _expand([parse_target(i) for i in items], kind)
    summary = AddSummary(skipped=summary_skipped)
    total = len(targets)
    n_files = sum(1 for t in targets if t.path is not None)
    n_workers = min(default_workers() if workers is None else max(1, workers), max(1, n_files))
    job = _FingerprintJob(kind, max_pixels)
    for done, (target, fingerprinted) in enumerate(
        _fingerprinted(targets, job, n_workers if n_files > 1 else 1), start=1
    ):
        label = str(target.path) if target.path else f"{target.identifier}"
        if (
            embedder is not None
            and target.path is not None
            and fingerprinted is not None
            and not isinstance(fingerprinted, UserError)
            and fingerprinted[0] in (WorkKind.IMAGE, WorkKind.CHARACTER)
        ):
            try:
                record = embedding_record(embedder, target.path, max_pixels=max_pixels)
                fingerprinted = (*fingerprinted[:2], [*fingerprinted[2], record])
            except UserError as exc:
                fingerprinted = exc
        if isinstance(fingerprinted, UserError):
            summary.skipped.append(Skipped(str(target.path), str(fingerprinted)))
        else:
            spec = _spec_for(
                target,
                fingerprinted,
                owner=owner,
                terms=terms,
                title=title,
                kind=kind,
                extra=extra_identifiers,
            )
            if update_terms:
                spec = replace(spec, update_terms=True)
            summary.registrations.append(store.register(spec, actor=actor, similar=similar))
        if progress is not None:
            progress(done, total, label)
    return summary


def add_upload(
    store: RegistryStore,
    data: bytes,
    label: str,
    *,
    owner: str,
    terms: TermsChange | None = None,
    title: str | None = None,
    kind: WorkKind | None = None,
    actor: str = "clearance",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    embedder: ImageEmbedder | None = None,
    similar: ContentCheck | None = None,
) -> AddSummary:
    """Register uploaded bytes as ``add_works`` registers a file (the HTTP API and the web app).

    The bytes go to a private temporary file named only ``upload`` plus a
    known extension taken from ``label`` (an uploaded name is hostile, and
    decides nothing else); the work's title defaults to ``label``.
    """
    if not data:
        raise UserError("the uploaded file is empty")
    suffix = Path(label).suffix.lower()
    known = IMAGE_EXTENSIONS | TEXT_EXTENSIONS | AUDIO_EXTENSIONS | VIDEO_EXTENSIONS
    name = "upload" + (suffix if suffix in known else "")
    with tempfile.TemporaryDirectory(prefix="clearance-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return add_works(
            store,
            [str(path)],
            owner=owner,
            terms=terms,
            title=title or label,
            kind=kind,
            actor=actor,
            max_pixels=max_pixels,
            workers=1,
            embedder=embedder,
            similar=similar,
        )


def register_identifier(
    store: RegistryStore,
    identifier: Identifier,
    *,
    owner: str,
    terms: TermsChange | None = None,
    title: str | None = None,
    kind: WorkKind | None = None,
    actor: str = "clearance",
) -> Registration:
    """Register one work known by an identifier alone (a URL, URL prefix, domain, ISBN, ...).

    For faces that must never read a local path (the HTTP API): the caller
    parses the identifier (``parse_identifier``), so nothing names a file.
    """
    owner = clean_name(owner, "owner name")
    spec = _spec_for(
        Target(identifier=identifier),
        None,
        owner=owner,
        terms=terms,
        title=title,
        kind=kind,
        extra=(),
    )
    return store.register(spec, actor=actor)


def _spec_for(
    target: Target,
    fingerprinted: tuple[WorkKind, str, list[FingerprintRecord]] | None,
    *,
    owner: str,
    terms: TermsChange | None,
    title: str | None,
    kind: WorkKind | None,
    extra: Sequence[Identifier],
) -> WorkSpec:
    if target.identifier is not None:
        ident = target.identifier
        guessed = None
        if ident.scheme is IdentifierScheme.URL:
            guessed = detect_kind(Path(urlsplit(ident.value).path))
        return WorkSpec(kind or guessed or WorkKind.OTHER, owner, (ident, *extra), title, (), terms)
    assert target.path is not None and fingerprinted is not None
    work_kind, digest, records = fingerprinted
    idents = (Identifier(IdentifierScheme.SHA256, digest), *extra)
    return WorkSpec(
        work_kind,
        owner,
        idents,
        title or target.path.name,
        tuple(records),
        terms,
        source=target.path,
    )

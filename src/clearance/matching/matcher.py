"""The cascade: one item or output in, every registered work it matches out.

Both jobs call ``match``. The scan builds a ``Query`` from a dataset row, the
guard from an upload; the same stages run in the same order with the same
thresholds:

1. identifiers: the SHA-256 of the bytes (or a known digest), the URL (exact,
   prefix, domain) and any ISBN/ISRC/ISCC the item carries;
2. from ``pdq`` on, content fingerprints: an image's global PDQ with its 8
   rotations/flips, a text's containment (and the short-text rule), an audio
   item's Chromaprint, a video's frames;
3. from ``regions`` on, an image no PDQ hash matched is matched by its regions;
4. from ``embedding`` on, an image still unmatched is embedded (when an
   embedder is configured; otherwise the result says why it did not run).

Character names are matched in prompts and texts only when asked
(``names=True``, the guard): a name in an output or a prompt asks for the
character, while a training text that mentions one does not reproduce it.

Matches of works that no longer exist (removed since the index was built) are
dropped here, against the job's ``works`` lookup, before the cascade decides
whether to go further.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clearance.core.models import Identifier, Work
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS
from clearance.matching.exact import IdentifierQuery
from clearance.matching.image import (
    ImageQuery,
    embedding_note,
    search_embedding,
    search_image_pdq,
    search_regions,
)
from clearance.matching.index import MatchIndex
from clearance.matching.media import search_audio, search_video
from clearance.matching.text import TextQuery
from clearance.matching.types import Match, MatchLevel

WorkLookup = Callable[[int], Work | None]
"""The job's view of the registry: a work by id, or None when it is gone."""

_CHUNK = 1 << 20


@dataclass(slots=True)
class Query:
    """What is matched: an item of a dataset or a generated output.

    ``data`` or ``path`` hold the content of an image, audio or video item
    (``media`` says which; ``name`` names it in errors and gives audio/video
    bytes their extension); ``text`` is text content; ``url``, ``sha256`` and
    ``identifiers`` are matched exactly; ``prompt`` is searched for
    character names only.
    """

    media: str = "other"
    data: bytes | None = None
    path: Path | None = None
    name: str = "item"
    text: str | None = None
    url: str | None = None
    sha256: str | None = None
    identifiers: tuple[Identifier, ...] = ()
    prompt: str | None = None

    def digest(self) -> str | None:
        """The content's SHA-256 (hex): given, or computed from the bytes or the file."""
        if self.sha256 is not None:
            return self.sha256
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        if self.path is not None:
            h = hashlib.sha256()
            with open(self.path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
            return h.hexdigest()
        return None


@dataclass(slots=True)
class MatchResult:
    """Every match of one query, the stages that ran, and notes on stages that could not."""

    matches: list[Match] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None
    pdq_quality: int | None = None

    def work_ids(self) -> list[int]:
        return sorted({m.work_id for m in self.matches})


def match(
    index: MatchIndex,
    query: Query,
    works: WorkLookup,
    *,
    level: MatchLevel | None = None,
    embedder: ImageEmbedder | None = None,
    names: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> MatchResult:
    """Run the cascade (up to ``level``, by default the index's own) and return what matched.

    Raises ``UnsupportedInput``/``ImageTooLarge`` for content that cannot be
    decoded (the scan makes that an error row, the guard an HTTP 4xx).
    """
    level = level or index.level
    out = MatchResult()

    def keep(found: list[Match]) -> list[Match]:
        kept = [m for m in found if works(m.work_id) is not None]
        out.matches += kept
        return kept

    source = query.data if query.data is not None else query.path
    out.sha256 = query.digest() if source is not None or query.sha256 else None
    exact = IdentifierQuery(out.sha256, query.url, query.identifiers)
    exact_lookup = bool(exact.sha256 or exact.url or exact.identifiers)
    if level.reaches(MatchLevel.PDQ):
        if query.media == "image" and source is not None:
            image = ImageQuery.decode(source, max_pixels=max_pixels)
            out.pdq_quality = image.hash.quality
            out.checks.append("pdq")
            found = keep(search_image_pdq(index.pdq, image))
            if not found and level.reaches(MatchLevel.REGIONS):
                out.checks.append("region")
                found = keep(search_regions(index.regions, image))
            if not found and level.reaches(MatchLevel.EMBEDDING):
                note = embedding_note(index.embeddings, embedder)
                if note is not None or embedder is None:
                    out.notes.append(note or "")
                else:
                    out.checks.append("embedding")
                    keep(search_embedding(index.embeddings, image, embedder))
        elif query.media == "audio" and source is not None:
            out.checks.append("chromaprint")
            keep(search_audio(source, query.name, index.audio))
        elif query.media == "video" and source is not None:
            out.checks.append("frames")
            keep(search_video(source, query.name, index.video))
        if query.text:
            out.checks.append("text-containment")
            keep(index.text.search(TextQuery.of(query.text)))
    if names and (query.prompt or query.text):
        out.checks.append("alias")
        seen: set[int] = set()
        for said in (query.prompt, query.text):
            for found_name in index.names.find(said or ""):
                if found_name.key not in seen:
                    seen.add(found_name.key)
                    keep([Match(found_name.key, "alias", 1.0, None, found_name.span)])
    if exact_lookup:  # exact lookups last: content evidence is the more telling
        keep(index.identifiers.search(exact))
    return out

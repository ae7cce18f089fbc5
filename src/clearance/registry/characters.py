"""Registering characters: a name, its aliases and a folder of reference images.

A character (SpongeBob, Pikachu) is protected as a *character*, not as one
picture: the output guard looks for its name and aliases in prompts and
captions, and for its reference art in generated images. So a character work
carries ``name`` identifiers (the name first, then each alias) and, for every
reference image, the same image fingerprints as an image work (SHA-256, PDQ
with quality, crop/pad region codes), plus one embedding vector per
reference image when an image ``embedder`` is configured (so the guard finds
the art composited onto another picture). Registering the same name again for the
same owner adds nothing new but the aliases; another owner makes a dispute,
as for any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clearance.core.errors import InputNotFound, UserError
from clearance.core.models import Identifier, IdentifierScheme, WorkKind
from clearance.core.validation import clean_name
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS
from clearance.registry.records import FingerprintRecord, Registration, TermsChange, WorkSpec
from clearance.registry.register import (
    IMAGE_EXTENSIONS,
    Skipped,
    embedding_record,
    fingerprint_file,
)
from clearance.registry.store import RegistryStore


@dataclass(slots=True)
class CharacterSummary:
    registration: Registration
    images: int = 0
    skipped: list[Skipped] = field(default_factory=list)


def _clean(name: str) -> str:
    text = " ".join(name.split())
    if len(text) < 2:
        raise UserError(f"a character name or alias needs at least 2 characters: {name!r}")
    return clean_name(text, "character name")


def add_character(
    store: RegistryStore,
    name: str,
    *,
    owner: str,
    aliases: Sequence[str] = (),
    images: str | Path | None = None,
    terms: TermsChange | None = None,
    actor: str = "clearance",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    embedder: ImageEmbedder | None = None,
) -> CharacterSummary:
    """Register a character with its aliases and reference images (a folder or one file).

    With ``embedder``, each reference image also stores its embedding vector.
    """
    names = list(dict.fromkeys(_clean(n) for n in (name, *aliases)))
    owner = clean_name(owner, "owner name")
    records: list[FingerprintRecord] = []
    skipped: list[Skipped] = []
    count = 0
    if images is not None:
        root = Path(images)
        if not root.exists():
            raise InputNotFound(f"no such file or directory: {root}")
        if not (root.is_file() or root.is_dir()):
            raise UserError(f"not a regular file or folder: {root}")
        files = (
            [root]
            if root.is_file()
            else sorted(
                p
                for p in root.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_EXTENSIONS
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        )
        for path in files:
            try:
                _, fps = fingerprint_file(path, WorkKind.CHARACTER, max_pixels=max_pixels)
                if embedder is not None:
                    fps.append(embedding_record(embedder, path, max_pixels=max_pixels))
            except UserError as exc:
                skipped.append(Skipped(str(path), str(exc)))
                continue
            records.extend(fps)
            count += 1
        if not count:
            raise UserError(
                f"no usable reference image in {root}", hint="give a folder of JPEG/PNG/WebP images"
            )
    idents = tuple(Identifier(IdentifierScheme.NAME, n) for n in names)
    spec = WorkSpec(WorkKind.CHARACTER, owner, idents, names[0], tuple(records), terms)
    return CharacterSummary(store.register(spec, actor=actor), count, skipped)

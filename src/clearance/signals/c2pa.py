"""C2PA / CAWG training-and-data-mining assertions: an opt-out signed into the file itself.

A C2PA manifest can carry a ``cawg.training-mining`` assertion (CAWG 1.1), or
the legacy ``c2pa.training-mining`` of C2PA 1.x, that says per use
(``data_mining``, ``ai_inference``, ``ai_generative_training``,
``ai_training``) whether it is ``allowed``, ``notAllowed`` or ``constrained``.
Because it is cryptographically bound to the asset it is the strongest
per-file signal we read, and files mix both labels, so both are read.

The decision comes from the active manifest only; assertions found in
ingredient manifests (earlier versions, composited sources) are kept apart
as ``ingredient_entries`` so a caller can show them without letting a
source image's terms silently decide for the derived one.

``parse_manifest_store`` is pure (it reads the manifest-store JSON that
c2pa-python produces). ``read_c2pa`` wraps the optional ``c2pa-python``
package, imported lazily because it is a large native library; without it,
``read_c2pa`` raises ``UnsupportedInput`` with the install hint.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from clearance.core import InputNotFound, UnsupportedInput

LABELS = ("cawg.training-mining", "c2pa.training-mining")
KINDS = ("data_mining", "ai_inference", "ai_generative_training", "ai_training")
INSTALL_HINT = "pip install c2pa-python"


class TrainingUse(StrEnum):
    """The three values of an entry's ``use``."""

    ALLOWED = "allowed"
    NOT_ALLOWED = "notAllowed"
    CONSTRAINED = "constrained"


_USE_SPELLINGS = {
    "allowed": TrainingUse.ALLOWED,
    "notallowed": TrainingUse.NOT_ALLOWED,
    "disallowed": TrainingUse.NOT_ALLOWED,
    "prohibited": TrainingUse.NOT_ALLOWED,
    "constrained": TrainingUse.CONSTRAINED,
}


@dataclass(frozen=True, slots=True)
class TrainingMiningEntry:
    """One entry of a training-mining assertion.

    ``key`` is as written (``cawg.ai_training``); ``kind`` is the bare use name
    (``ai_training``) or ``None`` for a key we do not know. ``use`` is ``None``
    when the value was unreadable (``raw_use`` keeps it).
    """

    key: str
    kind: str | None
    use: TrainingUse | None
    raw_use: str
    constraint_info: str | None = None
    label: str = ""
    manifest: str = ""


@dataclass(frozen=True, slots=True)
class C2paTrainingMining:
    """Training-mining statements of one asset's manifest store."""

    active_manifest: str | None = None
    entries: tuple[TrainingMiningEntry, ...] = ()
    ingredient_entries: tuple[TrainingMiningEntry, ...] = ()
    validation_state: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def has_manifest(self) -> bool:
        return self.active_manifest is not None

    def use_of(self, kind: str) -> TrainingUse | None:
        """The active manifest's most restrictive statement on ``kind`` (``ai_training`` ...)."""
        rank = {TrainingUse.ALLOWED: 0, TrainingUse.CONSTRAINED: 1, TrainingUse.NOT_ALLOWED: 2}
        uses = [e.use for e in self.entries if e.kind == kind and e.use is not None]
        return max(uses, key=lambda u: rank[u]) if uses else None


def _base_label(label: str) -> str:
    """``cawg.training-mining__2`` or ``c2pa.training-mining.v2`` -> the bare label."""
    return re.sub(r"\.v\d+$", "", label.split("__")[0])


def _entries(
    assertion: Mapping[str, Any], manifest: str, warnings: list[str]
) -> list[TrainingMiningEntry]:
    label = str(assertion.get("label", ""))
    data = assertion.get("data")
    entries = data.get("entries") if isinstance(data, Mapping) else None
    if not isinstance(entries, Mapping):
        warnings.append(f"{label} in {manifest} has no entries object")
        return []
    out: list[TrainingMiningEntry] = []
    for key, value in entries.items():
        key = str(key)
        prefix, _, rest = key.partition(".")
        kind = rest if prefix in ("cawg", "c2pa") and rest in KINDS else None
        if kind is None and key in KINDS:
            kind = key
            warnings.append(f"{label} key {key!r} lacks the cawg./c2pa. prefix")
        elif kind is None:
            warnings.append(f"{label} has unknown key {key!r}")
        info: str | None = None
        if isinstance(value, Mapping):
            raw_use = value.get("use")
            info_value = value.get("constraint_info", value.get("constraintInfo"))
            info = str(info_value) if info_value is not None else None
        else:
            raw_use = value
            warnings.append(f"{label} entry {key!r} is not an object")
        text = str(raw_use) if raw_use is not None else ""
        use = _USE_SPELLINGS.get(re.sub(r"[\s_\-]", "", text).lower())
        if use is None:
            warnings.append(f"{label} entry {key!r} has unknown use {text[:40]!r}")
        elif text != use.value:
            warnings.append(f"{label} entry {key!r} use {text!r} read as {use.value!r}")
        out.append(TrainingMiningEntry(key, kind, use, text, info, label, manifest))
    return out


def parse_manifest_store(store: str | bytes | Mapping[str, Any]) -> C2paTrainingMining:
    """Read training-mining assertions from a C2PA manifest store's JSON (as c2pa-python gives it).

    The active manifest decides (``entries``); every other manifest in the
    store is an ingredient's (``ingredient_entries``).
    """
    warnings: list[str] = []
    doc: Any = store
    if isinstance(store, str | bytes):
        try:
            doc = json.loads(store)
        except (ValueError, RecursionError) as exc:
            return C2paTrainingMining(warnings=(f"manifest store is not JSON: {exc}",))
    if not isinstance(doc, Mapping):
        return C2paTrainingMining(warnings=("manifest store is not a JSON object",))
    manifests = doc.get("manifests")
    manifests = manifests if isinstance(manifests, Mapping) else {}
    active = doc.get("active_manifest")
    active = str(active) if active is not None else None
    if active is not None and active not in manifests:
        warnings.append(f"active manifest {active!r} is not in the store")
    state = doc.get("validation_state")
    state = str(state) if state is not None else None
    if state is not None and state.lower() == "invalid":
        warnings.append("the manifest store does not validate; its assertions may be tampered")
    entries: list[TrainingMiningEntry] = []
    ingredients: list[TrainingMiningEntry] = []
    for label, manifest in manifests.items():
        if not isinstance(manifest, Mapping):
            continue
        assertions = manifest.get("assertions")
        for assertion in assertions if isinstance(assertions, list) else []:
            if not isinstance(assertion, Mapping):
                continue
            if _base_label(str(assertion.get("label", ""))) not in LABELS:
                continue
            found = _entries(assertion, str(label), warnings)
            (entries if label == active else ingredients).extend(found)
    return C2paTrainingMining(active, tuple(entries), tuple(ingredients), state, tuple(warnings))


def _sniff(data: bytes) -> str | None:
    """A MIME type c2pa-python understands, from magic bytes; ``None`` to let it guess."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/avi"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head.startswith(b"%PDF"):
        return "application/pdf"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3")):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1"):
            return "image/heic"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    return None


_MANIFEST_LABEL = b"c2pa"


def read_c2pa(
    source: bytes | str | os.PathLike[str], mime_type: str | None = None
) -> C2paTrainingMining:
    """Read an asset's C2PA manifest store with c2pa-python and parse its training-mining terms.

    ``source`` is the file's bytes or a path. No manifest gives an empty
    result; a corrupt or unsupported file gives an empty result with a
    warning. Raises ``UnsupportedInput`` when c2pa-python is not installed and
    ``InputNotFound`` for a path that does not exist.
    """
    try:
        import c2pa as c2pa_lib
    except ImportError:
        raise UnsupportedInput(
            "reading C2PA manifests needs the optional c2pa-python package", hint=INSTALL_HINT
        ) from None
    if not isinstance(source, bytes | bytearray | memoryview):
        path = Path(source)
        if not path.is_file():
            raise InputNotFound(f"no such file: {path}")
        data = None
    else:
        data = bytes(source)
        if _MANIFEST_LABEL not in data:
            # Every embedded manifest store is a JUMBF box labelled "c2pa"; without
            # those bytes there is nothing to read, and the reader costs ~0.6 ms.
            return C2paTrainingMining()
    try:
        if data is None:
            reader = c2pa_lib.Reader.try_create(str(path))
        else:
            fmt = mime_type or _sniff(data)
            stream = io.BytesIO(data)
            reader = (
                c2pa_lib.Reader.try_create(fmt, stream)
                if fmt
                else c2pa_lib.Reader.try_create(stream)
            )
        if reader is None:
            return C2paTrainingMining()
        with reader:
            text = reader.json()
    except c2pa_lib.C2paError as exc:
        return C2paTrainingMining(warnings=(f"C2PA data could not be read: {exc}",))
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        return C2paTrainingMining(warnings=(f"C2PA reader failed: {type(exc).__name__}: {exc}",))
    return parse_manifest_store(text)

"""Signals embedded in a file: C2PA/CAWG, IPTC plus:DataMining, XMP, EPUB and PDF TDMRep.

This is what ``clearance inspect`` and the dataset scan read from local files.
It dispatches on the file's bytes (not its name), runs every parser that can
apply, and returns the evidence with the warnings. It never raises on a bad
file: an unreadable one comes back with a warning.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from clearance.core import Evidence, InputNotFound, UnsupportedInput
from clearance.signals.c2pa import read_c2pa
from clearance.signals.iptc_xmp import read_iptc_data_mining
from clearance.signals.mapping import (
    evidence_from_c2pa,
    evidence_from_c2pa_ingredients,
    evidence_from_iptc,
    evidence_from_tdmrep,
)
from clearance.signals.tdmrep import tdmrep_from_epub, tdmrep_from_pdf, tdmrep_from_xmp
from clearance.signals.xmp import find_xmp_packets

MAX_INSPECT_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class EmbeddedSignals:
    """What a file says about itself. ``ingredients`` is evidence from C2PA ingredients."""

    evidence: tuple[Evidence, ...]
    ingredients: tuple[Evidence, ...] = ()
    warnings: tuple[str, ...] = ()
    kind: str = "other"


def _kind(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith(b"PK\x03\x04") and b"mimetypeapplication/epub+zip" in data[:100]:
        return "epub"
    if (
        data[:3] == b"\xff\xd8\xff"
        or data.startswith(b"\x89PNG")
        or data[:4] in (b"II*\x00", b"MM\x00*")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    ):
        return "image"
    return "other"


def embedded_signals(data: bytes, *, c2pa: bool = True) -> EmbeddedSignals:
    """Evidence from every embedded signal in ``data``."""
    evidence: list[Evidence] = []
    ingredients: list[Evidence] = []
    warnings: list[str] = []
    kind = _kind(data)
    if c2pa:
        try:
            manifest = read_c2pa(data)
            evidence += evidence_from_c2pa(manifest)
            ingredients += evidence_from_c2pa_ingredients(manifest)
            warnings += [f"c2pa: {w}" for w in manifest.warnings]
        except UnsupportedInput as exc:
            warnings.append(f"c2pa not read: {exc}")
    if kind == "image":
        iptc = read_iptc_data_mining(data)
        evidence += evidence_from_iptc(iptc)
        warnings += [f"iptc: {w}" for w in iptc.warnings]
        packets, xmp_warnings = find_xmp_packets(data)
        warnings += [f"xmp: {w}" for w in xmp_warnings]
        for packet in packets:
            signal = tdmrep_from_xmp(packet, source="xmp")
            evidence += evidence_from_tdmrep(signal)
    elif kind == "pdf":
        signal = tdmrep_from_pdf(data)
        evidence += evidence_from_tdmrep(signal)
        warnings += [f"pdf: {w}" for w in signal.warnings]
    elif kind == "epub":
        signal = tdmrep_from_epub(data)
        evidence += evidence_from_tdmrep(signal)
        warnings += [f"epub: {w}" for w in signal.warnings]
    return EmbeddedSignals(
        tuple(evidence), tuple(ingredients), tuple(dict.fromkeys(warnings)), kind
    )


def inspect_file(path: str | Path, *, c2pa: bool = True) -> EmbeddedSignals:
    """Read a local file and return its embedded signals; raises only for a missing file."""
    p = Path(path)
    if not p.is_file():
        raise InputNotFound(f"no such file: {p}")
    size = p.stat().st_size
    if size > MAX_INSPECT_BYTES:
        return EmbeddedSignals((), (), (f"file is {size} bytes; over the inspection limit",))
    try:
        data = p.read_bytes()
    except OSError as exc:
        return EmbeddedSignals((), (), (f"cannot read file: {exc.strerror}",))
    try:
        return embedded_signals(data, c2pa=c2pa)
    except (zipfile.BadZipFile, ValueError) as exc:  # defensive: parsers are lenient
        return EmbeddedSignals((), (), (f"unreadable: {exc}",))

"""IPTC Photo Metadata ``plus:DataMining``: the data-mining reservation embedded in an image.

Since IPTC Photo Metadata Standard 2023.1 a photo can carry its own answer to
"may this be mined or used for AI training?" in XMP, as one URI from the PLUS
vocabulary (``http://ns.useplus.org/ldf/vocab/DMI-...``), with free text in
``plus:OtherConstraints`` when the code says "see constraint". Because the
statement travels inside the file, it survives re-hosting, which is why a
dataset scan reads it even when the page it came from said nothing.

Real files are sloppy: bare codes without the URI, lower case, and invented
codes all occur. This parser accepts what it can recognise, records a warning
for every liberty it takes, and reports an unrecognised value as raw text with
no code rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from clearance.signals.xmp import find_xmp_packets, parse_xmp, xmp_values

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"


class DataMining(StrEnum):
    """The PLUS Data Mining vocabulary codes (IPTC Photo Metadata 2023.1+)."""

    UNSPECIFIED = "DMI-UNSPECIFIED"
    ALLOWED = "DMI-ALLOWED"
    PROHIBITED_AIML_TRAINING = "DMI-PROHIBITED-AIMLTRAINING"
    PROHIBITED_GENAIML_TRAINING = "DMI-PROHIBITED-GENAIMLTRAINING"
    PROHIBITED_EXCEPT_SEARCH = "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING"
    PROHIBITED = "DMI-PROHIBITED"
    PROHIBITED_SEE_CONSTRAINT = "DMI-PROHIBITED-SEECONSTRAINT"
    PROHIBITED_SEE_EMBEDDED = "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR"
    PROHIBITED_SEE_LINKED = "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR"

    @property
    def uri(self) -> str:
        return PLUS_VOCAB + self.value


@dataclass(frozen=True, slots=True)
class IptcDataMining:
    """What an image's XMP says about data mining.

    ``code`` is ``None`` when the file has no ``plus:DataMining`` or its value is
    not a known code; ``raw`` then still holds what was written.
    """

    code: DataMining | None = None
    raw: str | None = None
    other_constraints: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def present(self) -> bool:
        """Whether the file states anything at all."""
        return self.raw is not None


def parse_data_mining_value(value: str) -> tuple[DataMining | None, tuple[str, ...]]:
    """Recognise one ``plus:DataMining`` value: the full URI, or leniently a bare/odd-case code."""
    text = value.strip()
    if text.startswith(PLUS_VOCAB):
        try:
            return DataMining(text[len(PLUS_VOCAB) :]), ()
        except ValueError:
            pass
    tail = text.rstrip("/").rsplit("/", 1)[-1].strip()
    candidate = tail.upper().replace("_", "-")
    if not candidate.startswith("DMI-") and candidate.startswith("DMI"):
        candidate = "DMI-" + candidate[3:]
    try:
        code = DataMining(candidate)
    except ValueError:
        return None, (f"plus:DataMining value {value!r} is not a known DMI code",)
    if text == PLUS_VOCAB + code.value:
        return code, ()
    return code, (f"plus:DataMining value {value!r} read as {code.uri} (expected the full URI)",)


def parse_xmp_data_mining(packet: bytes | str) -> IptcDataMining:
    """Read ``plus:DataMining`` and ``plus:OtherConstraints`` from one XMP packet."""
    root, parse_warnings = parse_xmp(packet)
    if root is None:
        return IptcDataMining(warnings=parse_warnings)
    warnings = list(parse_warnings)
    values = xmp_values(root, PLUS_NS, "DataMining")
    constraints = xmp_values(root, PLUS_NS, "OtherConstraints")
    other = constraints[0] if constraints else None
    if not values:
        return IptcDataMining(other_constraints=other, warnings=tuple(warnings))
    codes: list[tuple[DataMining | None, str]] = []
    for v in values:
        code, w = parse_data_mining_value(v)
        warnings.extend(w)
        codes.append((code, v))
    distinct = {c for c, _ in codes if c is not None}
    if len(distinct) > 1:
        names = ", ".join(sorted(c.value for c in distinct))
        warnings.append(f"several plus:DataMining values ({names}); the most restrictive is used")
    code, raw = _most_restrictive(codes)
    if code is DataMining.PROHIBITED_SEE_CONSTRAINT and other is None:
        warnings.append("DMI-PROHIBITED-SEECONSTRAINT without plus:OtherConstraints")
    return IptcDataMining(code, raw, other, tuple(warnings))


def read_iptc_data_mining(data: bytes) -> IptcDataMining:
    """Find the XMP in an image (JPEG, PNG, TIFF, WebP, or any file with a raw packet) and read it.

    When several packets carry ``plus:DataMining`` (a JPEG's main and extended
    XMP, or stale copies), the most restrictive value is used, with a warning.
    """
    packets, find_warnings = find_xmp_packets(data)
    warnings = list(find_warnings)
    found: list[IptcDataMining] = []
    other: str | None = None
    for packet in packets:
        result = parse_xmp_data_mining(packet)
        warnings.extend(result.warnings)
        if result.present:
            found.append(result)
        other = other or result.other_constraints
    if not found:
        return IptcDataMining(other_constraints=other, warnings=tuple(warnings))
    code, raw = _most_restrictive([(r.code, r.raw or "") for r in found])
    if len({r.code for r in found}) > 1:
        warnings.append("XMP packets disagree on plus:DataMining; the most restrictive is used")
    return IptcDataMining(code, raw, other, tuple(warnings))


SEE_CODES = frozenset(
    {
        DataMining.PROHIBITED_SEE_CONSTRAINT,
        DataMining.PROHIBITED_SEE_EMBEDDED,
        DataMining.PROHIBITED_SEE_LINKED,
    }
)

"""The codes that prohibit and point elsewhere (constraint text, embedded or linked rights)."""

# Higher is more restrictive. An unrecognised value says nothing, so it ranks lowest.
_RANK: dict[DataMining | None, int] = {
    None: -1,
    DataMining.UNSPECIFIED: 0,
    DataMining.ALLOWED: 1,
    DataMining.PROHIBITED_GENAIML_TRAINING: 2,
    DataMining.PROHIBITED_AIML_TRAINING: 3,
    DataMining.PROHIBITED_EXCEPT_SEARCH: 4,
    DataMining.PROHIBITED_SEE_LINKED: 5,
    DataMining.PROHIBITED_SEE_EMBEDDED: 5,
    DataMining.PROHIBITED_SEE_CONSTRAINT: 5,
    DataMining.PROHIBITED: 6,
}


def _most_restrictive(
    codes: list[tuple[DataMining | None, str]],
) -> tuple[DataMining | None, str]:
    return max(codes, key=lambda item: _RANK[item[0]])

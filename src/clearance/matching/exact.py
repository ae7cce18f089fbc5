"""Identifiers: the exact signal types (SHA-256, URL, URL prefix, domain, ISBN, ISRC, ISCC).

Why one index for all of them: each is a point lookup of ``scheme:value``,
so the index holds one 64-bit key per registered identifier (the first 8
bytes of SHA-256 over ``scheme:value``), sorted, with the work of each, and
answers a whole item in a few ``searchsorted`` calls without asking the
store. URL prefixes are kept per host (an item's URL is compared with the few
prefixes of its own host); a domain claim is found by looking up the item's
host and each parent domain.

Like the other indexes it is immutable: ``with_identifiers`` returns a new
one with a new segment, so a live guard can grow it while checks run. The
scan saves it (``save``) into its run index and workers open it
memory-mapped (``load``).

A key collision (two different identifiers with the same 64-bit key) would
report a work whose identifier differs; at 2**-64 per pair this is ignored.
``compare`` is the brute-force twin over the identifiers themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from clearance.core.errors import UserError
from clearance.core.files import atomic_path, atomic_write_text
from clearance.core.models import Identifier, IdentifierScheme
from clearance.matching.segments import MAX_SEGMENTS
from clearance.matching.types import Match
from clearance.registry.identifiers import normalise_url

KEYED = (
    IdentifierScheme.SHA256,
    IdentifierScheme.URL,
    IdentifierScheme.DOMAIN,
    IdentifierScheme.ISBN,
    IdentifierScheme.ISRC,
    IdentifierScheme.ISCC,
)
"""Schemes matched by equality (a key each); URL prefixes are matched per host."""

_KEYS = "identifiers.keys.npy"
_WORKS = "identifiers.works.npy"
_PREFIXES = "identifiers.prefixes.json"


def identifier_key(scheme: IdentifierScheme, value: str) -> int:
    """A 64-bit key of ``scheme:value`` (first 8 bytes of its SHA-256, little-endian)."""
    digest = hashlib.sha256(f"{scheme.value}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True, slots=True)
class IdentifierQuery:
    """What an item offers to exact matching: its bytes' SHA-256, its URL, other identifiers."""

    sha256: str | None = None
    url: str | None = None
    identifiers: tuple[Identifier, ...] = ()

    def keyed(self) -> list[tuple[IdentifierScheme, str, str]]:
        """``(scheme, value, method)`` for every equality lookup this query makes."""
        out: list[tuple[IdentifierScheme, str, str]] = []
        if self.sha256:
            out.append((IdentifierScheme.SHA256, self.sha256, "sha256"))
        norm = self.normalised_url()
        if norm is not None:
            out.append((IdentifierScheme.URL, norm, "url"))
            labels = (urlsplit(norm).hostname or "").split(".")
            for i in range(len(labels)):
                out.append((IdentifierScheme.DOMAIN, ".".join(labels[i:]), "domain"))
        for ident in self.identifiers:
            if ident.scheme in KEYED:
                out.append((ident.scheme, ident.value, ident.scheme.value))
        return out

    def normalised_url(self) -> str | None:
        if self.url is None:
            return None
        try:
            return normalise_url(self.url)
        except (UserError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class _KeySegment:
    keys: npt.NDArray[np.uint64]
    works: npt.NDArray[np.int64]


def _segment(pairs: Sequence[tuple[int, int]]) -> _KeySegment:
    keys = np.array([k for k, _ in pairs], dtype=np.uint64)
    works = np.array([w for _, w in pairs], dtype=np.int64)
    order = np.lexsort((works, keys))
    return _KeySegment(keys[order], works[order])


@dataclass(frozen=True)
class IdentifierIndex:
    """Registered identifiers: sorted key segments, and URL prefixes by host."""

    segments: tuple[_KeySegment, ...] = ()
    prefixes: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @staticmethod
    def build(pairs: Iterable[tuple[int, Identifier]]) -> IdentifierIndex:
        return IdentifierIndex().with_identifiers(pairs)

    def with_identifiers(self, pairs: Iterable[tuple[int, Identifier]]) -> IdentifierIndex:
        """A new index holding these plus ``pairs`` (this one is unchanged)."""
        keyed: list[tuple[int, int]] = []
        prefixes = {h: list(v) for h, v in self.prefixes.items()}
        changed = False
        for work_id, ident in pairs:
            if ident.scheme in KEYED:
                keyed.append((identifier_key(ident.scheme, ident.value), work_id))
            elif ident.scheme is IdentifierScheme.URL_PREFIX:
                host = urlsplit(ident.value).netloc
                entry = (ident.value, work_id)
                if entry not in prefixes.setdefault(host, []):
                    prefixes[host].append(entry)
                    changed = True
        if not keyed and not changed:
            return self
        segments = list(self.segments)
        if keyed:
            segments.append(_segment(keyed))
        if len(segments) > MAX_SEGMENTS:
            base, rest = segments[0], segments[1:]
            merged = _KeySegment(
                np.concatenate([s.keys for s in rest]), np.concatenate([s.works for s in rest])
            )
            order = np.lexsort((merged.works, merged.keys))
            segments = [base, _KeySegment(merged.keys[order], merged.works[order])]
        frozen = {h: tuple(sorted(v)) for h, v in prefixes.items()}
        return IdentifierIndex(tuple(segments), frozen)

    def __len__(self) -> int:
        return sum(len(s.keys) for s in self.segments) + sum(len(v) for v in self.prefixes.values())

    def search(self, query: IdentifierQuery) -> list[Match]:
        """Every work holding one of the query's identifiers, one match per (work, method)."""
        out: dict[tuple[int, str], Match] = {}
        lookups = query.keyed()
        if lookups and self.segments:
            keys = np.array([identifier_key(s, v) for s, v, _ in lookups], dtype=np.uint64)
            for segment in self.segments:
                lo = np.searchsorted(segment.keys, keys, side="left")
                hi = np.searchsorted(segment.keys, keys, side="right")
                for i in np.flatnonzero(hi > lo).tolist():
                    method = lookups[i][2]
                    for work_id in np.asarray(segment.works[lo[i] : hi[i]]).tolist():
                        out.setdefault((int(work_id), method), Match(int(work_id), method))
        norm = query.normalised_url()
        if norm is not None:
            for prefix, work_id in self.prefixes.get(urlsplit(norm).netloc, ()):
                if norm.startswith(prefix):
                    out.setdefault((work_id, "url-prefix"), Match(work_id, "url-prefix"))
        return sorted(out.values(), key=lambda m: (m.work_id, m.method))

    def lookup_keys(self, keys: Sequence[int]) -> list[tuple[int, ...]]:
        """For each 64-bit key, the works registered under it: one ``searchsorted`` per segment."""
        out: list[tuple[int, ...]] = [() for _ in keys]
        if not len(keys) or not self.segments:
            return out
        arr = np.array(keys, dtype=np.uint64)
        for segment in self.segments:
            lo = np.searchsorted(segment.keys, arr, side="left")
            hi = np.searchsorted(segment.keys, arr, side="right")
            for i in np.flatnonzero(hi > lo).tolist():
                found = np.asarray(segment.works[lo[i] : hi[i]]).tolist()
                out[i] = tuple(sorted({*out[i], *found}))
        return out

    def search_urls(self, urls: Sequence[str]) -> list[list[Match]]:
        """``search(IdentifierQuery(url=u))`` for many already-normalised URLs at once.

        Why: a URL table (and the bulk query) asks the same three questions of
        every row (the exact URL, its host's domain claims, its host's
        prefixes). Here the URL keys are looked up in one ``searchsorted`` per
        segment, domain claims once per distinct host, and prefixes only for
        rows of hosts that have any. Agreement tests hold it to ``search``.
        """
        out: list[list[Match]] = [[] for _ in urls]
        if not urls:
            return out
        found: list[dict[tuple[int, str], Match]] = [{} for _ in urls]
        hosts: dict[str, list[int]] = {}
        for i, url in enumerate(urls):  # normalised: scheme://host[:port]/...
            hosts.setdefault(url.partition("://")[2].partition("/")[0], []).append(i)
        if self.segments:
            url_keys = [identifier_key(IdentifierScheme.URL, u) for u in urls]
            for i, works in enumerate(self.lookup_keys(url_keys)):
                for work_id in works:
                    found[i].setdefault((work_id, "url"), Match(work_id, "url"))
            domain_keys: list[int] = []
            domain_host: list[str] = []
            for netloc, rows in hosts.items():
                labels = (urlsplit(urls[rows[0]]).hostname or "").split(".")
                for j in range(len(labels)):
                    domain_keys.append(
                        identifier_key(IdentifierScheme.DOMAIN, ".".join(labels[j:]))
                    )
                    domain_host.append(netloc)
            for netloc, works in zip(domain_host, self.lookup_keys(domain_keys), strict=True):
                for work_id in works:
                    for i in hosts[netloc]:
                        found[i].setdefault((work_id, "domain"), Match(work_id, "domain"))
        for netloc, rows in hosts.items():
            for prefix, work_id in self.prefixes.get(netloc, ()):
                for i in rows:
                    if urls[i].startswith(prefix):
                        found[i].setdefault((work_id, "url-prefix"), Match(work_id, "url-prefix"))
        for i, matches in enumerate(found):
            if matches:
                out[i] = sorted(matches.values(), key=lambda m: (m.work_id, m.method))
        return out

    def search_raw_urls(self, urls: Sequence[str]) -> list[tuple[tuple[int, str], ...] | None]:
        """``search_urls`` for URLs as a caller sent them: ``(work, method)`` pairs per URL,
        ``None`` for one that is not an http(s) URL (the bulk query's answer)."""
        norms: list[str | None] = []
        for url in urls:
            try:
                norms.append(normalise_url(url))
            except (UserError, ValueError):
                norms.append(None)
        found = iter(self.search_urls([n for n in norms if n is not None]))
        return [
            None if n is None else tuple((m.work_id, m.method) for m in next(found)) for n in norms
        ]

    def save(self, root: Path) -> None:
        keys = np.concatenate([s.keys for s in self.segments]) if self.segments else None
        works = np.concatenate([s.works for s in self.segments]) if self.segments else None
        if keys is None or works is None:
            keys, works = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        order = np.lexsort((works, keys))
        for path, arr in ((root / _KEYS, keys[order]), (root / _WORKS, works[order])):
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
        doc = {h: [[p, w] for p, w in v] for h, v in sorted(self.prefixes.items())}
        atomic_write_text(root / _PREFIXES, json.dumps({"prefixes": doc}, sort_keys=True))

    @staticmethod
    def load(root: Path) -> IdentifierIndex:
        keys = np.load(root / _KEYS, mmap_mode="r", allow_pickle=False)
        works = np.load(root / _WORKS, mmap_mode="r", allow_pickle=False)
        doc = json.loads((root / _PREFIXES).read_text(encoding="utf-8"))
        prefixes = {
            str(h): tuple((str(p), int(w)) for p, w in v) for h, v in doc["prefixes"].items()
        }
        segments = (_KeySegment(keys, works),) if len(keys) else ()
        return IdentifierIndex(segments, prefixes)

    FILES = (_KEYS, _WORKS, _PREFIXES)


def compare(query: IdentifierQuery, work_id: int, ident: Identifier) -> Match | None:
    """Brute force: does the registered identifier ``ident`` of ``work_id`` match the query?"""
    norm = query.normalised_url()
    if ident.scheme is IdentifierScheme.URL_PREFIX:
        return Match(work_id, "url-prefix") if norm and norm.startswith(ident.value) else None
    for scheme, value, method in query.keyed():
        if scheme is ident.scheme and value == ident.value:
            return Match(work_id, method)
    return None

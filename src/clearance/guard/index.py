"""The guard's in-memory view of the registry: image codes, region codes, text 8-grams, names.

Built once from the store (``GuardIndex.from_store``) and then queried per
output. Image codes of quality < 50 are left out, so a flat, low-quality hash
never matches on its own. ``refresh`` rebuilds from the store; a service keeps
the old index serving until the new one is ready (swap a reference), so a
check never sees a half-built index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from clearance.core.models import IdentifierScheme, Work, WorkKind
from clearance.fingerprint.hamming import HammingIndex
from clearance.fingerprint.image import MIN_QUALITY
from clearance.fingerprint.regions import RegionHashes
from clearance.guard.names import NameMatcher
from clearance.registry.store import RegistryStore


@dataclass
class GuardIndex:
    """Everything ``check`` matches against, plus the works by id."""

    pdq: HammingIndex = field(default_factory=lambda: HammingIndex(256))
    regions: HammingIndex = field(default_factory=lambda: HammingIndex(256))
    text_hashes: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, np.uint64))
    text_works: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    text_sizes: dict[int, int] = field(default_factory=dict)
    names: NameMatcher = field(default_factory=NameMatcher)
    works: dict[int, Work] = field(default_factory=dict)

    @staticmethod
    def from_store(store: RegistryStore) -> GuardIndex:
        index = GuardIndex()
        ids: list[int] = []
        codes: list[bytes] = []
        for work_id, rec in store.iter_fingerprints("pdq"):
            if (rec.quality or 0) >= MIN_QUALITY and len(rec.data) == 32:
                ids.append(work_id)
                codes.append(rec.data)
        if ids:
            index.pdq.add(ids, np.frombuffer(b"".join(codes), np.uint8).reshape(-1, 32))
        r_ids: list[int] = []
        r_codes: list[bytes] = []
        for work_id, rec in store.iter_fingerprints("pdq-regions"):
            regions = RegionHashes.from_bytes(rec.data)
            r_ids.extend([work_id] * len(regions))
            r_codes.append(regions.codes)
        if r_ids:
            index.regions.add(r_ids, np.frombuffer(b"".join(r_codes), np.uint8).reshape(-1, 32))
        hashes: list[npt.NDArray[np.uint64]] = []
        owners: list[npt.NDArray[np.int64]] = []
        for work_id, rec in store.iter_fingerprints("text-8grams"):
            grams = np.frombuffer(rec.data, "<u8").astype(np.uint64)
            index.text_sizes[work_id] = index.text_sizes.get(work_id, 0) + len(grams)
            hashes.append(grams)
            owners.append(np.full(len(grams), work_id, dtype=np.int64))
        if hashes:
            all_h = np.concatenate(hashes)
            order = np.argsort(all_h, kind="stable")
            index.text_hashes, index.text_works = all_h[order], np.concatenate(owners)[order]
        for work_id, name in store.iter_identifiers(IdentifierScheme.NAME):
            try:
                index.names.add(work_id, name)
            except ValueError:
                continue
        for work in store.list_works():
            index.works[work.id] = work
        return index

    def characters(self) -> list[Work]:
        return [w for w in self.works.values() if w.kind is WorkKind.CHARACTER]

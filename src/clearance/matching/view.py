"""``RegistryView``: an immutable in-memory snapshot of the registry, and its incremental refresh.

Why: a service checks outputs for weeks while rights holders keep registering
works and changing terms. It holds one ``RegistryView`` (the ``MatchIndex``,
every work by id, the agreements in force, and the audit ``watermark`` it
reflects) and replaces it as a whole (read-copy-update): a check reads the
reference once and uses that snapshot to the end, so it never sees half a
change.

``refreshed(store)`` reads the audit entries after the watermark and builds a
new view that shares every unchanged part: new works' fingerprints and
identifiers go into small new index segments, changed works are reloaded,
removed ones dropped, names rebuilt for the changed works only, agreements
reloaded when any was granted or revoked. Every step is idempotent, so a
change audited while a view was being built is simply applied again by the
next refresh. A test (tests/matching/test_view_state.py) holds the refreshed
view to a fresh full build after any sequence of changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from clearance.core.models import Agreement, IdentifierScheme, Work
from clearance.matching.index import EmbeddingModel, MatchIndex
from clearance.matching.types import MatchLevel
from clearance.registry.store import RegistryStore

TERMS_ONLY = frozenset({"terms.set", "claim.dispute", "claim.resolve", "work.remove"})
"""Audit actions that never add fingerprints or identifiers to a work."""


def by_licensee(agreements: Iterable[Agreement]) -> dict[str, tuple[Agreement, ...]]:
    """Agreements grouped by licensee name, each group in id order."""
    out: dict[str, list[Agreement]] = {}
    for agreement in sorted(agreements, key=lambda a: a.id):
        out.setdefault(agreement.licensee, []).append(agreement)
    return {name: tuple(group) for name, group in out.items()}


@dataclass(frozen=True)
class RegistryView:
    """Everything a check reads: the match index, the works, the agreements, the watermark."""

    index: MatchIndex = field(default_factory=MatchIndex)
    works: Mapping[int, Work] = field(default_factory=dict)
    agreements: Mapping[str, tuple[Agreement, ...]] = field(default_factory=dict)
    watermark: int = 0
    indexed: frozenset[int] = frozenset()
    """Every work id whose fingerprints went into ``index`` (removed works included)."""
    embedding: EmbeddingModel | None = None

    @staticmethod
    def from_store(
        store: RegistryStore,
        *,
        level: MatchLevel = MatchLevel.EMBEDDING,
        embedding: EmbeddingModel | None = None,
    ) -> RegistryView:
        watermark = store.audit_watermark()  # read first: later changes are re-applied
        index = MatchIndex.from_store(store, level=level, embedding=embedding)
        works = {w.id: w for w in store.list_works()}
        agreements = by_licensee(store.current_agreements(datetime.now(UTC)))
        return RegistryView(index, works, agreements, watermark, frozenset(works), embedding)

    def work(self, work_id: int) -> Work | None:
        return self.works.get(work_id)

    def licensed_to(self, licensee: str | None) -> tuple[Agreement, ...]:
        """The licensee's agreements (none for None or an unknown name)."""
        name = licensee.strip() if licensee else ""
        return self.agreements.get(name, ()) if name else ()

    def refreshed(self, store: RegistryStore) -> RegistryView | None:
        """A new view with the changes audited after ``watermark``; None when there are none."""
        mark = store.audit_watermark()
        if mark <= self.watermark:
            return None
        entries = store.audit_since(self.watermark, mark)
        changed: set[int] = set()
        grown: set[int] = set()
        parties: set[int] = set()
        for entry in entries:
            if entry.entity == "work" and entry.entity_id is not None:
                changed.add(entry.entity_id)
                if entry.action not in TERMS_ONLY:
                    grown.add(entry.entity_id)
            elif entry.entity == "party" and entry.entity_id is not None:
                parties.add(entry.entity_id)
        if parties:  # an owner's default terms apply to all their works
            changed.update(w.id for w in self.works.values() if w.owner.id in parties)
        works = dict(self.works)
        fresh = {w.id: w for w in store.works_by_ids(sorted(changed))}
        for work_id in changed:
            if work_id in fresh:
                works[work_id] = fresh[work_id]
            else:
                works.pop(work_id, None)
        new = sorted(w for w in grown if w in fresh)
        if any(w in self.indexed and w not in self.works for w in new):
            # an id that a removed work held came back (a store that reuses ids): its old
            # codes are still in the segments, so only a full rebuild is right
            return RegistryView.from_store(store, level=self.index.level, embedding=self.embedding)
        identifiers = [(w, i) for w in new for i in fresh[w].identifiers]
        renamed = {
            w: [i.value for i in fresh[w].identifiers if i.scheme is IdentifierScheme.NAME]
            if w in fresh
            else []
            for w in changed
        }
        index = self.index.with_works(store.fingerprints_of(new), identifiers, renamed)
        agreements = self.agreements
        if any(entry.entity == "agreement" for entry in entries):
            agreements = by_licensee(store.current_agreements(datetime.now(UTC)))
        return replace(
            self,
            index=index,
            works=works,
            agreements=agreements,
            watermark=mark,
            indexed=self.indexed | frozenset(new),
        )

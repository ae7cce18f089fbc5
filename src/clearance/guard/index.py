"""``GuardIndex``: the guard's in-memory view of the registry.

It is a ``clearance.matching.view.RegistryView`` built with every stage of the
matching cascade (identifiers, PDQ, regions, texts, audio, video, character
names and, with an embedder, its stored vectors): one immutable snapshot
that ``check`` reads, and that ``clearance.guard.live`` replaces as a whole
when the registry changes (read-copy-update).
"""

from __future__ import annotations

from clearance.fingerprint.embedding import ImageEmbedder
from clearance.matching.index import EmbeddingModel
from clearance.matching.types import MatchLevel
from clearance.matching.view import RegistryView, by_licensee
from clearance.registry.store import RegistryStore

__all__ = ["GuardIndex", "by_licensee", "embedding_model"]


def embedding_model(embedder: ImageEmbedder | None) -> EmbeddingModel | None:
    return EmbeddingModel(embedder.model_id, embedder.dim) if embedder is not None else None


class GuardIndex(RegistryView):
    """A ``RegistryView`` at the ``embedding`` level (what the guard matches against)."""

    @staticmethod
    def from_store(  # type: ignore[override]
        store: RegistryStore, embedder: ImageEmbedder | None = None
    ) -> GuardIndex:
        view = RegistryView.from_store(
            store, level=MatchLevel.EMBEDDING, embedding=embedding_model(embedder)
        )
        return GuardIndex(
            view.index, view.works, view.agreements, view.watermark, view.indexed, view.embedding
        )

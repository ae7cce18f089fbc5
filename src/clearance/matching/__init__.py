"""The one matching and decision core that the scan and the guard share.

Every signal type is defined once, with its thresholds, its index and its
brute-force twin (python-threatexchange's ``SignalType`` is the model):

* ``exact``: SHA-256, URL, URL prefix, domain, ISBN, ISRC, ISCC;
* ``image``: global PDQ with rotations/flips, crop/pad regions, embeddings;
* ``text``: 8-gram containment and runs, with the short-text rule;
* ``media``: Chromaprint audio and 1 fps video frames;
* ``names``: character names and aliases (outputs and prompts only).

``index.MatchIndex`` holds every type's index (built from the registry,
saved and loaded for a scan run, grown in immutable segments for the live
guard); ``matcher.match`` runs the cascade and returns ``types.Match``\\ es;
``decide`` turns matched works, terms and agreements into ``Evidence`` and
decides through ``core.resolve``; ``view.RegistryView`` is the in-memory
snapshot a service keeps current.
"""

from clearance.matching.decide import (
    ItemDecision,
    MatchedWork,
    WorkVerdict,
    decide_item,
    decide_output,
    matched_works,
)
from clearance.matching.index import EmbeddingModel, MatchIndex
from clearance.matching.matcher import MatchResult, Query, match
from clearance.matching.types import Match, MatchLevel, Thresholds
from clearance.matching.view import RegistryView

__all__ = [
    "EmbeddingModel",
    "ItemDecision",
    "Match",
    "MatchIndex",
    "MatchLevel",
    "MatchResult",
    "MatchedWork",
    "Query",
    "RegistryView",
    "Thresholds",
    "WorkVerdict",
    "decide_item",
    "decide_output",
    "match",
    "matched_works",
]

"""The output guard: keep protected works and characters out of generated outputs.

``index`` holds the registry in memory (a ``clearance.matching.view.RegistryView``:
fingerprints, identifiers, character names, works and agreements); ``check``
runs the shared matching cascade on an output and maps each matched work's
decision for ``output`` to a verdict (allow, review, block) with its
evidence; ``live.Guard`` keeps the index current while it serves checks.
Character names are matched by ``clearance.matching.names`` (re-exported here).
"""

from clearance.guard.check import GuardMatch, Verdict, check, check_pdq
from clearance.guard.index import GuardIndex
from clearance.guard.live import Guard
from clearance.matching.names import NameMatch, NameMatcher, fold_name

__all__ = [
    "Guard",
    "GuardIndex",
    "GuardMatch",
    "NameMatch",
    "NameMatcher",
    "Verdict",
    "check",
    "check_pdq",
    "fold_name",
]

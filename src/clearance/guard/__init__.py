"""The output guard: keep protected works and characters out of generated outputs.

``names`` finds a character's name and aliases in prompts and captions;
``index`` holds the registry's fingerprints in memory; ``check`` matches an
output against them and turns each matched work's ``output`` terms into a
verdict (block, allow, review) with its evidence.
"""

from clearance.guard.check import GuardMatch, Verdict, check, check_pdq
from clearance.guard.index import GuardIndex
from clearance.guard.names import NameMatch, NameMatcher, fold_name

__all__ = [
    "GuardIndex",
    "GuardMatch",
    "NameMatch",
    "NameMatcher",
    "Verdict",
    "check",
    "check_pdq",
    "fold_name",
]

"""The output guard: keep protected works and characters out of generated outputs.

So far: ``names``, matching a character's name and aliases in prompts, captions
and alt text, robust to case, diacritics, spacing and simple obfuscation.
"""

from clearance.guard.names import NameMatch, NameMatcher, fold_name

__all__ = ["NameMatch", "NameMatcher", "fold_name"]

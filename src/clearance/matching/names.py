"""Finding a character's name or aliases in free text, the way people try to slip them past filters.

A prompt asks for "Sp0nge-Bob", "SPONGE BOB" or "spöngebob"; all name the same
character. Matching therefore works on a *folded* form of both the text and
the names: Unicode NFKD with diacritics removed, case folded, common
look-alike digits and symbols mapped to the letters they imitate (0→o, 1/!/l→i,
3→e, 4/@→a, 5/$→s, 7→t, 8→b, 9→g), and separators ignored *within* a name,
so a name may be split across up to ``MAX_PARTS`` words ("sponge bob") or
joined ("spongebob"). Matches must start and end on word boundaries, so
"Bob" does not fire inside "Bobcat".

The fold merges some letters (l and i), which can only add matches; each match
records the original span so a reviewer sees exactly what fired.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_PARTS = 4
"""A name may be spread over at most this many words of the text."""

_LOOKALIKE = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "!": "i",
        "|": "i",
        "l": "i",
        "3": "e",
        "4": "a",
        "@": "a",
        "5": "s",
        "$": "s",
        "7": "t",
        "+": "t",
        "8": "b",
        "9": "g",
    }
)
_TOKEN = re.compile(r"[\w@$]+(?:[!|+]+[\w@$]+)*", re.UNICODE)
"""A word: letters, digits, ``@``, ``$``; ``!``, ``|``, ``+`` only inside one (``p!kachu``)."""


def fold_name(text: str) -> str:
    """The folded form for matching: no diacritics or separators, lower case, look-alikes mapped."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = stripped.casefold().translate(_LOOKALIKE)
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass(frozen=True, slots=True)
class NameMatch:
    """One occurrence of a name in the text: which key it names, the alias, and the span."""

    key: int
    alias: str
    span: tuple[int, int]
    text: str


class NameMatcher:
    """Matches many characters' names and aliases in one pass over a text."""

    def __init__(self, names: Mapping[int, Iterable[str]] | None = None) -> None:
        self._by_fold: dict[str, list[tuple[int, str]]] = {}
        self._longest = 0
        for key, aliases in (names or {}).items():
            for alias in aliases:
                self.add(key, alias)

    def add(self, key: int, alias: str) -> None:
        """Register ``alias`` for ``key``; an alias folding to under 3 characters is refused."""
        folded = fold_name(alias)
        if len(folded) < 3:
            raise ValueError(f"alias {alias!r} is too short to match safely")
        entries = self._by_fold.setdefault(folded, [])
        if (key, alias) not in entries:
            entries.append((key, alias))
        self._longest = max(self._longest, len(folded))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_fold.values())

    def without(self, keys: Iterable[int]) -> NameMatcher:
        """A copy holding every alias except those of ``keys`` (this one is left as it is)."""
        drop = set(keys)
        copy = NameMatcher()
        for folded, entries in self._by_fold.items():
            kept = [e for e in entries if e[0] not in drop]
            if kept:
                copy._by_fold[folded] = kept
                copy._longest = max(copy._longest, len(folded))
        return copy

    def to_json(self) -> list[list[int | str]]:
        """Every ``[key, alias]`` pair (what ``from_json`` reads back)."""
        return sorted([k, a] for entries in self._by_fold.values() for k, a in entries)

    @staticmethod
    def from_json(doc: object) -> NameMatcher:
        """A matcher from ``to_json``'s list; malformed entries and short aliases are skipped."""
        matcher = NameMatcher()
        for entry in doc if isinstance(doc, list) else []:
            if isinstance(entry, list) and len(entry) == 2:
                key, alias = entry
                if isinstance(key, int) and isinstance(alias, str):
                    try:
                        matcher.add(key, alias)
                    except ValueError:
                        continue
        return matcher

    def find(self, text: str) -> list[NameMatch]:
        """Every name occurrence, longest first at each position, in text order."""
        if not self._by_fold:
            return []
        tokens = [(m.start(), m.end(), fold_name(m.group())) for m in _TOKEN.finditer(text)]
        out: list[NameMatch] = []
        seen: set[tuple[int, int, int]] = set()
        for i in range(len(tokens)):
            joined = ""
            for j in range(i, min(i + MAX_PARTS, len(tokens))):
                joined += tokens[j][2]
                if len(joined) > self._longest:
                    break
                for key, alias in self._by_fold.get(joined, ()):
                    span = (tokens[i][0], tokens[j][1])
                    if (key, *span) not in seen:
                        seen.add((key, *span))
                        out.append(NameMatch(key, alias, span, text[span[0] : span[1]]))
        return out

"""Column roles: which of a table's own columns holds the URL, the file path, the text, ...

Why a mapping and not renaming: a table's column names are the table's own,
and ``cleared/`` must keep them. LAION's files call the URL ``URL`` and the
caption ``TEXT``; renaming ``TEXT`` to ``text`` would wrongly treat a caption
as the content to match. So each column plays a *role*, named by
``--columns url=URL,caption=TEXT`` (``ScanConfig.columns``), and the layouts
people actually ship are recognised with no flag at all:

* Clearance's own and img2dataset's: ``url``, ``path``, ``text``, ``image``,
  ``caption``, ``sha256``, ``isbn``, ``isrc``, ``iscc``;
* LAION's: ``URL`` (the URL) and ``TEXT`` (the caption).

A ``caption`` describes the content; it is metadata, carried to ``cleared/``
with the row, and matched against registered texts only with
``--match-captions``. ``text`` is the content itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clearance.core.errors import UserError

ROLES = ("url", "path", "text", "image", "caption", "sha256", "isbn", "isrc", "iscc")
"""Every role a column can play (``formats.rows`` says what each one does)."""

CONTENT_ROLES = ("url", "path", "text", "image")
"""Roles that make a row something to decide (a caption only with ``--match-captions``)."""

KNOWN_NAMES: Mapping[str, tuple[str, ...]] = {
    "url": ("url", "URL"),
    "caption": ("caption", "TEXT"),
}
"""Column names recognised without ``--columns`` (every role also by its own name)."""


def _candidates(role: str) -> tuple[str, ...]:
    return KNOWN_NAMES.get(role, (role,))


def parse_columns(value: str | Mapping[str, str] | None) -> str:
    """``role=COLUMN,...`` (or a mapping) checked and in canonical order; ``UserError`` if bad."""
    if not value:
        return ""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        for part in str(value).split(","):
            if not part.strip():
                continue
            role, sep, column = part.partition("=")
            if not sep:
                raise UserError(
                    f"--columns entry {part.strip()[:80]!r} is not ROLE=COLUMN",
                    hint="for example --columns url=URL,caption=TEXT",
                )
            pairs.append((role, column))
    seen: dict[str, str] = {}
    used: set[str] = set()
    for role, column in pairs:
        role, column = role.strip().lower(), column.strip()
        if role not in ROLES:
            raise UserError(
                f"--columns: unknown role {role[:40]!r}", hint=f"roles are {', '.join(ROLES)}"
            )
        if not column:
            raise UserError(f"--columns: no column given for {role}")
        if role in seen:
            raise UserError(f"--columns names the role {role} twice")
        if column in used:
            raise UserError(f"--columns gives the column {column[:80]!r} two roles")
        seen[role] = column
        used.add(column)
    return ",".join(f"{r}={seen[r]}" for r in ROLES if r in seen)


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Roles named by ``--columns`` (``explicit``), the rest found by ``KNOWN_NAMES``."""

    explicit: tuple[tuple[str, str], ...] = ()
    match_captions: bool = False
    _cache: dict[tuple[str, ...], dict[str, str]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @staticmethod
    def of(columns: str | Mapping[str, str] | None, match_captions: bool = False) -> ColumnMap:
        text = parse_columns(columns)
        pairs = tuple(
            (role, column) for role, _, column in (p.partition("=") for p in text.split(",") if p)
        )
        return ColumnMap(pairs, bool(match_captions))

    def __getstate__(self) -> tuple[tuple[tuple[str, str], ...], bool]:
        return self.explicit, self.match_captions

    def __setstate__(self, state: tuple[tuple[tuple[str, str], ...], bool]) -> None:
        object.__setattr__(self, "explicit", state[0])
        object.__setattr__(self, "match_captions", state[1])
        object.__setattr__(self, "_cache", {})

    @property
    def usable(self) -> tuple[str, ...]:
        """The roles that make a row something to decide."""
        return (*CONTENT_ROLES, "caption") if self.match_captions else CONTENT_ROLES

    def roles(self, names: Iterable[str]) -> dict[str, str]:
        """``{role: column}`` for a table with these column names (only columns it has)."""
        key = tuple(names)
        found = self._cache.get(key)
        if found is not None:
            return found
        have = set(key)
        out: dict[str, str] = {}
        used: set[str] = set()
        for role, column in self.explicit:
            used.add(column)
            if column in have:
                out[role] = column
        explicit = {r for r, _ in self.explicit}
        for role in ROLES:
            if role in explicit:
                continue
            for name in _candidates(role):
                if name in have and name not in used:
                    out[role] = name
                    used.add(name)
                    break
        if len(self._cache) < 1024:
            self._cache[key] = out
        return out

    def view(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row keyed by role (a column of no role is left out)."""
        return {role: row[column] for role, column in self.roles(row.keys()).items()}

    def check(self, file: str, names: Iterable[str]) -> None:
        """Refuse a table whose columns play none of the usable roles, or lack a named one."""
        names = list(names)
        have = ", ".join(str(c) for c in names) or "none"
        for role, column in self.explicit:
            if column not in names:
                raise UserError(
                    f"--columns {role}={column}: {file} has no column {column!r} (it has: {have})"
                )
        roles = self.roles(names)
        if not set(roles) & set(self.usable):
            raise UserError(
                f"{file} has none of the columns {', '.join(self.usable)} (it has: {have})",
                hint=(
                    "name the column holding the URL, file path, text or image bytes with "
                    "--columns ROLE=COLUMN (for example --columns url=URL)"
                ),
            )

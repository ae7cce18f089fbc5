"""Spawning's ``/ai.txt``: robots-shaped rules about which media may be used for AI training.

Why a separate parser: ai.txt borrows robots.txt's lines but not its
semantics. It is read when media is downloaded for training, not when pages are
crawled, and its patterns are mostly file-extension globs with no leading
slash (``Disallow: *.jpg``), which a robots.txt matcher would never match
because every request path starts with ``/``. Spawning's generator blocks
everything with ``Disallow: *`` plus ``Disallow: /``, and some generators emit
stray lines such as a lone ``/``, so lines without a colon are skipped.

Matching: a pattern that starts with ``/`` is a robots pattern (prefix match,
``*`` and a final ``$``) on the path and query. Any other pattern is a
case-insensitive glob on the whole path without its query (``*.jpg`` matches
``/img/A.JPG?w=1``); one with no ``*`` at all matches as a suffix (``.pdf``).
The longest pattern wins and Allow wins a tie, as in robots.txt. An empty
``Disallow:`` says nothing is disallowed. The answer is None when no line
speaks about the path: the file is silent, which is not the same as allowed.
Groups work as in robots.txt, except that an agent name runs to the first
space or ``/`` (names such as ``img2dataset`` carry digits); lines before any
User-Agent line apply to every agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from clearance.signals.robots import Group, Rule, read_policy_text, split_lines
from clearance.signals.robots_paths import compile_pattern, escape_pattern, request_path

MAX_WARNINGS = 50


@dataclass(frozen=True, slots=True)
class AiTxtVerdict:
    """What ai.txt says about one path: True, False, or None (silent), and the deciding line."""

    allowed: bool | None
    rule: Rule | None
    reason: str


def _matcher(pattern: str) -> Callable[[str, str], bool]:
    """A predicate on (path with query, lower-cased path without query)."""
    if pattern.startswith("/"):
        robots = compile_pattern(pattern)
        return lambda full, _bare: robots(full)
    glob = pattern.lower().removesuffix("$")
    if not glob:
        return lambda _full, _bare: False  # a lone "$" names nothing
    glob = glob if "*" in glob else "*" + glob
    match = compile_pattern(glob + "$")
    return lambda _full, bare: match(bare)


@dataclass(frozen=True, slots=True)
class AiTxt:
    """A parsed ai.txt. ``preamble`` holds rules written before any User-Agent line."""

    groups: tuple[Group, ...] = ()
    preamble: Group = field(default_factory=lambda: Group(0))
    warnings: tuple[str, ...] = ()

    def rules_for(self, agent: str = "*") -> tuple[Rule, ...]:
        """The rules for ``agent``: its groups (else the ``*`` groups) plus the preamble."""
        key = agent.lower()
        named = [g for g in self.groups if any(a.lower() == key for a in g.agents if a != "*")]
        chosen = named or [g for g in self.groups if g.is_global]
        return (*self.preamble.rules, *(r for g in chosen for r in g.rules))

    def check(self, path_or_url: str, agent: str = "*") -> AiTxtVerdict:
        """Decide what the file says about one media path or URL."""
        full = escape_pattern(request_path(path_or_url))
        bare = full.split("?", 1)[0].lower()
        best: tuple[int, bool, Rule] | None = None
        open_ended: Rule | None = None
        for rule in self.rules_for(agent):
            if not rule.pattern:
                if not rule.allow:
                    open_ended = rule
                continue
            n = len(rule.pattern)
            if best is not None and (n < best[0] or (n == best[0] and best[1])):
                continue
            if _matcher(rule.pattern)(full, bare):
                best = (n, rule.allow, rule)
        if best is not None:
            verb = "allowed" if best[1] else "disallowed"
            return AiTxtVerdict(best[1], best[2], f"{verb} by line {best[2].line}: {best[2].raw}")
        if open_ended is not None:
            return AiTxtVerdict(True, open_ended, f"line {open_ended.line} disallows nothing")
        return AiTxtVerdict(None, None, "no ai.txt line matches")

    def is_allowed(self, path_or_url: str, agent: str = "*") -> bool | None:
        """True or False when a line decides the path, None when the file says nothing about it."""
        return self.check(path_or_url, agent).allowed


def parse_aitxt(data: bytes | str) -> AiTxt:
    """Parse an ai.txt body leniently; never raises. Unusual lines become ``warnings``."""
    text, warnings, latin1 = read_policy_text(data)
    groups: list[Group] = []
    agents: list[str] = []
    rules: list[Rule] = []
    preamble: list[Rule] = []
    start = 0
    unknown: set[str] = set()

    def note(msg: str) -> None:
        if len(warnings) < MAX_WARNINGS:
            warnings.append(msg)

    def close() -> None:
        if agents or rules:
            groups.append(Group(start, tuple(agents), tuple(rules)))

    for num, line in enumerate(split_lines(text), 1):
        body = line.split("#", 1)[0].strip()
        if ":" not in body:
            if body and body != "/":
                note(f"line {num}: no colon; skipped")
            continue
        key, _, value = body.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key.startswith(("user-agent", "useragent", "user agent")):
            if rules:
                close()
                agents, rules = [], []
            if not agents:
                start = num
            # Looser than robots.txt: crawler names such as img2dataset carry digits.
            words = value.split("/", 1)[0].split()
            agent = "*" if value[:1] == "*" else (words[0] if words else "")
            if agent:
                agents.append(agent)
        elif key.startswith(("allow", "disallow", "dissallow", "disalow")):
            rule = Rule(key.startswith("allow"), escape_pattern(value, latin1=latin1), num, body)
            (rules if agents else preamble).append(rule)
        elif key not in unknown:
            unknown.add(key)
            note(f"line {num}: unknown directive {key!r}; ignored")
    close()
    return AiTxt(tuple(groups), Group(0, (), tuple(preamble)), tuple(warnings))

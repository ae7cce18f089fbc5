"""robots.txt (RFC 9309) as Google's reference parser reads it, plus the AI-era rules.

Why our own parser: protego matches user agents by substring (a ``User-agent:
bot`` group catches ``GPTBot``) and ends a run of User-agent lines at any
unknown field, and urllib's parser ignores wildcards. Either would give wrong
answers for exactly the AI-crawler groups Clearance cares about. This module
follows Google's ``robots.cc`` line for line where it matters and passes its
``robots_test.cc`` cases:

* a line is ``key: value`` after cutting ``#`` comments; a line with no colon
  but exactly two words is read as if it had one (``disallow /``); lines are
  cut at 16,663 characters; a (partial) UTF-8 byte order mark is skipped;
* keys match by prefix, case-insensitively, with Google's accepted typos
  (``useragent``, ``user agent``, ``dissallow``, ``disalow`` ...);
* a group names a crawler by Google's product token (the leading ``[A-Za-z_-]``
  run of the User-agent value) and, beyond Google, by the name as written
  (``agent_key``: up to a ``/version`` or comment, blanks collapsed), both
  matched exactly and case-insensitively, so ``img2dataset``, ``AI2Bot``,
  ``panscient.com`` and ``Brightbot 1.0`` can be named; for a valid product
  token the answer is Google's. Groups naming the same agent merge; the ``*``
  groups apply only when no group names the agent; there is no fallback from
  ``hedwig-news`` to a ``hedwig`` group by name (``agent_for`` picks among the
  tokens a crawler documents, most specific first);
* a run of User-agent lines ends only at an Allow or Disallow line, so
  ``Sitemap``, ``Crawl-delay``, ``Content-Usage``, ``Content-Signal``,
  ``License`` and junk lines never split it (a warning says when that joins
  two runs that look separate);
* the longest matching pattern wins and Allow wins a tie; ``*`` and a final
  ``$`` are wildcards; patterns are percent-normalised (non-ASCII octets
  encoded, escapes upper-cased); ``.../index.html`` also allows ``.../``;
  ``/robots.txt`` itself is always allowed.

On top of that it reads the rules Google ignores: aipref ``Content-Usage:
[/path] <dict>`` and Cloudflare ``Content-Signal: [/path] <signals>`` inside a
group (longest path wins, only for crawlable paths, ties combined most
restrictively), the global ``License: <url>`` lines of RSL, and ``Sitemap``.
Pref lines before any User-agent line are kept for every agent, with a warning.

The file is read up to its last line break within 500 KiB, so a cut never
splits a character or a rule. By default paths and patterns are compared in
RFC 9309's form (``canonical_path``: ``%62`` is ``b``, ``%24`` is ``$``, ``%2A``
is ``*``, non-ASCII and characters a URI may not hold escaped; sections 2.2.2
and 2.2.3); pass ``normalize=False`` for Google's library contract, where the
caller has already encoded the URL and the bytes are compared as they stand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from clearance.signals import aipref, content_signal
from clearance.signals.aipref import UsagePrefs
from clearance.signals.base import MAX_POLICY_BYTES, decode_text
from clearance.signals.content_signal import ContentSignals
from clearance.signals.robots_paths import _PatternIndex
from clearance.signals.robots_paths import agent_key as agent_key
from clearance.signals.robots_paths import agent_name as agent_name
from clearance.signals.robots_paths import canonical_path as canonical_path
from clearance.signals.robots_paths import canonical_pattern as canonical_pattern
from clearance.signals.robots_paths import compile_pattern as compile_pattern
from clearance.signals.robots_paths import escape_pattern as escape_pattern
from clearance.signals.robots_paths import is_valid_product_token as is_valid_product_token
from clearance.signals.robots_paths import pattern_matches as pattern_matches
from clearance.signals.robots_paths import product_token as product_token
from clearance.signals.robots_paths import request_path as request_path

MAX_LINE_CHARS = 2083 * 8 - 1
"""Google keeps at most this many bytes of a line and ignores the rest (we count characters)."""

MAX_WARNINGS = 50
_ASCII_WS = " \t\n\v\f\r"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PREF_VALUE = re.compile(r"([^ \t]+)(?:[ \t]+(.*))?", re.S)
_IGNORED_KEYS = frozenset({"crawl-delay", "host", "clean-param", "request-rate", "visit-time"})

T = TypeVar("T")


class Access(StrEnum):
    """Where a ``RobotsTxt`` came from: a parsed file, or a fetch status that stands for one."""

    PARSED = "parsed"
    ALLOW_ALL = "allow-all"
    DISALLOW_ALL = "disallow-all"


# --- shared text helpers (ai.txt uses them too) -------------------------------


def read_policy_text(data: bytes | str) -> tuple[str, list[str], bool]:
    """Decode a policy file: whole lines within 500 KiB, (partial) BOM skipped.

    Returns the text, the warnings, and whether it fell back to Latin-1 (which
    decides how non-ASCII octets are percent-encoded). Cutting at the last line
    break keeps a multi-byte character or a half rule from being read.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    warnings: list[str] = []
    if len(raw) > MAX_POLICY_BYTES:
        end = MAX_POLICY_BYTES + 1
        cut = max(raw.rfind(b"\n", 0, end), raw.rfind(b"\r", 0, end))
        cut = cut if cut > 0 else MAX_POLICY_BYTES
        warnings.append(f"read the first {cut} of {len(raw)} bytes (whole lines within 500 KiB)")
        raw = raw[:cut]
    for bom in (b"\xef\xbb\xbf", b"\xef\xbb", b"\xef"):
        if raw.startswith(bom):
            raw = raw[len(bom) :]
            break
    text, more = decode_text(raw)
    warnings.extend(more)
    return text, warnings, any("Latin-1" in w for w in more)


def split_lines(text: str) -> list[str]:
    """Split at CR, LF or CRLF (and nothing else: no Unicode line separators)."""
    return _LINE_BREAK.split(text)


def split_key_value(line: str) -> tuple[str, str] | None:
    """Google's ``GetKeyAndValueFrom``: cut the comment, split at ``:`` (or one run of blanks)."""
    line = line.split("#", 1)[0].strip(_ASCII_WS)
    sep = line.find(":")
    if sep < 0:
        m = re.search(r"[ \t]+", line)
        if m is None or re.search(r"[ \t]", line[m.end() :]):
            return None
        key, value = line[: m.start()], line[m.end() :]
    else:
        key, value = line[:sep].strip(_ASCII_WS), line[sep + 1 :].strip(_ASCII_WS)
    return (key, value) if key else None


# --- the parsed file ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    """One Allow or Disallow line: its percent-normalised pattern, line number and text."""

    allow: bool
    pattern: str
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class PrefLine(Generic[T]):
    """One Content-Usage or Content-Signal line; ``path`` is ``/`` when the line names none."""

    path: str
    value: T
    line: int
    raw: str


@dataclass(frozen=True, slots=True)
class Group:
    """The lines that follow one run of User-agent lines.

    ``agents`` holds Google's product token of each value (``*`` included);
    ``user_agents`` each value other than ``*`` as written (comment and outer
    blanks cut), from which the names a group matches are made (``agent_keys``).
    """

    line: int
    agents: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    content_usage: tuple[PrefLine[UsagePrefs], ...] = ()
    content_signals: tuple[PrefLine[ContentSignals], ...] = ()
    user_agents: tuple[str, ...] = ()

    @property
    def is_global(self) -> bool:
        return "*" in self.agents

    def agent_keys(self) -> tuple[str, ...]:
        """The keys this group answers to: each value's ``agent_key`` and product token."""
        values = self.user_agents or tuple(a for a in self.agents if a != "*")
        keys: dict[str, None] = {}
        for value in values:
            for key in (agent_key(value), product_token(value).lower()):
                if key:
                    keys.setdefault(key)
        return tuple(keys)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an agent may crawl a path, and which line decided (None: no rule matched)."""

    allowed: bool
    rule: Rule | None
    agent_named: bool
    reason: str


@dataclass(frozen=True, slots=True)
class PrefMatch(Generic[T]):
    """The preference lines that apply to a path (the longest path; ties combined) and their sum."""

    value: T
    lines: tuple[PrefLine[T], ...]
    agent_named: bool


@dataclass(frozen=True, slots=True)
class RobotsTxt:
    """A parsed robots.txt, or the stand-in for a fetch status (see ``robots_for_status``).

    ``preamble`` holds Content-Usage/Content-Signal lines written before any
    User-agent line; they apply to every agent.
    """

    groups: tuple[Group, ...] = ()
    sitemaps: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()
    preamble: Group = field(default_factory=lambda: Group(0))
    warnings: tuple[str, ...] = ()
    access: Access = Access.PARSED
    status: int | None = None
    reason: str = ""
    _specific: dict[str, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _global: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _cache: dict[tuple[str, str, bool], _PatternIndex[Any]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        specific: dict[str, list[int]] = {}
        glob: list[int] = []
        for i, g in enumerate(self.groups):
            if g.is_global:
                glob.append(i)
            for key in g.agent_keys():
                specific.setdefault(key, []).append(i)
        object.__setattr__(
            self, "_specific", {k: tuple(dict.fromkeys(v)) for k, v in specific.items()}
        )
        object.__setattr__(self, "_global", tuple(dict.fromkeys(glob)))
        object.__setattr__(self, "_cache", {})

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the parsed content only; the lookup indexes are rebuilt on demand."""
        fields = (self.groups, self.sitemaps, self.licenses, self.preamble, self.warnings)
        return (RobotsTxt, (*fields, self.access, self.status, self.reason))

    def agents_named(self) -> tuple[str, ...]:
        """Every crawler name a group gives, as first written (``agent_name``; ``*`` excluded)."""
        seen: dict[str, str] = {}
        for g in self.groups:
            for value in g.user_agents or tuple(a for a in g.agents if a != "*"):
                name = agent_name(value)
                if name:
                    seen.setdefault(name.casefold(), name)
        return tuple(seen.values())

    def names(self, agent: str) -> bool:
        """Whether a group names ``agent`` (so the ``*`` groups do not apply to it).

        ``agent`` is a product token or a crawler name as a table spells it
        (``GPTBot``, ``img2dataset``, ``Brightbot 1.0``); case does not matter.
        """
        return agent_key(agent) in self._specific

    def agent_for(self, tokens: Sequence[str]) -> str:
        """The first of a crawler's ``tokens`` (most specific first) that a group names.

        Google documents crawlers that obey more than one token (a news crawler
        that also obeys ``Googlebot``); such a crawler follows the most specific
        token the file names. Without a named token it is the first one, which
        the ``*`` groups then govern. No token is ever derived from another by
        its spelling: ``hedwig-news`` falls back to ``hedwig`` only when the
        caller lists both.
        """
        for token in tokens:
            if self.names(token):
                return token
        return tokens[0] if tokens else "*"

    def groups_for(self, agent: str) -> tuple[Group, ...]:
        """The groups that apply to ``agent``: those naming it, else the ``*`` groups."""
        idx = self._specific.get(agent_key(agent), self._global)
        return tuple(self.groups[i] for i in idx)

    def _index(self, kind: str, agent: str, rfc: bool) -> _PatternIndex[Any]:
        name = agent_key(agent)
        key = (kind, name if name in self._specific else "*", rfc)
        index = self._cache.get(key)
        if index is None:
            entries: list[tuple[str, Any]] = []
            groups = tuple(self.groups[i] for i in self._specific.get(name, self._global))
            form: Callable[[str], str] = canonical_pattern if rfc else str
            if kind == "rules":
                for r in (r for g in groups for r in g.rules):
                    pattern = form(r.pattern)
                    entries.append((pattern, r))
                    slash = pattern.rfind("/")
                    if r.allow and slash >= 0 and pattern.startswith("/index.htm", slash):
                        entries.append((pattern[: slash + 1] + "$", r))  # .../index.html -> .../
            else:
                for g in (self.preamble, *groups):
                    lines = g.content_usage if kind == "usage" else g.content_signals
                    entries.extend((form(p.path), p) for p in lines)
            index = self._cache[key] = _PatternIndex(entries)
        return index

    def check(self, agent: str, path_or_url: str, *, normalize: bool = True) -> Verdict:
        """Decide whether ``agent`` (a product token or crawler name) may crawl ``path_or_url``."""
        path = request_path(path_or_url)
        if normalize:
            path = canonical_path(path)
        named = self.names(agent)
        if path == "/robots.txt" or path.startswith("/robots.txt?"):
            return Verdict(True, None, named, "/robots.txt is always allowed")
        if self.access is not Access.PARSED:
            return Verdict(self.access is Access.ALLOW_ALL, None, named, self.reason)
        hits: list[Rule] = self._index("rules", agent, normalize).longest(path)
        if hits:
            rule = next((r for r in hits if r.allow), hits[0])  # Allow wins a tie
            verb = "allowed" if rule.allow else "disallowed"
            return Verdict(rule.allow, rule, named, f"{verb} by line {rule.line}: {rule.raw}")
        which = "its group" if named else "the * group" if self._global else "any group"
        return Verdict(True, None, named, f"no rule in {which} matches")

    def is_allowed(self, agent: str, path_or_url: str, *, normalize: bool = True) -> bool:
        """Whether ``agent`` (a product token such as ``GPTBot``) may crawl ``path_or_url``."""
        return self.check(agent, path_or_url, normalize=normalize).allowed

    def _prefs(self, kind: str, agent: str, path_or_url: str, normalize: bool) -> Any:
        if not self.is_allowed(agent, path_or_url, normalize=normalize):
            return None  # preferences apply only to crawlable paths (aipref attach, section 3.1)
        path = request_path(path_or_url)
        lines = self._index(kind, agent, normalize).longest(
            canonical_path(path) if normalize else path
        )
        if not lines:
            return None
        combine: Callable[[Any], Any] = (
            aipref.combine if kind == "usage" else content_signal.combine
        )
        return PrefMatch(combine(p.value for p in lines), tuple(lines), self.names(agent))

    def content_usage(
        self, agent: str, path_or_url: str, *, normalize: bool = True
    ) -> PrefMatch[UsagePrefs] | None:
        """The aipref Content-Usage statement for a crawlable path, or None when none applies."""
        result: PrefMatch[UsagePrefs] | None = self._prefs("usage", agent, path_or_url, normalize)
        return result

    def content_signal(
        self, agent: str, path_or_url: str, *, normalize: bool = True
    ) -> PrefMatch[ContentSignals] | None:
        """The Content-Signal statement for a crawlable path, or None when none applies."""
        result: PrefMatch[ContentSignals] | None = self._prefs(
            "signal", agent, path_or_url, normalize
        )
        return result


# --- parsing -----------------------------------------------------------------


class _Warnings:
    def __init__(self, initial: Sequence[str]) -> None:
        self.items = list(initial)
        self.dropped = 0

    def add(self, text: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(text)
        else:
            self.dropped += 1

    def done(self) -> tuple[str, ...]:
        extra = [f"{self.dropped} more warnings not shown"] if self.dropped else []
        return (*self.items, *extra)


@dataclass
class _GroupBuilder:
    line: int
    agents: list[str] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    usage: list[PrefLine[UsagePrefs]] = field(default_factory=list)
    signals: list[PrefLine[ContentSignals]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)

    def build(self) -> Group:
        return Group(
            self.line,
            tuple(self.agents),
            tuple(self.rules),
            tuple(self.usage),
            tuple(self.signals),
            tuple(self.user_agents),
        )


_CANONICAL = {
    "user-agent": "User-agent",
    "allow": "Allow",
    "disallow": "Disallow",
    "sitemap": "Sitemap",
}


def _classify(key: str) -> str:
    k = key.lower()
    if k.startswith(("user-agent", "useragent", "user agent")):
        return "user-agent"
    if k.startswith("allow"):
        return "allow"
    if k.startswith(("disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw")):
        return "disallow"
    if k.startswith(("sitemap", "site-map")):
        return "sitemap"
    norm = k.replace("_", "-").replace(" ", "-")
    if norm == "content-usage":
        return "content-usage"
    if norm in ("content-signal", "content-signals"):
        return "content-signal"
    if norm in ("license", "licence"):
        return "license"
    return "other"


def _split_pref(value: str) -> tuple[str | None, str]:
    """``[/path ]<statement>``: the path is a first word starting with / (or *) without ``=``."""
    m = _PREF_VALUE.fullmatch(value)
    if m is None:
        return None, value
    first = m.group(1)
    if first.startswith("/") or (first.startswith("*") and "=" not in first):
        return first, m.group(2) or ""
    return None, value


def _is_absolute_url(value: str) -> bool:
    if not value.isprintable() or any(c in value for c in ' <>"{}|\\^`'):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def parse_robots(data: bytes | str) -> RobotsTxt:
    """Parse a robots.txt body leniently; never raises. Unusual lines become ``warnings``."""
    text, initial, latin1 = read_policy_text(data)
    w = _Warnings(initial)
    if text.lstrip().startswith("<"):
        w.add("the body looks like HTML, not robots.txt")
    groups: list[_GroupBuilder] = []
    preamble = _GroupBuilder(0)
    cur: _GroupBuilder | None = None
    seen_rule = False
    between: str | None = None  # a non-rule line since the last User-agent line
    sitemaps: list[str] = []
    licenses: list[str] = []
    unknown: set[str] = set()
    for num, full in enumerate(split_lines(text), 1):
        line = full[:MAX_LINE_CHARS]
        kv = split_key_value(line)
        if kv is None:
            if line.split("#", 1)[0].strip(_ASCII_WS):
                w.add(f"line {num}: not a 'key: value' line; ignored")
            continue
        key, value = kv
        kind = _classify(key)
        raw = line.strip(_ASCII_WS)
        if kind in _CANONICAL and key.lower() != kind:
            w.add(f"line {num}: {key!r} read as {_CANONICAL[kind]}")
        if kind not in ("user-agent", "allow", "disallow"):
            between = between or (key if cur is not None and not seen_rule else None)
        if kind == "user-agent":
            if cur is None or seen_rule:
                cur = _GroupBuilder(num)
                groups.append(cur)
                seen_rule = False
            elif between:
                w.add(
                    f"line {num}: User-agent joins the group of line {cur.line}: only Allow "
                    f"and Disallow end a group, not {between!r} (Google reads it so)"
                )
            between = None
            if value[:1] == "*" and (len(value) == 1 or value[1] in _ASCII_WS):
                cur.agents.append("*")
                continue
            token = product_token(value)
            if token:
                cur.agents.append(token)
            if value:
                cur.user_agents.append(value)
            name = agent_name(value)
            if token == value:
                pass
            elif name.casefold() == token.lower():
                w.add(f"line {num}: user-agent {value!r} read as product token {token!r}")
            elif token:
                w.add(
                    f"line {num}: user-agent {value!r} is not a product token: "
                    f"matched as {name!r} and as Google's token {token!r}"
                )
            elif name:
                w.add(
                    f"line {num}: user-agent {value!r} is not a product token: matched as {name!r}"
                )
        elif kind in ("allow", "disallow"):
            if cur is None:
                w.add(f"line {num}: {raw!r} comes before any User-agent line; ignored")
                continue
            cur.rules.append(Rule(kind == "allow", escape_pattern(value, latin1=latin1), num, raw))
            seen_rule = True
        elif kind in ("content-usage", "content-signal"):
            target = cur if cur is not None else preamble
            if cur is None:
                w.add(f"line {num}: {key} before any User-agent line; applied to every agent")
            path, statement = _split_pref(value)
            if path is None:
                path = "/"
                if statement and kind == "content-usage":
                    w.add(f"line {num}: {key} names no path; read as applying to /")
            path = escape_pattern(path, latin1=latin1)
            if kind == "content-usage":
                prefs = aipref.parse_content_usage(statement)
                target.usage.append(PrefLine(path, prefs, num, raw))
                notes = prefs.warnings
            else:
                sig = content_signal.parse_content_signal(statement)
                target.signals.append(PrefLine(path, sig, num, raw))
                notes = sig.warnings
            for note in notes:
                w.add(f"line {num}: {note}")
        elif kind == "sitemap":
            if value:
                sitemaps.append(value)
        elif kind == "license":
            if _is_absolute_url(value):
                licenses.append(value)
            else:
                w.add(f"line {num}: License {value!r} is not an absolute http(s) URL; ignored")
        elif key.lower() not in _IGNORED_KEYS and key.lower() not in unknown:
            unknown.add(key.lower())
            w.add(f"line {num}: unknown directive {key!r}; ignored")
    return RobotsTxt(
        groups=tuple(g.build() for g in groups),
        sitemaps=tuple(sitemaps),
        licenses=tuple(dict.fromkeys(licenses)),
        preamble=preamble.build(),
        warnings=w.done(),
    )


def robots_for_status(status: int | None, body: bytes | str | None = None) -> RobotsTxt:
    """The robots.txt that a fetch result stands for (RFC 9309 section 2.3.1).

    2xx: the parsed body. A 3xx here means the redirects were not resolved (more
    than five), which RFC 9309 reads as unavailable: allow all, as for 4xx.
    429, 5xx, any other status, and ``None`` (unreachable: DNS, TLS, timeout)
    disallow all; 429 follows Google, which treats it as a server error.
    """
    if status is not None and 200 <= status < 300:
        parsed = parse_robots(body if body is not None else b"")
        return replace(parsed, status=status, reason=f"HTTP {status}: parsed")
    if status is None:
        return RobotsTxt(access=Access.DISALLOW_ALL, reason="robots.txt unreachable: disallow all")
    if 300 <= status < 500 and status != 429:
        why = "unresolved redirect" if status < 400 else "unavailable"
        return RobotsTxt(
            access=Access.ALLOW_ALL, status=status, reason=f"HTTP {status} ({why}): allow all"
        )
    why = "server error" if 500 <= status < 600 or status == 429 else "unexpected status"
    return RobotsTxt(
        access=Access.DISALLOW_ALL, status=status, reason=f"HTTP {status} ({why}): disallow all"
    )

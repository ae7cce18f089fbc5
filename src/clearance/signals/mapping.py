"""The one mapping from every protocol's values onto Clearance's usages.

Each protocol's section turns that protocol's parsed result into ``Evidence``
(source, usage, permission, detail, raw). ``docs/signals.md`` documents the same
table; a test holds the two together. Parsers never decide usages themselves:
they report what the file says, and this module says what it means.
"""

from __future__ import annotations

# --- robots.txt, ai.txt, aipref Content-Usage, Content-Signal (section A) ---

# --- TDMRep, RSL, X-Robots-Tag / meta robots, pay-per-crawl, IPTC, C2PA (section B) ---

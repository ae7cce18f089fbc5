"""The public entry points for compliance texts: summaries from scans, and the policy.

``summarize`` reads one or more scan directories and an info file and builds
the EU public summary (``eu-summary``) or the California disclosure
(``ab2013``); ``copyright_policy`` builds the Art. 53(1)(c) policy from a
scan's configuration (or the flags a scan would take). ``write_document``
renders any of them to Markdown, HTML or JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from clearance.core.errors import InputNotFound, UserError
from clearance.core.files import read_regular
from clearance.reports.ab2013 import build_ab2013
from clearance.reports.document import Document
from clearance.reports.eu_summary import build_eu_summary
from clearance.reports.facts import collect
from clearance.reports.info import load_info
from clearance.reports.policy import build_policy

SUMMARIES = {"eu-summary": build_eu_summary, "ab2013": build_ab2013}


def summarize(
    dirs: Sequence[str | os.PathLike[str]],
    kind: str,
    info: str | os.PathLike[str] | None = None,
) -> Document:
    """The ``kind`` summary (``eu-summary`` or ``ab2013``) of the scans in ``dirs``."""
    build = SUMMARIES.get(kind)
    if build is None:
        raise UserError(f"--format must be one of {', '.join(SUMMARIES)}, not {kind!r}")
    model = load_info(info)
    return build(collect(dirs), model)


def copyright_policy(
    *,
    scan_dir: str | os.PathLike[str] | None = None,
    purpose: str = "train-genai",
    mode: str = "opt-out",
    web: str = "origin",
    agent: str = "Clearance",
    info: str | os.PathLike[str] | None = None,
    contact: str | None = None,
) -> Document:
    """The copyright policy for ``scan_dir``'s configuration, or for the given settings."""
    if scan_dir is not None:
        path = Path(scan_dir) / "manifest.json"
        try:
            raw = read_regular(path, 256 * 1024 * 1024).decode("utf-8")
            config = json.loads(raw).get("config") or {}
        except FileNotFoundError:
            raise InputNotFound(f"{path} does not exist", hint="give a scan output DIR") from None
        except (OSError, ValueError, AttributeError) as exc:
            raise UserError(f"{path} is not a readable scan manifest: {exc}") from None
        purpose = str(config.get("purpose", purpose))
        mode = str(config.get("mode", mode))
        web = str(config.get("web", web))
        agent = str(config.get("agent", agent))
    from clearance.core.policy import Mode
    from clearance.core.usage import parse_usage

    mode = Mode.parse(mode).value
    purpose = parse_usage(purpose).value
    if web not in ("origin", "head", "off"):
        raise UserError(f"--web must be origin, head or off, not {web!r}")
    return build_policy(
        purpose=purpose, mode=mode, web=web, agent=agent, info=load_info(info), contact=contact
    )

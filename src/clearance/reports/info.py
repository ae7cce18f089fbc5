"""What the scans cannot know: the provider, the model and each dataset, from a YAML file.

A compliance summary mixes two kinds of statement: facts the scans measured
(items, domains, opt-outs honoured) and facts only the provider knows (who
they are, the model, its modalities, the training period, whether a dataset
was bought). The second kind comes from ``--info model.yaml``; this module
reads it (``yaml.safe_load``: no tags, no code) and answers lookups by dotted
key. A key that is absent is *missing* and is listed as such in the summary:
nothing is guessed or filled in. The keys are documented in docs/compliance.md.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearance.core.errors import InputNotFound, UserError
from clearance.core.files import read_regular

MAX_INFO_BYTES = 1 << 20


@dataclass(slots=True)
class ModelInfo:
    """The parsed YAML document, and the keys looked up but not found (in order)."""

    doc: dict[str, Any] = field(default_factory=dict)
    source: str = "model.yaml"
    missing: list[str] = field(default_factory=list)

    def get(self, key: str, *, required: bool = True) -> Any:
        """The value at dotted ``key`` (``model.name``), or None; a required miss is recorded."""
        node: Any = self.doc
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = None
                break
            node = node[part]
        if node in (None, "", [], {}):
            if required and key not in self.missing:
                self.missing.append(key)
            return None
        return _plain(node)

    def dataset(self, name: str) -> DatasetInfo:
        return DatasetInfo(self, name)


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    """Lookups under ``datasets.<name>`` (the scan directory's name)."""

    info: ModelInfo
    name: str

    def get(self, key: str, *, required: bool = True) -> Any:
        datasets = self.info.doc.get("datasets")
        entry = datasets.get(self.name) if isinstance(datasets, Mapping) else None
        full = f"datasets.{self.name}.{key}"
        value = entry.get(key) if isinstance(entry, Mapping) else None
        if value in (None, "", [], {}):
            if required and full not in self.info.missing:
                self.info.missing.append(full)
            return None
        return _plain(value)


def _plain(value: Any) -> Any:
    """Dates as ISO text, booleans as yes/no; containers recursively."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_info(path: str | os.PathLike[str] | None) -> ModelInfo:
    """Read ``path`` (None: an empty document, so every provider fact is listed as missing)."""
    if path is None:
        return ModelInfo(source="(no --info file)")
    p = Path(path)
    try:
        text = read_regular(p, MAX_INFO_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise InputNotFound(f"info file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read info file {p}: {exc}") from None
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"{p} is not valid YAML{where}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise UserError(f"{p} must hold a YAML mapping (provider:, model:, datasets:, ...)")
    datasets = doc.get("datasets")
    if datasets is not None and not isinstance(datasets, dict):
        raise UserError(f"{p}: datasets must map scan directory names to their details")
    return ModelInfo(doc=doc, source=p.name)

"""The configuration of one scan run, and its digest.

A run's outputs are only meaningful together with what produced them: the
input, the purpose, the mode, how the web was consulted and the registry's
state. All of that lives in one frozen, picklable ``ScanConfig`` that the
runner hands to every shard worker, and whose digest is recorded next to each
finished shard, so ``--resume`` can refuse to mix shards from two different
configurations instead of silently producing a chimera.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from clearance.core.errors import UserError
from clearance.core.policy import Mode
from clearance.core.usage import Usage, parse_usage

FORMAT_VERSION = 1
"""Version of every file a scan writes (decisions.parquet, report/licenses/manifest.json,
shard records, the text index). Bumped on any incompatible change."""

DEFAULT_SHARD_SIZE = 1000
"""Items per shard for tabular inputs and folders (a WebDataset shard is one tar file)."""

PURPOSES = (Usage.TRAIN_GENAI, Usage.TRAIN_AI, Usage.AI_INPUT, Usage.SEARCH, Usage.TDM)
WEB_MODES = ("origin", "head", "off")
ENGINES = ("local", "ray")


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Everything that decides what a scan writes. Plain values only, so it pickles and hashes."""

    purpose: Usage = Usage.TRAIN_GENAI
    mode: Mode = Mode.OPT_OUT
    agent: str = "Clearance"
    web: str = "origin"
    allow_private: bool = False
    shard_size: int = DEFAULT_SHARD_SIZE
    registry: str = ""
    registry_state: str = ""
    input_digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["purpose"] = self.purpose.value
        out["mode"] = self.mode.value
        out["format_version"] = FORMAT_VERSION
        return out

    @property
    def digest(self) -> str:
        """SHA-256 over the canonical JSON of the configuration."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def parse_purpose(value: Usage | str) -> Usage:
    """A purpose is one of the usages a dataset can be built for."""
    usage = value if isinstance(value, Usage) else parse_usage(value)
    if usage not in PURPOSES:
        names = "|".join(p.value for p in PURPOSES)
        raise UserError(f"--purpose must be one of {names}, not {usage.value!r}")
    return usage


def parse_web(value: str) -> str:
    web = str(getattr(value, "value", value)).strip().lower()
    if web not in WEB_MODES:
        raise UserError(f"--web must be one of {'|'.join(WEB_MODES)}, not {value!r}")
    return web

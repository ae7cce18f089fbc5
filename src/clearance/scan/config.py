"""``ScanConfig``: the one configuration object of a scan run, and its digest.

Why one object: a scan's options travel from the CLI (or Python) through
``scan()``, the local and Ray engines, every shard worker, ``BatchDecider``,
Ray's ``ClearanceFilter`` and Hugging Face's ``filter_dataset``. Copying a
dozen keyword arguments through each of them is how they drift; instead each
takes a ``ScanConfig``, built and validated once (``ScanConfig.build``).

A run's outputs are only meaningful together with what produced them: the
input, the purpose, the mode, how the web was consulted, how far matching
went and the registry's state. Those fields make up the configuration
digest recorded next to each finished shard, so ``--resume`` can refuse to
mix shards from two configurations. Fields that only say *how* the run is
executed (engine, workers, Ray address, index cache) are left out of the
digest (``metadata={"run": True}``): a run may be resumed on another engine.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from clearance.core.errors import UserError
from clearance.core.models import VerificationLevel
from clearance.core.policy import Mode
from clearance.core.usage import Usage, parse_usage
from clearance.fetch.evaluate import WebMode
from clearance.matching.types import MatchLevel
from clearance.registry.engine import DEFAULT_REGISTRY, redact
from clearance.scan.formats.columns import ColumnMap, parse_columns

FORMAT_VERSION = 1
"""Version of every file a scan writes (decisions.parquet, report/licenses/manifest.json,
shard records). Bumped on any incompatible change."""

CONFIG_VERSION = 3
"""Version of the configuration digest's contents (2: match level, licensee, base dir;
3: column roles, caption matching, what unreachable sites decide)."""

DEFAULT_SHARD_SIZE = 1000
"""Items per shard for tabular inputs and folders (a WebDataset shard is one tar file)."""

PURPOSES = (Usage.TRAIN_GENAI, Usage.TRAIN_AI, Usage.AI_INPUT, Usage.SEARCH, Usage.TDM)
WEB_MODES = (WebMode.ORIGIN, WebMode.HEAD, WebMode.OFF)
ENGINES = ("local", "ray")
ON_UNREACHABLE = ("include", "exclude", "error")
"""What a URL row whose site signals could not be read becomes (``--on-unreachable``)."""


def _run(default: Any) -> Any:
    """A field that says how the run executes, not what it decides (kept out of the digest)."""
    return field(default=default, metadata={"run": True})


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Everything that decides what a scan writes, plus how it runs. Plain values: it pickles."""

    purpose: Usage = Usage.TRAIN_GENAI
    mode: Mode = Mode.OPT_OUT
    agent: str = "Clearance"
    web: WebMode = WebMode.ORIGIN
    allow_private: bool = False
    match: MatchLevel = MatchLevel.REGIONS
    embedder: str = ""
    """Path of the ONNX image embedder (``--match embedding``; env ``CLEARANCE_EMBEDDER``)."""
    licensee: str | None = None
    """Whose licence agreements count as evidence (``--licensee``)."""
    base_dir: str = ""
    """Tree that table ``path`` rows and folder links must stay in ("" = the input's root)."""
    columns: str = ""
    """Roles of a table's columns, ``role=COLUMN,...`` (``--columns``; ``formats.columns``);
    a mapping is accepted too. Layouts not named are recognised (LAION's ``URL``/``TEXT``)."""
    match_captions: bool = False
    """Match a row's caption against registered texts too (``--match-captions``)."""
    min_verification: VerificationLevel = VerificationLevel.SELF
    """The lowest claimant verification level acted on (``--min-verification``): claims of
    parties verified below it are recorded as ``ignored-for-verification``."""
    on_unreachable: str = ""
    """``include``, ``exclude`` or ``error``: what a URL row whose site signals could not be
    read becomes (``--on-unreachable``); "" = ``include`` in opt-out mode, ``exclude`` in opt-in."""
    shard_size: int = DEFAULT_SHARD_SIZE
    registry: str = DEFAULT_REGISTRY
    registry_state: str = ""
    input_digest: str = ""
    engine: str = _run("local")
    workers: int | None = _run(None)
    ray_address: str | None = _run(None)
    index_cache: str | None = _run(None)
    sign_key: str | None = _run(None)
    """An Ed25519 private key file: the manifest's root statement is signed with it."""
    engine_logs: bool = _run(False)
    """Let the engine (Ray) print its own logs; ``clearance --debug scan`` turns it on."""
    columnar: bool = _run(True)
    """Decide URL rows of Parquet and Hugging Face tables columnar (``scan.columnar``); the
    decisions are the per-row path's exactly, so it is not part of the digest. False forces
    the per-row path (the benchmark's baseline, and the agreement test's)."""
    site_cache: str | None = _run(None)
    """A directory of parsed site policies shared across runs (``--site-cache``; env
    ``CLEARANCE_SITE_CACHE``): a second scan of the same origins makes no requests."""

    @staticmethod
    def build(**options: Any) -> ScanConfig:
        """A validated configuration from user values (strings or enums); ``UserError`` if bad.

        Unknown option names are a ``TypeError`` (a programming error, as for any call).
        """
        names = {f.name for f in fields(ScanConfig)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"unknown scan options: {', '.join(unknown)}")
        values = {k: v for k, v in options.items() if v is not None or k in ("licensee",)}
        return replace(ScanConfig(), **values).validated()

    def validated(self) -> ScanConfig:
        """This configuration with every value parsed and checked."""
        engine = str(self.engine).strip().lower()
        if engine not in ENGINES:
            raise UserError(f"--engine must be local or ray, not {self.engine!r}")
        if self.ray_address is not None and engine != "ray":
            raise UserError("--ray-address needs --engine ray")
        if self.workers is not None and self.workers < 1:
            raise UserError("--workers must be at least 1")
        if self.shard_size < 1:
            raise UserError("--shard-size must be at least 1")
        level = MatchLevel.parse(self.match)
        if level is MatchLevel.EMBEDDING and not self.embedder:
            raise UserError(
                "--match embedding needs an image embedder",
                hint="set CLEARANCE_EMBEDDER to an ONNX model (docs/guard.md)",
            )
        licensee = self.licensee.strip() if self.licensee else None
        mode = Mode.parse(self.mode) if isinstance(self.mode, str) else self.mode
        return replace(
            self,
            purpose=parse_purpose(self.purpose),
            mode=mode,
            min_verification=VerificationLevel.parse(self.min_verification),
            columns=parse_columns(self.columns),
            match_captions=bool(self.match_captions),
            on_unreachable=parse_on_unreachable(self.on_unreachable, mode),
            web=parse_web(self.web),
            match=level,
            licensee=licensee or None,
            engine=engine,
            base_dir=os.fspath(self.base_dir) if self.base_dir else "",
            index_cache=os.fspath(self.index_cache) if self.index_cache else None,
            sign_key=os.fspath(self.sign_key) if self.sign_key else None,
            site_cache=os.fspath(self.site_cache) if self.site_cache else None,
        )

    @property
    def column_map(self) -> ColumnMap:
        """The roles of a table's columns (``formats.columns``)."""
        return ColumnMap.of(self.columns, self.match_captions)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["registry"] = redact(self.registry)  # manifest.json, .run.json: no password
        for key in ("purpose", "mode", "web", "match", "min_verification"):
            out[key] = str(getattr(self, key).value)
        out["format_version"] = FORMAT_VERSION
        out["config_version"] = CONFIG_VERSION
        return out

    def decisive(self) -> dict[str, Any]:
        """The fields that decide what is written (the digest's input)."""
        run = {f.name for f in fields(self) if f.metadata.get("run")}
        return {k: v for k, v in self.to_dict().items() if k not in run}

    @property
    def digest(self) -> str:
        """SHA-256 over the canonical JSON of the deciding fields."""
        text = json.dumps(self.decisive(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def parse_purpose(value: Usage | str) -> Usage:
    """A purpose is one of the usages a dataset can be built for."""
    names = "|".join(p.value for p in PURPOSES)
    usage = value if isinstance(value, Usage) else parse_usage(value, valid=names)
    if usage not in PURPOSES:
        raise UserError(f"--purpose must be one of {names}, not {usage.value!r}")
    return usage


def parse_on_unreachable(value: str | None, mode: Mode) -> str:
    """``include``/``exclude``/``error``; none given: ``include`` in opt-out mode, else
    ``exclude``."""
    text = str(value or "").strip().lower()
    if not text:
        return "include" if mode is Mode.OPT_OUT else "exclude"
    if text not in ON_UNREACHABLE:
        raise UserError(
            f"--on-unreachable must be one of {'|'.join(ON_UNREACHABLE)}, not {value!r}"
        )
    return text


def parse_web(value: WebMode | str) -> WebMode:
    web = str(getattr(value, "value", value)).strip().lower()
    if web not in {m.value for m in WEB_MODES}:
        raise UserError(
            f"--web must be one of {'|'.join(m.value for m in WEB_MODES)}, not {value!r}"
        )
    return WebMode(web)

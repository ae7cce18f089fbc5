"""Deciding a batch of rows in memory: the scan's per-item logic for other people's pipelines.

Why it exists: the Ray ``ClearanceFilter`` and the Hugging Face
``filter_dataset`` decide rows that never pass through a scan's shards, and
must decide them exactly as a scan would. So ``BatchDecider`` reuses the
scan's own pieces: the row reader (``url``/``path``/``text``/``image``
columns, Hugging Face image structs included), the registry index built once
per decider (into a temporary directory it owns), the web evaluation and the
per-item ``_decide``. Its rows carry the columns of ``decisions.parquet``
except ``item_id`` and ``source`` (``DECISION_COLUMNS``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clearance.core.policy import Mode
from clearance.core.usage import Usage
from clearance.registry.engine import DEFAULT_REGISTRY
from clearance.registry.store import open_store
from clearance.scan.config import ScanConfig, parse_purpose, parse_web
from clearance.scan.inputs import ShardSpec
from clearance.scan.matching import Matcher, build_index
from clearance.scan.readers import _row_item
from clearance.scan.schema import DECISIONS_SCHEMA
from clearance.scan.shard import _decide
from clearance.scan.web import evaluate_shard_urls

DECISION_COLUMNS = tuple(n for n in DECISIONS_SCHEMA.names if n not in ("item_id", "source"))
"""The columns a batch gains: outcome, reasons, work_ids, perm_<usage>..., evidence, error."""


class BatchDecider:
    """Decides rows (dicts with url/path/text/image) against one registry, index built once.

    Relative ``path`` values are read relative to ``base_dir`` (default: the
    current directory). Close it (or use it as a context manager) to release
    the store and the temporary index.
    """

    def __init__(
        self,
        registry: str = DEFAULT_REGISTRY,
        *,
        purpose: Usage | str = Usage.TRAIN_GENAI,
        mode: Mode | str = Mode.OPT_OUT,
        web: str = "origin",
        agent: str = "Clearance",
        allow_private: bool = False,
        base_dir: str | Path = ".",
        cache_dir: str | Path | None = None,
    ) -> None:
        self.config = ScanConfig(
            purpose=parse_purpose(purpose),
            mode=Mode.parse(mode) if isinstance(mode, str) else mode,
            agent=agent,
            web=parse_web(web),
            allow_private=allow_private,
            registry=registry,
        )
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        # ShardSpec.file's parent is where relative paths are resolved from.
        self._spec = ShardSpec(0, "batch", str(Path(base_dir).resolve() / "-"), "batch")
        store = open_store(registry)
        try:
            self._dir = tempfile.TemporaryDirectory(prefix="clearance-index-")
            build_index(store, Path(self._dir.name), store.state_digest())
            self.matcher = Matcher(Path(self._dir.name), store)
        except BaseException:
            store.close()
            raise

    def decide(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One decision per row, in order, with the ``DECISION_COLUMNS`` keys."""
        items = [_row_item(self._spec, i, dict(r)) for i, r in enumerate(rows)]
        urls = [i.url for i in items if i.url is not None and i.error is None]
        web = evaluate_shard_urls(
            urls,
            web=self.config.web,
            agent=self.config.agent,
            allow_private=self.config.allow_private,
            cache_dir=self.cache_dir,
        )
        out = []
        for item in items:
            row = _decide(item, self.matcher, web, self.config)
            out.append({k: row.get(k) for k in DECISION_COLUMNS})
        return out

    def close(self) -> None:
        self.matcher.store.close()
        self._dir.cleanup()

    def __enter__(self) -> BatchDecider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

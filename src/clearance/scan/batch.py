"""Deciding a batch of rows in memory: the scan's per-item logic for other people's pipelines.

Why it exists: the Ray ``ClearanceFilter`` and the Hugging Face
``filter_dataset`` decide rows that never pass through a scan's shards, and
must decide them exactly as a scan would. So ``BatchDecider`` reuses the
scan's own pieces under the same ``ScanConfig``: the row reader
(``scan.formats.rows``), the registry's ``MatchIndex`` built once per
decider, the web evaluation and the per-item ``decide``. Its rows carry the
columns of ``decisions.parquet`` except ``item_id`` and ``source``
(``DECISION_COLUMNS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearance.core.storage import is_uri
from clearance.matching import MatchIndex
from clearance.registry.store import open_store
from clearance.scan.config import ScanConfig
from clearance.scan.formats.rows import row_item
from clearance.scan.schema import DECISIONS_SCHEMA
from clearance.scan.shard import Worker, decide
from clearance.scan.web import evaluate_shard_urls

DECISION_COLUMNS = tuple(n for n in DECISIONS_SCHEMA.names if n not in ("item_id", "source"))
"""The columns a batch gains: outcome, reasons, work_ids, perm_<usage>..., evidence, error."""


def scan_config(config: ScanConfig | str | None = None, **options: Any) -> ScanConfig:
    """A validated ``ScanConfig``: the one given (options override its fields), or one built
    from ``options``; a string is the registry location (``BatchDecider("clearance.db")``)."""
    if isinstance(config, str):
        options = {"registry": config, **options}
        config = None
    if config is None:
        return ScanConfig.build(**options)
    if not options:
        return config.validated()
    fields = {name: getattr(config, name) for name in config.__dataclass_fields__}
    return ScanConfig.build(**{**fields, **options})


class BatchDecider:
    """Decides rows (dicts with url/path/text/image/caption/...; which column plays which
    role: ``config.columns``) against one registry, index built once.

    Relative ``path`` values are read relative to ``config.base_dir`` (default:
    the current directory), and must stay inside it. ``cache_dir`` keeps
    fetched site files (default: ``config.site_cache``). Close it (or use it as a
    context manager) to release the store.
    """

    def __init__(
        self,
        config: ScanConfig | str | None = None,
        *,
        cache_dir: str | Path | None = None,
        **options: Any,
    ) -> None:
        config = scan_config(config, **options)
        self.config = config
        if cache_dir is None and config.site_cache:
            cache_dir = config.site_cache
        self.cache_dir: Path | str | None = None
        if cache_dir is not None:  # a URI (every node's one cache) or a local directory
            self.cache_dir = str(cache_dir) if is_uri(cache_dir) else Path(cache_dir)
        self.base = Path(config.base_dir or ".").resolve()
        self.as_of = datetime.now(UTC)
        with open_store(config.registry) as store:
            index = MatchIndex.from_store(store, level=config.match)
        self.worker = Worker.open(index, config, self.as_of)

    def decide(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One decision per row, in order, with the ``DECISION_COLUMNS`` keys."""
        columns = self.config.column_map
        captions = columns.match_captions
        items = [
            row_item("batch", i, columns.view(r), self.base, self.base, captions=captions)
            for i, r in enumerate(rows)
        ]
        urls = [i.url for i in items if i.url is not None and i.error is None]
        web = evaluate_shard_urls(
            urls,
            web=self.config.web.value,
            agent=self.config.agent,
            allow_private=self.config.allow_private,
            cache_dir=self.cache_dir,
        )
        out = []
        for item in items:
            row = decide(item, self.worker, web, self.config, self.as_of)
            out.append({k: row.get(k) for k in DECISION_COLUMNS})
        return out

    def close(self) -> None:
        self.worker.close()

    def __enter__(self) -> BatchDecider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The Arrow schema of ``decisions.parquet`` (format_version 1; columns in docs/scan.md).

Declared once so every shard part has the same schema (an all-null column
in one shard must not become a different type from the next) and so the
docs and the writer cannot drift apart.
"""

from __future__ import annotations

import pyarrow as pa

from clearance.core.usage import ALL_USAGES

DECISIONS_SCHEMA = pa.schema(
    [
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("reasons", pa.list_(pa.string())),
        pa.field("work_ids", pa.list_(pa.int64())),
        *(pa.field(f"perm_{u.value}", pa.string()) for u in ALL_USAGES),
        pa.field("evidence", pa.string()),
        pa.field("error", pa.string()),
    ],
    metadata={"format": "clearance.scan-decisions", "format_version": "1"},
)

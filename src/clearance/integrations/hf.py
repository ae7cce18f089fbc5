"""``filter_dataset``: clearance for a Hugging Face ``datasets.Dataset`` in memory.

A dataset already on disk can be scanned with ``clearance scan DIR`` (a
``save_to_disk`` folder is a scan input). This function is for a dataset a
program holds: it decides every row as the scan would (``BatchDecider``,
index built once per call) and returns a new dataset with one column added,
``clearance``: a struct of the decision columns of ``decisions.parquet``
(``outcome``, ``reasons``, ``work_ids``, ``perm_<usage>``, ``evidence``,
``error``). By default only rows whose outcome is ``include`` are kept.

Rows are read as Arrow (``with_format("arrow")``), so images stay undecoded
bytes (a ``datasets.Image`` column is a ``{"bytes", "path"}`` struct) and no
PIL decoding happens.
"""

from __future__ import annotations

from typing import Any

from clearance.core.errors import UserError
from clearance.scan.batch import BatchDecider, scan_config
from clearance.scan.config import ScanConfig

__all__ = ["COLUMN", "HF_HINT", "filter_dataset"]

COLUMN = "clearance"
HF_HINT = "pip install 'clearance[hf]'"


def import_datasets() -> Any:
    """The ``datasets`` module, or our ``UserError`` with the install hint."""
    try:
        import datasets
    except ImportError as exc:
        raise UserError(f"Hugging Face support needs datasets ({exc})", hint=HF_HINT) from None
    return datasets


def filter_dataset(
    ds: Any,
    config: ScanConfig | None = None,
    *,
    include_only: bool = True,
    batch_size: int = 1000,
    **options: Any,
) -> Any:
    """``ds`` with a ``clearance`` decision column, filtered to included rows by default.

    ``ds`` is a ``datasets.Dataset`` with any of the columns url, path, text
    and image. ``include_only=False`` keeps every row (filter later on
    ``ds["clearance"]["outcome"]``). ``config`` (or its fields as keyword
    arguments: ``registry``, ``purpose``, ``mode``, ``web``, ``match``,
    ``licensee``, ``base_dir``, ...) means what it means for ``clearance scan``;
    relative ``path`` values are read from ``base_dir`` (default: the current
    directory).
    """
    datasets = import_datasets()
    if not isinstance(ds, datasets.Dataset):
        raise UserError(
            f"filter_dataset needs a datasets.Dataset, not {type(ds).__name__}",
            hint="for a DatasetDict, filter each split: {k: filter_dataset(v, ...)}",
        )
    config = scan_config(config, **options)
    columns = config.column_map
    columns.check("the dataset", ds.column_names)
    present = list(columns.roles(ds.column_names).values())
    decisions: list[dict[str, Any]] = []
    with BatchDecider(config) as decider:
        rows = ds.select_columns(present).with_format("arrow")
        for start in range(0, len(ds), batch_size):
            batch = rows[start : start + batch_size]
            decisions += decider.decide(batch.to_pylist())
    out = ds.remove_columns([COLUMN]) if COLUMN in ds.column_names else ds
    out = out.add_column(COLUMN, decisions)
    if include_only:
        keep = [i for i, d in enumerate(decisions) if d["outcome"] == "include"]
        out = out.select(keep)
    return out

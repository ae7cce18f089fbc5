"""``ClearanceFilter``: clearance as a step of a user's own Ray Data pipeline.

Why a callable class: Ray Data constructs it once in each actor of the pool
(``ds.map_batches(ClearanceFilter, fn_constructor_kwargs=...,
compute=ray.data.ActorPoolStrategy(size=N))``),
so the registry is opened and its matching index built once per actor, not
once per batch. Batches may be ``pyarrow`` tables, pandas DataFrames or
``numpy`` dicts with any of the columns ``url``, ``path``, ``text`` and
``image`` (bytes or a Hugging Face ``{"bytes", "path"}`` struct), or the
columns ``columns=`` names for those roles (LAION's ``URL`` is recognised). Each batch is
returned in its own format with the decision columns of ``decisions.parquet``
added (``outcome``, ``reasons``, ``work_ids``, ``perm_<usage>``, ``evidence``,
``error``; a column of the batch with one of these names is replaced) and,
with ``include_only=True``, only the rows whose outcome is ``include``.
"""

from __future__ import annotations

from typing import Any

from clearance.core.errors import UserError
from clearance.scan.batch import DECISION_COLUMNS, BatchDecider
from clearance.scan.config import ScanConfig

__all__ = ["ClearanceFilter"]


class ClearanceFilter:
    """Adds clearance decisions to each batch (see the module docstring).

    ``config`` is a ``ScanConfig`` (or the registry location, a SQLite path or a
    PostgreSQL URL every actor must reach), and keyword arguments set its
    fields (``purpose``, ``mode``, ``web``, ``match``, ``licensee``, ...); they
    mean what they mean for ``clearance scan``.
    """

    def __init__(
        self,
        config: ScanConfig | str | None = None,
        *,
        include_only: bool = False,
        **options: Any,
    ) -> None:
        from clearance.scan.runner_ray import import_ray

        import_ray()  # a missing Ray fails here, with the hint, not deep in a pipeline
        self.include_only = include_only
        self._decider = BatchDecider(config, **options)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        if isinstance(batch, pa.Table):
            return self._arrow(batch)
        if isinstance(batch, dict):
            return self._numpy(batch)
        if type(batch).__name__ == "DataFrame":
            return self._pandas(batch)
        raise UserError(
            f"ClearanceFilter cannot read a {type(batch).__name__} batch",
            hint='use batch_format="pyarrow", "pandas" or "numpy"',
        )

    def _used(self, names: list[str]) -> list[str]:
        """The batch's columns that play a role (``ScanConfig.columns``)."""
        return list(self._decider.config.column_map.roles(names).values())

    def _arrow(self, batch: Any) -> Any:
        import pyarrow as pa

        from clearance.scan.schema import DECISIONS_SCHEMA

        present = self._used(batch.column_names)
        rows = batch.select(present).to_pylist() if present else [{}] * batch.num_rows
        decided = pa.Table.from_pylist(
            self._decider.decide(rows),
            schema=pa.schema([DECISIONS_SCHEMA.field(c) for c in DECISION_COLUMNS]),
        )
        out = batch.drop_columns([c for c in DECISION_COLUMNS if c in batch.column_names])
        for name in DECISION_COLUMNS:
            out = out.append_column(decided.schema.field(name), decided.column(name))
        if self.include_only:
            out = out.filter(pa.compute.equal(out.column("outcome"), "include"))
        return out

    def _pandas(self, batch: Any) -> Any:
        import pyarrow as pa

        present = self._used(list(batch.columns))
        rows = (
            pa.Table.from_pandas(batch[present], preserve_index=False).to_pylist()
            if present
            else [{}] * len(batch)
        )
        decided = self._decider.decide(rows)
        out = batch.copy()
        for name in DECISION_COLUMNS:
            out[name] = [d[name] for d in decided]
        if self.include_only:
            out = out[out["outcome"] == "include"].reset_index(drop=True)
        return out

    def _numpy(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        n = len(next(iter(batch.values()))) if batch else 0
        present = self._used(list(batch))
        columns = {c: _plain(batch[c]) for c in present}
        rows = [{c: columns[c][i] for c in present} for i in range(n)]
        decided = self._decider.decide(rows)
        out = dict(batch)
        for name in DECISION_COLUMNS:
            values = np.empty(n, dtype=object)
            values[:] = [d[name] for d in decided]
            out[name] = values
        if self.include_only:
            keep = out["outcome"] == "include"
            out = {k: np.asarray(v)[keep] for k, v in out.items()}
        return out

    def close(self) -> None:
        """Release the store and the temporary index (Ray ends actors without asking)."""
        self._decider.close()


def _plain(values: Any) -> list[Any]:
    """A numpy column as Python values (None for missing), whatever its dtype."""
    out = []
    for v in list(values):
        if hasattr(v, "item") and not isinstance(v, bytes | str):
            v = v.item() if getattr(v, "ndim", 0) == 0 else v
        if isinstance(v, float) and v != v:  # NaN: a missing value
            v = None
        out.append(v)
    return out

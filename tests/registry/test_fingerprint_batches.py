"""``iter_fingerprint_batches`` (bulk reads for index builds) equals ``iter_fingerprints``."""

from __future__ import annotations

from pathlib import Path

from clearance.registry import SqlStore, add_works
from tests.samples import POEM, write_image


def test_batches_equal_records(store: SqlStore, tmp_path: Path) -> None:
    paths = [write_image(tmp_path / f"i{s}.jpg", s) for s in (1, 2, 3)]
    (tmp_path / "p.txt").write_text(POEM, encoding="utf-8")
    add_works(store, [str(p) for p in paths] + [str(tmp_path / "p.txt")], owner="A")
    for algo in ("pdq", "pdq-regions", "text-8grams", "sha256", "none"):
        records = [(w, r.data, r.quality) for w, r in store.iter_fingerprints(algo)]
        batched = [row for rows in store.iter_fingerprint_batches(algo, batch=2) for row in rows]
        assert batched == records
    assert len([1 for rows in store.iter_fingerprint_batches("pdq", batch=2) for _ in rows]) == 3

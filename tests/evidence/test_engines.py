"""The same input gives the same Merkle roots on every engine, and after a resume.

One combined test, because starting Ray is slow: one process, a process
pool, Ray, and a run resumed (by Ray, with another signing key) after two
of its shards were lost, all give the same run root and shard roots, and
each verifies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from clearance.evidence import generate_keypair, load_public_key, verify_run
from clearance.scan import scan
from clearance.scan.shard import PARTS_DIR
from tests.evidence.conftest import SHARD, dataset


def _merkle(out: Path) -> dict[str, object]:
    doc = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {"root": doc["merkle"]["root"], "shards": doc["merkle"]["shards"]}


def test_local_pool_ray_and_resumed_runs_share_their_roots(
    registry: str, tmp_path: Path, keypair: tuple[Path, Path]
) -> None:
    import ray

    data = dataset(tmp_path / "rows.jsonl")
    common = {"registry": registry, "purpose": "train-ai", "web": "off", "shard_size": SHARD}
    scan(data, tmp_path / "one", workers=1, sign_key=keypair[0], **common)
    scan(data, tmp_path / "pool", workers=2, **common)
    expected = _merkle(tmp_path / "one")
    assert _merkle(tmp_path / "pool") == expected

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    try:
        out = tmp_path / "ray"
        scan(data, out, engine="ray", workers=2, sign_key=keypair[0], **common)
        assert _merkle(out) == expected
        # lose two shards as a kill would, then resume with Ray and a new key
        (out / PARTS_DIR / "shard-000001.json").unlink()
        (out / PARTS_DIR / "shard-000004.json").unlink()
        (out / PARTS_DIR / "shard-000004.decisions.parquet").unlink()
        (out / "decisions.parquet").unlink()
        new_private, new_public = generate_keypair(tmp_path / "rotated.key")
        resumed = scan(
            data, out, engine="ray", workers=2, resume=True, sign_key=new_private, **common
        )
    finally:
        ray.shutdown()
    assert resumed.resumed_shards == resumed.shards - 2
    assert _merkle(out) == expected
    assert verify_run(out, pubkey=load_public_key(new_public)).ok
    old = verify_run(out, pubkey=load_public_key(keypair[1]))
    assert [f.kind for f in old.findings] == ["key-mismatch", "signature-bad"]
    assert verify_run(tmp_path / "one", pubkey=load_public_key(keypair[1])).ok
    # the unsigned pool run verifies too, and says it is unsigned
    pool = verify_run(tmp_path / "pool")
    assert pool.ok and not pool.signed

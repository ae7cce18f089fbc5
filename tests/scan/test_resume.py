"""Reliability: a run killed with SIGKILL and resumed equals an uninterrupted run.

Also: ``--resume`` refuses a directory whose run had another configuration or
registry state, a fresh run refuses a non-empty directory, a damaged shard
part is redone, and the process pool gives the same decisions as one process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clearance.core import ClearanceError, UserError
from clearance.registry import add_works, open_store
from clearance.scan import scan
from tests.samples import POEM

ROWS = 240
SHARD = 3


def _dataset(path: Path) -> Path:
    rows = []
    for i in range(ROWS):
        if i % 4 == 0:
            rows.append({"url": f"https://dana.example/{i}.jpg", "n": i})
        elif i % 4 == 1:
            rows.append({"url": f"https://ben.example/lyrics/{i}", "n": i})
        elif i % 4 == 2:
            rows.append({"text": f"{POEM} number {i}", "n": i})
        else:
            rows.append({"text": f"row {i} has words of its own", "n": i})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sorted_rows(out: Path) -> list[dict[str, object]]:
    return sorted(pq.read_table(out / "decisions.parquet").to_pylist(), key=lambda r: r["item_id"])


def _cli(data: Path, out: Path, registry: str, *extra: str) -> subprocess.Popen[bytes]:
    code = "import sys; from clearance.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "scan", str(data), "--out", str(out)]
    args += ["--registry", registry, "--web", "off", "--workers", "1"]
    args += ["--shard-size", str(SHARD), "--json", *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_after(proc: subprocess.Popen[bytes], parts: Path, records: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(parts.glob("shard-*.json"))) >= records:
            break
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    return len(list(parts.glob("shard-*.json")))


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path, registry: str) -> None:
    data = _dataset(tmp_path / "d.jsonl")
    scan(data, tmp_path / "clean", registry=registry, web="off", workers=1, shard_size=SHARD)
    out = tmp_path / "killed"
    parts = out / ".parts"
    total = -(-ROWS // SHARD)
    first = _kill_after(_cli(data, out, registry), parts, 3)
    assert 0 < first < total, "the run must be killed part-way"
    resumed = scan(
        data, out, registry=registry, web="off", workers=1, shard_size=SHARD, resume=True
    )
    assert resumed.resumed_shards >= first and resumed.report["items"] == ROWS
    assert _sorted_rows(out) == _sorted_rows(tmp_path / "clean")
    assert (out / "cleared" / "d.jsonl").read_bytes() == (
        tmp_path / "clean" / "cleared" / "d.jsonl"
    ).read_bytes()
    assert not list(parts.glob("*.tmp"))


def test_resume_checks_configuration(tmp_path: Path, registry: str) -> None:
    data = _dataset(tmp_path / "d.jsonl")
    out = tmp_path / "out"
    first = scan(data, out, registry=registry, web="off", workers=1, shard_size=60)
    with pytest.raises(UserError, match="not empty"):
        scan(data, out, registry=registry, web="off", workers=1, shard_size=60)
    with pytest.raises(UserError, match=r"different configuration.*mode"):
        scan(
            data,
            out,
            registry=registry,
            web="off",
            workers=1,
            shard_size=60,
            mode="opt-in",
            resume=True,
        )
    again = scan(data, out, registry=registry, web="off", workers=1, shard_size=60, resume=True)
    assert again.resumed_shards == again.shards == 4 and again.report == first.report
    # a damaged part is detected by its digest and redone
    part = out / ".parts" / "shard-000001.decisions.parquet"
    part.write_bytes(b"garbage")
    redo = scan(data, out, registry=registry, web="off", workers=1, shard_size=60, resume=True)
    assert redo.resumed_shards == 3 and redo.report == first.report
    # a changed registry is a different run
    reg = tmp_path / "r.db"
    shutil.copy(registry, reg)
    out2 = tmp_path / "out2"
    scan(data, out2, registry=str(reg), web="off", workers=1, shard_size=60)
    with open_store(str(reg)) as store:
        add_works(store, ["domain:new.example"], owner="Eve")
    with pytest.raises(UserError, match="registry_state"):
        scan(data, out2, registry=str(reg), web="off", workers=1, shard_size=60, resume=True)


def test_process_pool_matches_one_process(tmp_path: Path, registry: str) -> None:
    data = _dataset(tmp_path / "d.jsonl")
    scan(data, tmp_path / "one", registry=registry, web="off", workers=1, shard_size=50)
    seen: list[tuple[int, int]] = []
    pooled = scan(
        data,
        tmp_path / "two",
        registry=registry,
        web="off",
        workers=2,
        shard_size=50,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert _sorted_rows(tmp_path / "one") == _sorted_rows(tmp_path / "two")
    assert pooled.shards == 5 and seen[-1] == (ROWS, ROWS)


def test_failed_shard_keeps_the_others_for_resume(
    tmp_path: Path, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clearance.scan.formats.tables import JsonlInput

    data = _dataset(tmp_path / "d.jsonl")
    real = JsonlInput.read

    def flaky(self, spec):  # type: ignore[no-untyped-def]
        if spec.index == 1:
            raise OSError("disk went away")
        return real(self, spec)

    monkeypatch.setattr(JsonlInput, "read", flaky)
    out = tmp_path / "out"
    with pytest.raises(ClearanceError, match=r"1 of 4 shards failed; shard 1: disk went away"):
        scan(data, out, registry=registry, web="off", workers=1, shard_size=60)
    assert len(list((out / ".parts").glob("shard-*.json"))) == 3
    assert not (out / "decisions.parquet").exists()
    monkeypatch.setattr(JsonlInput, "read", real)
    result = scan(data, out, registry=registry, web="off", workers=1, shard_size=60, resume=True)
    assert result.resumed_shards == 3 and result.report["items"] == ROWS


def test_the_run_files_keep_no_registry_password() -> None:
    """``.run.json`` and ``manifest.json`` hold ``config.to_dict()``: a password in a
    ``postgresql://`` registry URL must not be written there, and the digest ignores it."""
    from clearance.scan.config import ScanConfig

    secret = ScanConfig(registry="postgresql://scanner:s3cr3t@db.example/clearance")
    other = ScanConfig(registry="postgresql://scanner:changed@db.example/clearance")
    assert "s3cr3t" not in json.dumps(secret.to_dict())
    assert secret.to_dict()["registry"].startswith("postgresql://scanner:")
    assert secret.digest == other.digest  # rotating a password does not make a new run

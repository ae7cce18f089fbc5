"""The scan benchmark runs end to end at toy sizes (no timing is asserted: the machine is shared).

Why: ``make bench`` is only run by hand, so without this a change to the scan's
API or to the registry schema would break the benchmark unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_scan


def test_bench_scan_runs_at_toy_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench_scan.main(
        [
            "--images", "4", "--megapixels", "0.05", "--codes", "500",
            "--rows", "120", "--origins", "6", "--baseline-urls", "30",
            "--image-shard-size", "1", "--url-shard-size", "30", "--rounds", "1",
            "--workers", "2", "--skip-ray", "--cache-dir", str(tmp_path / "cache"),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "500 random PDQ codes" in out
    assert "scan --web off, round 0" in out
    assert "CPU per image in one process" in out
    assert "120 URL rows over 6 origins" in out
    assert "HTTP requests the server saw" in out
    assert out.count("evidence step (Merkle tree over") == 2
    assert "per-URL HEAD check (datadiligence-style) on 30 rows" in out
    # Every 10th photo is registered by an owner who denies TDM: the scan finds it.
    assert "'exclude': 1" in out
    assert "identical decisions.parquet: True; requests during both runs: 0" in out


def test_bench_sites_runs_at_toy_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import bench_sites

    bench_sites.main(["--origins", "12", "--latency", "0.001", "0.002", "--baseline", "3"])
    out = capsys.readouterr().out
    assert "12 origins" in out and "origins per CPU-second" in out
    assert "again over the same cache" in out and " 0 requests" in out


def test_site_answers_vary_by_origin() -> None:
    assert bench_scan.host_number(bench_scan.origin_host(1234) + ":8080") == 1234
    opted_out = bench_scan.site_answer(0, "/robots.txt", "h")[2]
    assert b"GPTBot" in opted_out and b"License:" in opted_out
    assert bench_scan.site_answer(2, "/robots.txt", "h")[2] == b"User-agent: *\nAllow: /\n"
    assert b"Disallow: /photos/" in bench_scan.site_answer(1, "/robots.txt", "h")[2]
    assert bench_scan.site_answer(12, "/robots.txt", "h")[0] == 404
    assert bench_scan.site_answer(1, "/ai.txt", "h")[0] == 404

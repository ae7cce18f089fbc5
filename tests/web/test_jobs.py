"""Scan jobs survive a restart: a job whose process is gone reads as interrupted, one that
another live worker process runs reads as it wrote it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clearance.core.errors import NotFound
from clearance.web.jobs import ScanJobs


def test_jobs_on_disk_are_read_back_by_any_process(tmp_path: Path) -> None:
    jobs = ScanJobs(tmp_path / "scans", registry=str(tmp_path / "r.db"), allow_private=False)
    first = jobs.new("Ann", "a.jsonl", purpose="train-genai", mode="opt-out", web="off")
    second = jobs.new("Ann", "b.jsonl", purpose="train-genai", mode="opt-out", web="off")
    assert (first.id, second.id) == (1, 2)
    assert jobs.folder("Ann") != jobs.folder("Bob") and ".." not in jobs.folder("../x").name
    with pytest.raises(NotFound):
        jobs.get("Bob", 1)  # another party's number is not yours

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    path = jobs.job_dir(first) / "job.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "status": "running", "pid": int(gone.stdout)}))
    path2 = jobs.job_dir(second) / "job.json"
    doc2 = json.loads(path2.read_text())
    path2.write_text(json.dumps({**doc2, "status": "running", "done": 5, "total": 10,
                                 "pid": os.getppid()}))  # fmt: skip
    fresh = ScanJobs(tmp_path / "scans", registry=str(tmp_path / "r.db"), allow_private=False)
    assert fresh.get("Ann", 1).status == "interrupted"
    assert (fresh.get("Ann", 2).status, fresh.get("Ann", 2).percent) == ("running", 50)
    assert [j.id for j in fresh.list("Ann")] == [2, 1]
    jobs.close()
    fresh.close()


def test_a_job_file_of_another_version_is_not_listed(tmp_path: Path) -> None:
    jobs = ScanJobs(tmp_path / "scans", registry=str(tmp_path / "r.db"), allow_private=False)
    job = jobs.new("Ann", "a.jsonl", purpose="train-genai", mode="opt-out", web="off")
    path = jobs.job_dir(job) / "job.json"
    doc = json.loads(path.read_text())
    assert (doc["format"], doc["format_version"]) == ("clearance.web-scan-job", 1)
    path.write_text(json.dumps({**doc, "format_version": 2}))
    fresh = ScanJobs(tmp_path / "scans", registry=str(tmp_path / "r.db"), allow_private=False)
    assert fresh.list("Ann") == []
    jobs.close()
    fresh.close()

"""Scans the web app runs for developers: one background thread, progress a page can poll.

Why a module: a scan takes seconds to hours, longer than any request, so the
page that submits it gets an id at once and the scan runs here, through
``clearance.scan.scan`` (the same function and ``ScanConfig`` as ``clearance
scan``) with a progress callback. Each job has a folder under
``Settings.web_scans`` (one sub-folder per party, named by a digest of the
party's name: names are hostile): ``job.json`` (what was asked, its status),
the uploaded manifest when there is one, and ``out/`` (the scan's own
outputs, ``report.html`` included). ``job.json`` is written atomically at
each change and at most once a second with the progress, so the list survives
a restart and every worker process of a server sees every job; a job that was
running when its process stopped reads as ``interrupted``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearance.core.errors import ClearanceError, NotFound
from clearance.core.files import atomic_write_text
from clearance.core.processes import process_alive
from clearance.scan import scan

STATUSES = ("queued", "running", "done", "failed", "interrupted")
FORMAT = "clearance.web-scan-job"
FORMAT_VERSION = 1


@dataclass
class ScanJob:
    """One submitted scan."""

    id: int
    party: str
    input: str  # what the developer named (a relative path, or the uploaded file's name)
    purpose: str
    mode: str
    web: str
    status: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    submitted_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    finished_at: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    pid: int = field(default_factory=os.getpid)  # the server process that runs it

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "interrupted")


class ScanJobs:
    """The jobs of one web app: submitted, run one at a time, listed per party."""

    def __init__(self, root: Path, *, registry: str, allow_private: bool) -> None:
        self.root = root
        self.registry = registry
        self.allow_private = allow_private
        self._live: dict[tuple[str, int], ScanJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clearance-web-scan")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def folder(self, party: str) -> Path:
        return self.root / hashlib.sha256(party.encode()).hexdigest()[:24]

    def job_dir(self, job: ScanJob) -> Path:
        return self.folder(job.party) / str(job.id)

    def output(self, job: ScanJob) -> Path:
        return self.job_dir(job) / "out"

    def new(self, party: str, label: str, *, purpose: str, mode: str, web: str) -> ScanJob:
        """A new job's record and folder (not yet started: ``start``)."""
        with self._lock:
            base = self.folder(party)
            base.mkdir(parents=True, exist_ok=True)
            taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()]
            job = ScanJob(max(taken, default=0) + 1, party, label, purpose, mode, web)
            while True:  # another worker process may take the same number: the folder decides
                try:
                    self.job_dir(job).mkdir()
                    break
                except FileExistsError:
                    job.id += 1
            self._save(job)
            self._live[(party, job.id)] = job
        return job

    def start(self, job: ScanJob, input_path: Path) -> None:
        self._pool.submit(self._run, job, input_path)

    def _save(self, job: ScanJob) -> None:
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(job)}
        atomic_write_text(self.job_dir(job) / "job.json", json.dumps(doc, indent=2))

    def _run(self, job: ScanJob, input_path: Path) -> None:
        job.status = "running"
        self._save(job)

        saved = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal saved
            job.done, job.total = done, total
            if time.monotonic() - saved >= 1.0:  # other worker processes read it from disk
                saved = time.monotonic()
                self._save(job)

        try:
            result = scan(
                input_path,
                self.output(job),
                registry=self.registry,
                purpose=job.purpose,
                mode=job.mode,
                web=job.web,
                allow_private=self.allow_private,
                licensee=job.party,
                workers=1,
                progress=progress,
            )
        except ClearanceError as exc:
            job.status, job.error = "failed", str(exc)
        except Exception as exc:  # a job's failure is its status, as a shard's is its row's
            job.status, job.error = "failed", f"internal error ({type(exc).__name__})"
        else:
            job.status = "done"
            job.summary = _summary(result)
        job.finished_at = datetime.now(UTC).isoformat()
        self._save(job)
        with self._lock:
            self._live.pop((job.party, job.id), None)

    def get(self, party: str, job_id: int) -> ScanJob:
        with self._lock:
            live = self._live.get((party, job_id))
        if live is not None:
            return live
        path = self.folder(party) / str(job_id) / "job.json"
        if job_id < 1 or not path.is_file():
            raise NotFound(f"no scan {job_id} of yours")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("format", None) != FORMAT or data.pop("format_version", None) != FORMAT_VERSION:
            raise NotFound(f"scan {job_id} was written by another version")
        job = ScanJob(**data)
        if not job.finished and not _alive(job.pid):
            job.status = "interrupted"  # it was running when its process stopped
        return job

    def list(self, party: str) -> list[ScanJob]:
        base = self.folder(party)
        if not base.is_dir():
            return []
        ids = sorted((int(p.name) for p in base.iterdir() if p.name.isdigit()), reverse=True)
        out = []
        for job_id in ids:
            try:
                out.append(self.get(party, job_id))
            except (NotFound, ValueError, TypeError):
                continue
        return out


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (another server worker)."""
    # this process would have the job in memory
    return pid != os.getpid() and process_alive(pid)


def _summary(result: Any) -> dict[str, Any]:
    """What the scan page shows: items, and items per outcome (from ``report.json``)."""
    report = getattr(result, "report", {}) or {}
    outcomes = report.get("outcomes") or {}
    return {
        "items": int(report.get("items") or 0),
        "outcomes": {str(k): int(v) for k, v in outcomes.items() if isinstance(v, int)},
    }

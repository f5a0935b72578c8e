"""Syncs in a background thread of the service: a queue of jobs, one running at a time.

A request while a job runs is queued, and a request that an already queued job covers
(same servers or fewer, not a full pass when that one is incremental) joins that job
instead of running twice. Between two processes on one database the sync lock decides:
a job waits for it ("waiting") instead of failing. ``stop`` lets the running batch
finish (the progress callback, called between batches, raises) and abandons the rest:
every batch is one transaction, and the watermark moves only when a run completes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..config import Config
from ..errors import IdmapError, SyncInterrupted, SyncLocked
from ..mapping.store import Store, utcnow
from ..sync import SyncOptions, sync_servers

__all__ = ["SyncJob", "SyncRunner"]

log = logging.getLogger(__name__)
KEEP_JOBS = 200  # finished jobs remembered for GET /api/v1/sync/{run_id}


class Stopping(SyncInterrupted):
    """Raised between two batches when the service stops."""


@dataclass
class SyncJob:
    id: str
    servers: list[str]
    full: bool
    reason: str
    status: str = "queued"  # queued, waiting (for another process's sync), running, ok, failed, cancelled
    phase: str | None = None
    server: str | None = None  # the server being synced now
    progress: dict[str, dict[str, int]] = field(default_factory=dict)  # server -> phase -> items done
    totals: dict[str, dict[str, int]] = field(default_factory=dict)  # server -> phase -> its total, where known
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    requested: int = 1  # requests this job answers (joined while queued)
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in ("ok", "failed", "cancelled")

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "run_id": self.id, "status": self.status, "servers": self.servers, "full": self.full,
            "reason": self.reason, "server": self.server, "phase": self.phase, "progress": self.progress,
            "totals": self.totals,
            "results": self.results, "error": self.error, "requests": self.requested,
            "created_at": iso(self.created_at), "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
        }  # fmt: skip


class SyncRunner:
    """Runs queued sync jobs one after another in one daemon thread."""

    def __init__(self, store: Store, config: Config, *, lock_retry: float = 1.0) -> None:
        self.store = store
        self.config = config
        self.lock_retry = lock_retry
        self._jobs: OrderedDict[str, SyncJob] = OrderedDict()
        self._queue: deque[SyncJob] = deque()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sync-runner", daemon=True)

    def start(self) -> SyncRunner:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running batch, abandon the rest of the job, cancel the queued ones."""
        self._stopping.set()
        with self._lock:
            for job in self._queue:
                job.status, job.finished_at = "cancelled", utcnow()
            self._queue.clear()
            self._lock.notify_all()
        self._thread.join(timeout)

    # -- requests ----------------------------------------------------------------------
    def submit(self, servers: list[str], full: bool = False, reason: str = "api") -> SyncJob:
        """Queue a sync of ``servers`` (joining a queued job that covers it)."""
        with self._lock:
            for queued in self._queue:
                if set(servers) <= set(queued.servers) and (queued.full or not full):
                    queued.requested += 1
                    return queued
            job = SyncJob(id=uuid.uuid4().hex, servers=list(servers), full=full, reason=reason)
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs.values()))
                if not oldest.done:
                    break
                self._jobs.popitem(last=False)
            if self._stopping.is_set():
                job.status, job.finished_at = "cancelled", utcnow()
                return job
            self._queue.append(job)
            self._lock.notify_all()
            return job

    def job(self, run_id: str) -> SyncJob | None:
        with self._lock:
            return self._jobs.get(run_id)

    def jobs(self) -> list[SyncJob]:
        with self._lock:
            return list(self._jobs.values())

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job is queued or running (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._queue or any(j.status in ("running", "waiting") for j in self._jobs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    # -- the thread --------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                while not self._queue and not self._stopping.is_set():
                    self._lock.wait()
                if self._stopping.is_set():
                    return
                job = self._queue.popleft()
                job.status, job.started_at = "running", utcnow()
            try:
                self._run(job)
            except Exception as exc:  # a bug must not end the runner
                log.exception("sync job %s failed", job.id)
                job.error = job.error or f"{type(exc).__name__}: {exc}"
            with self._lock:
                if job.status in ("running", "waiting"):
                    job.status = "failed" if job.error else "ok"
                job.finished_at = utcnow()
                job.phase = None
                self._lock.notify_all()

    def _progress(self, job: SyncJob) -> Any:
        def report(server: str, phase: str, done: int, total: int | None = None) -> None:
            if self._stopping.is_set():
                raise Stopping("the service is stopping")
            job.server, job.phase = server, phase
            job.progress.setdefault(server, {})[phase] = done
            if total is not None:
                job.totals.setdefault(server, {})[phase] = total

        return report

    def _run(self, job: SyncJob) -> None:
        options = SyncOptions.from_config(self.config, full=job.full)
        for name in job.servers:
            job.server = name
            while True:
                try:
                    job.status = "running"
                    result = sync_servers(self.store, [name], self.config, options, self._progress(job))[0]
                    if isinstance(result.exception, Stopping):
                        job.status, job.error = "cancelled", "the service stopped during the sync"
                        return
                    if result.error is not None:  # recorded on the run; the next server still runs
                        job.results.append({"server": name, "mode": result.mode, "error": result.error,
                                            "counts": result.counts.as_dict()})  # fmt: skip
                        job.error = f"{name}: {result.error}"
                        break
                    job.results.append({"server": name, "mode": result.mode, "counts": result.counts.as_dict()})
                    break
                except SyncLocked:
                    job.status = "waiting"  # another process syncs this database: queue behind it
                    if self._stopping.wait(self.lock_retry):
                        job.status, job.error = "cancelled", "the service stopped"
                        return
                except Stopping:
                    job.status, job.error = "cancelled", "the service stopped during the sync"
                    return
                except IdmapError as exc:
                    job.results.append({"server": name, "error": str(exc)})
                    job.error = f"{name}: {exc}"
                    break
            if self._stopping.is_set():
                job.status, job.error = "cancelled", "the service stopped"
                return

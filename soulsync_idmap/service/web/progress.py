"""The live progress of sync jobs, as the dashboard shows it: items of the total, rate, ETA.

The runner reports items done per (server, phase). The total of a phase is what the
server held when the job started: its live links of that kind (a first sync has none,
so it shows a count and a rate without an ETA). The rate is measured between the first
and the latest sample this watcher took of the phase.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ...mapping.store import Store
from ..runner import SyncJob
from .views import server_counts

__all__ = ["ProgressWatch"]

PHASE_KIND = {"artists": "artist", "albums": "album", "tracks": "track",
              "artist ids": "artist", "album ids": "album", "track ids": "track"}  # fmt: skip


@dataclass
class _Phase:
    first: tuple[float, int]
    last: tuple[float, int]


@dataclass
class ProgressWatch:
    """Samples the runner's jobs for one listener (an open event stream)."""

    store: Store
    totals: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # (job, server) -> kind -> count
    phases: dict[tuple[str, str, str], _Phase] = field(default_factory=dict)

    def _totals(self, job: SyncJob, server: str) -> dict[str, int]:
        key = (job.id, server)
        if key not in self.totals:
            found = {s.name: s.id for s in self.store.servers()}.get(server)
            if found is None:
                self.totals[key] = {}
            else:
                with self.store.engine.connect() as conn:
                    self.totals[key] = server_counts(conn, found)
        return self.totals[key]

    def job(self, job: SyncJob, now: float | None = None) -> dict[str, Any]:
        """The job as the page shows it: its state plus, for the phase running now, done/total/rate/ETA."""
        now = time.monotonic() if now is None else now
        data: dict[str, Any] = {
            "id": job.id, "status": job.status, "servers": job.servers, "full": job.full, "reason": job.reason,
            "server": job.server, "phase": job.phase, "error": job.error, "results": job.results,
            "done": None, "total": None, "rate": None, "eta": None,
        }  # fmt: skip
        if job.server is None:
            return data
        phases = job.progress.get(job.server, {})
        phase = job.phase or (next(reversed(phases)) if phases else None)
        if phase is None or phase not in phases:
            return data
        done = phases[phase]
        kind = PHASE_KIND.get(phase)
        total = self._totals(job, job.server).get(kind) if kind else None
        sample = self.phases.get((job.id, job.server, phase))
        if sample is None:
            sample = self.phases[(job.id, job.server, phase)] = _Phase((now, done), (now, done))
        elif done != sample.last[1]:
            sample.last = (now, done)
        seconds = sample.last[0] - sample.first[0]
        rate = (sample.last[1] - sample.first[1]) / seconds if seconds > 0 else None
        data.update(phase=phase, done=done, total=total or None, rate=rate)
        if rate and total and total > done and not job.done:
            data["eta"] = (total - done) / rate
        return data

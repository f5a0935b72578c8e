"""Sync-run records written from outside a run: a run stopped by Ctrl-C is ``interrupted``."""

from __future__ import annotations

from sqlalchemy import func, select, update

from .store import Store, table, utcnow

__all__ = ["INTERRUPTED", "mark_interrupted"]

INTERRUPTED = "interrupted"


def mark_interrupted(store: Store, server: str) -> int | None:
    """Record the newest unfinished or failed run of ``server`` as interrupted; returns its id.

    The engine records a run it cannot finish as failed and re-raises; a person pressing
    Ctrl-C is not a failure of the server, so the command line corrects the record.
    """
    runs = table("sync_run")
    target = store.server(server)
    with store.begin() as conn:
        run_id = conn.execute(
            select(runs.c.id).where(runs.c.server_id == target.id).order_by(runs.c.id.desc()).limit(1)
        ).scalar()
        if run_id is None:
            return None
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id, runs.c.status.in_(("running", "failed")))
            .values(
                status=INTERRUPTED,
                finished_at=func.coalesce(runs.c.finished_at, utcnow()),
                error="interrupted (Ctrl-C)",
            )
        )
    return int(run_id)

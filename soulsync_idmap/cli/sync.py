"""``idmap sync``: progress on a terminal, phases with ``-v``, a summary table at the end."""

from __future__ import annotations

import logging
import time

import click
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from ..errors import AuthError, ConfigError, IdmapError, ServerError
from ..mapping.runs import mark_interrupted
from ..sync import SyncOptions, SyncResult, sync_servers
from ..sync.engine import Progress as ProgressFn
from . import fmt
from .context import AppContext, complete_server, credentials_hint, emit_json, is_terminal, pass_app

__all__ = ["sync"]

log = logging.getLogger("soulsync_idmap.cli.sync")
COLUMNS = ("seen", "new", "merged", "queued", "updated", "unchanged", "gone", "revived")


class PhaseLog:
    """Logs each phase once when it starts and once when the next one begins (``-v``)."""

    def __init__(self) -> None:
        self.current: tuple[str, str] | None = None
        self.done = 0
        self.started = time.perf_counter()

    def __call__(self, server: str, phase: str, done: int) -> None:
        if (server, phase) != self.current:
            self.finish()
            self.current, self.started = (server, phase), time.perf_counter()
            log.info("%s: %s", server, phase)
        self.done = done

    def finish(self) -> None:
        if self.current is not None:
            server, phase = self.current
            log.info(
                "%s: %s done: %s in %.1f s", server, phase, fmt.number(self.done), time.perf_counter() - self.started
            )
            self.current = None


@click.command()
@click.argument("names", nargs=-1, shell_complete=complete_server)
@click.option("--full", is_flag=True, help="Read everything, not only what changed.")
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    help="Seconds to wait for another running sync of this database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as a JSON array, one object per server.")
@pass_app
def sync(app: AppContext, names: tuple[str, ...], full: bool, wait: float, as_json: bool) -> None:
    """Sync the named servers (default: all), linking every item to a UUID."""
    store = app.store
    wanted = list(names) or [s.name for s in store.servers()]
    if not wanted:
        raise click.ClickException("no servers to sync; add one with 'idmap servers add'")
    for name in wanted:
        store.server(name)  # unknown names fail before anything runs
    options = SyncOptions.from_config(app.config, full=full, lock_wait=wait)
    results: list[SyncResult] = []
    phases = PhaseLog()
    error: IdmapError | None = None
    if is_terminal() and not as_json:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,}"),
                      TimeElapsedColumn(), transient=True) as bar:  # fmt: skip
            tasks: dict[tuple[str, str], TaskID] = {}

            def progress(server: str, phase: str, done: int) -> None:
                phases(server, phase, done)
                key = (server, phase)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{server}: {phase}", total=None)
                bar.update(tasks[key], completed=done)

            error = _run(app, wanted, options, progress, phases, results)
    else:
        error = _run(app, wanted, options, phases, phases, results)
    if as_json:
        emit_json([{"server": r.server, "mode": r.mode, "ok": r.ok, "error": r.error, "run_id": r.run_id,
                    "started_at": fmt.iso(r.started_at), "finished_at": fmt.iso(r.finished_at),
                    **r.counts.as_dict()} for r in results])  # fmt: skip
    else:
        _summary(results)
    if error is not None:
        raise error


def _hint(exc: IdmapError, name: str, kind: str) -> IdmapError:
    """A server error names the way to fix it: ``servers set`` / ``servers test``."""
    if isinstance(exc, AuthError) or (isinstance(exc, ConfigError) and "token" in str(exc)):
        return type(exc)(f"{exc} (fix it with {credentials_hint(name, kind)})")
    if isinstance(exc, ServerError):
        return type(exc)(f"{exc} ('idmap servers test {name}' checks it, 'idmap servers set {name}' fixes it)")
    return exc


def _run(app: AppContext, names: list[str], options: SyncOptions, progress: ProgressFn, phases: PhaseLog,
         results: list[SyncResult]) -> IdmapError | None:  # fmt: skip
    for name in names:
        log.info("%s: sync starts", name)
        try:
            results.extend(sync_servers(app.store, [name], app.config, options, progress))
        except IdmapError as exc:
            phases.finish()
            log.info("%s: sync failed: %s", name, exc)
            return _hint(exc, name, app.store.server(name).kind)
        except KeyboardInterrupt:
            mark_interrupted(app.store, name)
            raise
        phases.finish()
        result = results[-1]
        counts = ", ".join(f"{k} {fmt.number(v)}" for k, v in result.counts.as_dict().items() if v)
        log.info("%s: %s sync finished: %s", name, result.mode, counts or "nothing changed")
    return None


def _summary(results: list[SyncResult]) -> None:
    if not results:
        return
    # "seen" always, then only the counts some server has: a table that fits 80 columns
    shown = ["seen", *(c for c in COLUMNS[1:] if any(getattr(r.counts, c) for r in results))]
    table = fmt.table("server", "mode", *shown, "seconds", numeric=(*shown, "seconds"))
    for r in results:
        seconds = (r.finished_at - r.started_at).total_seconds() if r.finished_at else 0.0
        table.add_row(r.server, r.mode, *(fmt.number(getattr(r.counts, c)) for c in shown), f"{seconds:.1f}")
    fmt.console().print(table)

"""``idmap sync``: progress on a terminal, phases with ``-v``, a summary table at the end."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ..errors import AuthError, ConfigError, IdmapError, ServerError, SyncFailed
from ..sync import SyncOptions, SyncResult, sync_servers
from . import fmt
from .context import AppContext, complete_server, credentials_hint, emit_json, is_terminal, pass_app

__all__ = ["sync"]

log = logging.getLogger("soulsync_idmap.cli.sync")
COLUMNS = ("seen", "new", "merged", "relinked", "queued", "updated", "unchanged", "gone", "revived", "skipped")


class PhaseLog:
    """Logs each phase once when it starts and once when the next one begins (``-v``)."""

    def __init__(self) -> None:
        self.current: tuple[str, str] | None = None
        self.done = 0
        self.started = time.perf_counter()

    def __call__(self, server: str, phase: str, done: int, total: int | None = None) -> None:
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
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the items that could not be stored, and why, to this file (JSON Lines).",
)
@pass_app
def sync(app: AppContext, names: tuple[str, ...], full: bool, wait: float, as_json: bool, report: Path | None) -> None:
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
    if is_terminal() and not as_json:
        with _ProgressView(phases) as view:
            results = sync_servers(store, wanted, app.config, options, view)
    else:
        results = sync_servers(store, wanted, app.config, options, phases)
    phases.finish()
    for r in results:
        counts = ", ".join(f"{k} {fmt.number(v)}" for k, v in r.counts.as_dict().items() if v)
        state = "finished" if r.ok else r.status
        log.info("%s: %s sync %s: %s", r.server, r.mode, state, r.error or counts or "nothing changed")
    if report is not None:
        _write_report(report, results)
    if as_json:
        emit_json([{"server": r.server, "mode": r.mode, "status": r.status, "ok": r.ok, "error": r.error,
                    "run_id": r.run_id, "started_at": fmt.iso(r.started_at), "finished_at": fmt.iso(r.finished_at),
                    **r.counts.as_dict()} for r in results])  # fmt: skip
    elif len(results) > 1 or all(r.ok for r in results):  # one failing server: its error says it all
        _summary(results)
    failed = [r for r in results if not r.ok]
    if len(failed) == 1 and len(results) == 1:
        exc = failed[0].exception
        raise (
            _hint(exc, failed[0].server, store.server(failed[0].server).kind)
            if isinstance(exc, IdmapError)
            else SyncFailed(str(failed[0].error))
        )
    if failed:
        raise SyncFailed(f"{len(failed)} of {len(results)} servers failed: {', '.join(r.server for r in failed)}")


class _Rate(ProgressColumn):
    """Items a second, once there are some."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


class _ProgressView:
    """Each phase of each server as a line: done of total, percent, rate and time left where the
    total is known; a finished phase stops (it is complete when the next one starts)."""

    def __init__(self, phases: PhaseLog) -> None:
        self.phases = phases
        self.bar = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _Rate(),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            transient=True,
        )
        self.tasks: dict[tuple[str, str], TaskID] = {}
        self.current: TaskID | None = None

    def __enter__(self) -> _ProgressView:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def __call__(self, server: str, phase: str, done: int, total: int | None = None) -> None:
        self.phases(server, phase, done, total)
        key = (server, phase)
        if key not in self.tasks:
            if self.current is not None:  # the phase before is over
                task = self.bar.tasks[self.current]
                self.bar.update(self.current, total=task.completed, completed=task.completed)
            self.tasks[key] = self.bar.add_task(f"{server}: {phase}", total=total)
        self.current = self.tasks[key]
        self.bar.update(self.current, completed=done, total=total)


def _write_report(path: Path, results: list[SyncResult]) -> None:
    """One JSON object a line per skipped item: server, kind, native id, name, reason."""
    try:
        with open(path, "w", encoding="utf-8") as out:
            for r in results:
                for s in r.skipped:
                    row = {"server": r.server, "kind": s.kind, "native_id": s.native_id, "name": s.name,
                           "reason": s.reason}  # fmt: skip
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise click.ClickException(f"cannot write the report {path}: {exc.strerror}") from None


def _hint(exc: IdmapError, name: str, kind: str) -> IdmapError:
    """A server error names the way to fix it: ``servers set`` / ``servers test``."""
    if isinstance(exc, AuthError) or (isinstance(exc, ConfigError) and "token" in str(exc)):
        return type(exc)(f"{exc} (fix it with {credentials_hint(name, kind)})")
    if isinstance(exc, ServerError):
        return type(exc)(f"{exc} ('idmap servers test {name}' checks it, 'idmap servers set {name}' fixes it)")
    return exc


def _summary(results: list[SyncResult]) -> None:
    if not results:
        return
    # "seen" always, then only the counts some server has: a table that fits 80 columns
    shown = ["seen", *(c for c in COLUMNS[1:] if any(getattr(r.counts, c) for r in results))]
    table = fmt.table("server", "mode", "status", *shown, "seconds", numeric=(*shown, "seconds"))
    for r in results:
        seconds = (r.finished_at - r.started_at).total_seconds() if r.finished_at else 0.0
        counts = (fmt.number(getattr(r.counts, c)) for c in shown)
        table.add_row(r.server, r.mode, r.status, *counts, f"{seconds:.1f}")
    console = fmt.console()
    console.print(table)
    for r in results:
        if r.error is not None and len(results) > 1:
            console.print(f"{r.server}: {r.status}: {r.error}", markup=False, highlight=False, soft_wrap=True)

"""``idmap sync``: progress on a terminal, a summary table at the end."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
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
from rich.table import Table
from rich.text import Text

from ..errors import SyncFailed
from ..sync import SyncOptions, SyncResult, sync_servers
from .context import AppContext, emit_json, is_terminal, pass_app

__all__ = ["sync"]

COLUMNS = ("seen", "new", "merged", "queued", "updated", "unchanged", "gone", "revived", "skipped")


@click.command()
@click.argument("names", nargs=-1)
@click.option("--full", is_flag=True, help="Read everything, not only what changed.")
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    help="Seconds to wait for another running sync of this database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON: one object per server.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the items that could not be stored, and why, to this file (JSON Lines).",
)
@pass_app
def sync(app: AppContext, names: tuple[str, ...], full: bool, wait: float, as_json: bool, report: Path | None) -> None:
    """Sync the named servers (default: all), linking every item to a UUID."""
    wanted = list(names) or [s.name for s in app.store.servers()]
    if not wanted:
        raise click.ClickException("no servers to sync; add one with 'idmap servers add'")
    for name in wanted:
        app.store.server(name)  # unknown names fail before anything runs
    options = SyncOptions.from_config(app.config, full=full, lock_wait=wait)
    results: list[SyncResult] = []
    if is_terminal() and not as_json:
        with _ProgressView() as view:
            results = sync_servers(app.store, wanted, app.config, options, view)
    else:
        results = sync_servers(app.store, wanted, app.config, options, None)
    if report is not None:
        _write_report(report, results)
    if as_json:
        emit_json([{"server": r.server, "mode": r.mode, "status": r.status, "ok": r.ok, "error": r.error,
                    **r.counts.as_dict()} for r in results])  # fmt: skip
    elif len(results) > 1 or all(r.ok for r in results):  # one failing server: its error says it all
        _summary(results)
    failed = [r for r in results if not r.ok]
    if len(failed) == 1 and len(results) == 1:
        raise SyncFailed(str(failed[0].error))
    if failed:
        raise SyncFailed(f"{len(failed)} of {len(results)} servers failed: {', '.join(r.server for r in failed)}")


class _Rate(ProgressColumn):
    """Items a second, once there are some."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


class _ProgressView:
    """Each phase of each server as a line: done of total, percent, rate and time left where the
    total is known; a finished phase stops (it is complete when the next one starts)."""

    def __init__(self) -> None:
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


def _summary(results: list[SyncResult]) -> None:
    if not results:
        return
    table = Table("server", "mode", "status", *COLUMNS, "seconds", box=None)
    for r in results:
        seconds = (r.finished_at - r.started_at).total_seconds() if r.finished_at else 0.0
        counts = (f"{getattr(r.counts, c):,}" for c in COLUMNS)
        table.add_row(r.server, r.mode, r.status, *counts, f"{seconds:.1f}")
    console = Console(soft_wrap=True, width=120)
    console.print(table)
    for r in results:
        if r.error is not None and len(results) > 1:
            console.print(f"{r.server}: {r.status}: {r.error}", markup=False, highlight=False)

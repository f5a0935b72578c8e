"""``idmap sync``: progress on a terminal, a summary table at the end."""

from __future__ import annotations

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import IdmapError
from ..sync import SyncOptions, SyncResult, sync_servers
from ..sync.engine import Progress as ProgressFn
from .context import AppContext, emit_json, is_terminal, pass_app

__all__ = ["sync"]

COLUMNS = ("seen", "new", "merged", "queued", "updated", "unchanged", "gone", "revived")


@click.command()
@click.argument("names", nargs=-1)
@click.option("--full", is_flag=True, help="Read everything, not only what changed.")
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=0.0,
    help="Seconds to wait for another running sync of this database.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def sync(app: AppContext, names: tuple[str, ...], full: bool, wait: float, as_json: bool) -> None:
    """Sync the named servers (default: all), linking every item to a UUID."""
    wanted = list(names) or [s.name for s in app.store.servers()]
    if not wanted:
        raise click.ClickException("no servers to sync; add one with 'idmap servers add'")
    for name in wanted:
        app.store.server(name)  # unknown names fail before anything runs
    options = SyncOptions.from_config(app.config, full=full, lock_wait=wait)
    results: list[SyncResult] = []
    error: IdmapError | None = None
    if is_terminal() and not as_json:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,}"),
                      TimeElapsedColumn(), transient=True) as bar:  # fmt: skip
            tasks: dict[tuple[str, str], TaskID] = {}

            def progress(server: str, phase: str, done: int) -> None:
                key = (server, phase)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{server}: {phase}", total=None)
                bar.update(tasks[key], completed=done)

            error = _run(app, wanted, options, progress, results)
    else:
        error = _run(app, wanted, options, None, results)
    if as_json:
        emit_json([{"server": r.server, "mode": r.mode, "ok": r.ok, "error": r.error, **r.counts.as_dict()}
                   for r in results])  # fmt: skip
    else:
        _summary(results)
    if error is not None:
        raise error


def _run(app: AppContext, names: list[str], options: SyncOptions, progress: ProgressFn | None,
         results: list[SyncResult]) -> IdmapError | None:  # fmt: skip
    for name in names:
        try:
            results.extend(sync_servers(app.store, [name], app.config, options, progress))
        except IdmapError as exc:
            return exc
    return None


def _summary(results: list[SyncResult]) -> None:
    if not results:
        return
    table = Table("server", "mode", *COLUMNS, "seconds", box=None)
    for r in results:
        seconds = (r.finished_at - r.started_at).total_seconds() if r.finished_at else 0.0
        table.add_row(r.server, r.mode, *(f"{getattr(r.counts, c):,}" for c in COLUMNS), f"{seconds:.1f}")
    Console(soft_wrap=True, width=120).print(table)

"""``idmap export`` and ``idmap stats``."""

from __future__ import annotations

import json
from datetime import datetime

import click

from ..mapping.export import KINDS, iter_export
from ..mapping.export import stats as collect_stats
from . import fmt
from .context import AppContext, emit_json, pass_app

__all__ = ["export", "stats"]


@click.command()
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the output is always JSON Lines.")
@pass_app
def export(app: AppContext, kind: str | None, as_json: bool) -> None:
    """Write every entity as JSON Lines: uuid, kind, name, fields, links."""
    for item in iter_export(app.store, kind):
        click.echo(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts and runs as one JSON object.")
@pass_app
def stats(app: AppContext, as_json: bool) -> None:
    """The database, counts per kind and server, the review queue, the last sync runs."""
    data = collect_stats(app.store)
    if as_json:
        emit_json({"database": app.database, **data})
        return
    console = fmt.console()
    entities = data["entities"]
    console.print(f"database: {app.database}", soft_wrap=True)
    console.print(
        f"entities: {fmt.number(entities['artist'])} artists, {fmt.number(entities['album'])} albums, "
        f"{fmt.number(entities['track'])} tracks · redirects: {fmt.number(data['redirects'])} · "
        f"review queue: {fmt.number(data['review']['pending'])} pending"
    )
    table = fmt.table("server", "artists", "albums", "tracks", "gone", numeric=("artists", "albums", "tracks", "gone"))
    for name, counts in data["servers"].items():
        table.add_row(name, *(fmt.number(counts[k]) for k in ("artist", "album", "track", "gone")))
    console.print(table)
    if data["runs"]:
        numbers = ("seen", "new", "merged", "queued", "gone")
        runs = fmt.table("last runs", "mode", "status", "started", *numbers, numeric=numbers)
        for run in data["runs"]:
            started = fmt.when(datetime.fromisoformat(run["started_at"]))
            runs.add_row(run["server"], run["mode"], run["status"], started, *(fmt.number(run[k]) for k in numbers))
        console.print(runs)

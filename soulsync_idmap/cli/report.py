"""``idmap export`` and ``idmap stats``."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from ..mapping.export import KINDS, iter_export
from ..mapping.export import stats as collect_stats
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
@click.option("--json", "as_json", is_flag=True)
@pass_app
def stats(app: AppContext, as_json: bool) -> None:
    """Counts per kind and server, the review queue, the last sync runs."""
    data = collect_stats(app.store)
    if as_json:
        emit_json(data)
        return
    console = Console(soft_wrap=True, width=120)
    entities = data["entities"]
    console.print(
        f"entities: {entities['artist']:,} artists, {entities['album']:,} albums, {entities['track']:,} tracks"
        f"  ·  redirects: {data['redirects']:,}  ·  review queue: {data['review']['pending']:,} pending"
    )
    table = Table("server", "artists", "albums", "tracks", "gone", box=None)
    for name, counts in data["servers"].items():
        table.add_row(name, *(f"{counts[k]:,}" for k in ("artist", "album", "track", "gone")))
    console.print(table)
    if data["runs"]:
        runs = Table("last runs", "mode", "status", "started", "seen", "new", "merged", "queued", "gone", box=None)
        for run in data["runs"]:
            runs.add_row(run["server"], run["mode"], run["status"], run["started_at"][:19], str(run["seen"]),
                         str(run["new"]), str(run["merged"]), str(run["queued"]), str(run["gone"]))  # fmt: skip
        console.print(runs)

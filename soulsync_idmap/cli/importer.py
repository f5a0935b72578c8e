"""``idmap import-soulsync``."""

from __future__ import annotations

import click

from ..importer import import_soulsync
from .context import AppContext, emit_json, pass_app

__all__ = ["register"]


@click.command("import-soulsync")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--server", "server", required=True, help="The registered server whose ids the database holds.")
@click.option("--source", help="Only rows with this server_source (default: from the server's kind).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@pass_app
def import_command(app: AppContext, path: str, server: str, source: str | None, as_json: bool) -> None:
    """Give every row of a SoulSync library database a UUID linked on SERVER."""
    result = import_soulsync(app.store, path, server, source)
    counts = result.counts
    if as_json:
        emit_json({"server": server, "source": result.source, "external_ids": result.external_ids,
                   **counts.as_dict()})  # fmt: skip
        return
    click.echo(
        f"imported {counts.seen:,} rows into {server}: {counts.new:,} new, {counts.merged:,} matched, "
        f"{counts.unchanged:,} already linked, {counts.updated:,} updated, {result.external_ids:,} provider ids"
    )


def register(group: click.Group) -> None:
    group.add_command(import_command)

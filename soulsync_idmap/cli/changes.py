"""``idmap changes``: the change feed (what a host app polls)."""

from __future__ import annotations

import click

from ..mapping.changes import next_cursor
from .context import AppContext, emit_json, pass_app

__all__ = ["changes", "register"]


@click.command()
@click.option("--since", type=click.IntRange(min=0), default=0, show_default=True,
              help="Cursor: show the changes after it.")  # fmt: skip
@click.option("--limit", type=click.IntRange(1, 10_000), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help='One document: {"changes": [...], "next": CURSOR}.')
@pass_app
def changes(app: AppContext, since: int, limit: int, as_json: bool) -> None:
    """List changes to the mapping after a cursor, oldest first (links, merges, splits, undos)."""
    found = app.idmap.changes(since, limit)
    if as_json:
        emit_json({"changes": [c.as_json() for c in found], "next": next_cursor(found, since)})
        return
    for change in found:
        parts = [str(change.cursor), change.at.strftime("%Y-%m-%d %H:%M:%S"), change.type, change.kind, change.uuid]
        if change.old_uuid:
            parts.append(f"(was {change.old_uuid})")
        if change.server:
            native = change.native_id or ""
            if change.old_native_id:
                native = f"{change.old_native_id} -> {native}"
            parts.append(f"{change.server}:{native}")
        click.echo("  ".join(parts))
    click.echo(f"next cursor: {next_cursor(found, since)}", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(changes)

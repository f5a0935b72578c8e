"""``idmap resolve / lookup / translate``.

One rule for all three: an answer prints it (exit 0); no answer is a one-line message on
stderr and exit 1, with or without ``--json`` (stdout then stays empty). The messages tell
an unknown UUID or native id apart from an entity that has no live item on the server asked.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from ..errors import NotFound
from ..mapping.store import Store, normalize_uuid, table
from ..mapping.translate import follow_redirects
from .context import AppContext, complete_server, emit_json, pass_app

__all__ = ["lookup", "resolve", "translate"]


def _known(store: Store, uuid: str) -> bool:
    """Whether UUID (or the survivor it was merged into) is an entity of this database."""
    with store.engine.connect() as conn:
        survivor = follow_redirects(conn, [uuid])[uuid]
        return any(
            conn.execute(select(table(kind).c.uuid).where(table(kind).c.uuid == survivor)).first() is not None
            for kind in ("track", "album", "artist")
        )


@click.command()
@click.argument("uuid")
@click.option("--server", help="Server name (default: the active server).", shell_complete=complete_server)
@click.option("--json", "as_json", is_flag=True, help='Print {"uuid", "server", "native_id"}.')
@pass_app
def resolve(app: AppContext, uuid: str, server: str | None, as_json: bool) -> None:
    """Print the native id of UUID on a server.

    Exit 1 with a message when UUID is unknown or has no live item on that server.
    """
    idmap = app.idmap
    key = normalize_uuid(uuid)
    native = idmap.resolve(key, server)
    target = server or idmap.active_server
    if native is None:
        if not _known(app.store, key):
            raise NotFound(f"unknown UUID {key}")
        raise NotFound(f"{key} has no live item on {target} (removed there, or never seen there)")
    if as_json:
        emit_json({"uuid": key, "server": target, "native_id": native})
        return
    click.echo(native)


@click.command()
@click.argument("server", shell_complete=complete_server)
@click.argument("native_id")
@click.option("--json", "as_json", is_flag=True, help='Print {"server", "native_id", "uuid"}.')
@pass_app
def lookup(app: AppContext, server: str, native_id: str, as_json: bool) -> None:
    """Print the UUID of NATIVE_ID on SERVER. Exit 1 with a message when there is none."""
    uuid = app.idmap.lookup(server, native_id)
    if uuid is None:
        raise NotFound(f"{server} has no item with native id {native_id!r}")
    if as_json:
        emit_json({"server": server, "native_id": native_id, "uuid": uuid})
        return
    click.echo(uuid)


@click.command()
@click.argument("server", shell_complete=complete_server)
@click.argument("native_id")
@click.option("--to", "to", help="Target server (default: the active server).", shell_complete=complete_server)
@click.option("--json", "as_json", is_flag=True, help='Print {"server", "native_id", "uuid", "to", "to_native_id"}.')
@pass_app
def translate(app: AppContext, server: str, native_id: str, to: str | None, as_json: bool) -> None:
    """Print the native id on another server of NATIVE_ID on SERVER. Exit 1 with a message when there is none."""
    idmap = app.idmap
    uuid = idmap.lookup(server, native_id)
    if uuid is None:
        raise NotFound(f"{server} has no item with native id {native_id!r}")
    target = to or idmap.active_server
    native = idmap.resolve(uuid, target)
    if native is None:
        raise NotFound(f"{server} {native_id} ({uuid}) has no live item on {target}")
    if as_json:
        emit_json({"server": server, "native_id": native_id, "uuid": uuid, "to": target, "to_native_id": native})
        return
    click.echo(native)

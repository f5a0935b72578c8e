"""``idmap resolve / lookup / translate``."""

from __future__ import annotations

import click

from ..errors import NotFound
from .context import AppContext, emit_json, pass_app

__all__ = ["lookup", "resolve", "translate"]


@click.command()
@click.argument("uuid")
@click.option("--server", help="Server name (default: the active server).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def resolve(app: AppContext, uuid: str, server: str | None, as_json: bool) -> None:
    """Print the native id of UUID on a server."""
    idmap = app.idmap
    native = idmap.resolve(uuid, server)
    target = server or idmap.active_server
    if as_json:
        emit_json({"uuid": uuid, "server": target, "native_id": native})
        return
    if native is None:
        raise NotFound(f"{uuid} has no live item on {target}")
    click.echo(native)


@click.command()
@click.argument("server")
@click.argument("native_id")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def lookup(app: AppContext, server: str, native_id: str, as_json: bool) -> None:
    """Print the UUID of NATIVE_ID on SERVER."""
    uuid = app.idmap.lookup(server, native_id)
    if as_json:
        emit_json({"server": server, "native_id": native_id, "uuid": uuid})
        return
    if uuid is None:
        raise NotFound(f"{server}: no item with native id {native_id!r}")
    click.echo(uuid)


@click.command()
@click.argument("server")
@click.argument("native_id")
@click.option("--to", "to", help="Target server (default: the active server).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def translate(app: AppContext, server: str, native_id: str, to: str | None, as_json: bool) -> None:
    """Print the native id on another server of NATIVE_ID on SERVER."""
    idmap = app.idmap
    uuid = idmap.require(server, native_id)
    target = to or idmap.active_server
    native = idmap.resolve(uuid, target)
    if as_json:
        emit_json({"server": server, "native_id": native_id, "uuid": uuid, "to": target, "to_native_id": native})
        return
    if native is None:
        raise NotFound(f"{server} {native_id} ({uuid}) has no live item on {target}")
    click.echo(native)

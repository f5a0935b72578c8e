"""``idmap servers add / list / activate / remove``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ..mapping.store import server_settings
from ..servers import SERVER_KINDS
from .context import AppContext, emit_json, pass_app

__all__ = ["servers"]


def _path_map(values: tuple[str, ...]) -> list[list[str]]:
    pairs = []
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source:
            raise click.BadParameter(f"{value!r} is not FROM=TO", param_hint="--path-map")
        pairs.append([source, target])
    return pairs


@click.group()
def servers() -> None:
    """Register and manage media servers."""


@servers.command("add")
@click.argument("kind", type=click.Choice(SERVER_KINDS))
@click.argument("name")
@click.option("--url", required=True, help="Base URL; for KIND snapshot, the path of the JSON Lines file.")
@click.option("--token", help="API token (stored in the 0600 config file, never in the database).")
@click.option("--user", help="User name (Jellyfin/Emby, Subsonic).")
@click.option("--password", help="Password (stored in the 0600 config file).")
@click.option("--library", help="Only this music library/section (default: all music libraries).")
@click.option(
    "--path-map",
    "path_map",
    multiple=True,
    metavar="FROM=TO",
    help="Rewrite path prefix FROM to TO before comparing files across servers (repeatable).",
)
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option("--page-size", type=click.IntRange(1, 100_000), help="Items per request.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds per request.",
)
@pass_app
def add(app: AppContext, kind: str, name: str, url: str, token: str | None, user: str | None,
        password: str | None, library: str | None, path_map: tuple[str, ...], insecure: bool,
        page_size: int | None, timeout: float) -> None:  # fmt: skip
    """Register server NAME of KIND (plex, jellyfin, emby, subsonic, snapshot)."""
    if kind == "snapshot":
        if not Path(url).expanduser().is_file():
            raise ConfigError(f"snapshot file not found: {url}")
        url = str(Path(url).expanduser().resolve())
    elif not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https:// for {kind}, not {url!r}")
    if kind == "subsonic" and not (user and password) and not token:
        raise ConfigError("a subsonic server needs --user and --password")
    settings: dict[str, Any] = {
        "path_map": _path_map(path_map),
        "verify_tls": not insecure,
        "timeout": timeout,
    }
    if library:
        settings["library"] = library
    if user:
        settings["user"] = user
    if page_size:
        settings["page_size"] = page_size
    server = app.store.add_server(name, kind, url.rstrip("/") if kind != "snapshot" else url, settings)
    if token or password:
        app.config.set_secrets(name, token=token, password=password)
        app.config.save()
    state = " (active)" if server.active else ""
    click.echo(f"added {kind} server {name}{state}")


@servers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """List registered servers."""
    rows = []
    for server in app.store.servers():
        settings = server_settings(server)
        rows.append({
            "name": server.name, "kind": server.kind, "url": server.url, "active": server.active,
            "instance_id": server.instance_id, "library": settings.get("library"),
            "path_map": settings.get("path_map", []),
            "watermark": server.watermark.isoformat() if server.watermark else None,
            "last_full_sync": server.last_full_sync.isoformat() if server.last_full_sync else None,
        })  # fmt: skip
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no servers yet; add one with 'idmap servers add KIND NAME --url URL'")
        return
    table = Table("", "name", "kind", "url", "last sync", box=None)
    for row in rows:
        table.add_row("*" if row["active"] else "", row["name"], row["kind"], row["url"], row["watermark"] or "never")
    Console(soft_wrap=True).print(table)


@servers.command("activate")
@click.argument("name")
@pass_app
def activate(app: AppContext, name: str) -> None:
    """Make NAME the active server (the default of resolve)."""
    app.store.activate(name)
    click.echo(f"{name} is now the active server")


@servers.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def remove(app: AppContext, name: str, yes: bool) -> None:
    """Remove server NAME: it is no longer synced or resolved to, and its secrets are forgotten.

    UUIDs stay valid. What NAME knew of each item (native ids, names, file paths) is kept,
    marked gone, so that a server added later (Jellyfin after Plex) recognises the same
    items and keeps their UUIDs; the name can be used again at once.
    """
    app.store.server(name)
    if not yes and not click.confirm(f"remove {name}? (its items keep their UUIDs)", default=False):
        raise click.Abort()
    removed = app.store.remove_server(name)
    app.config.forget(name)
    if app.config.path.exists():
        app.config.save()
    click.echo(f"removed {name} ({removed} live links kept as evidence for the next server)")

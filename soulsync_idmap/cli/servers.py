"""``idmap servers add / list / set / test / activate / remove``."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..config import Config, env_secret
from ..errors import AuthError, ConfigError, ServerError
from ..mapping.store import server_settings
from ..servers import ADDRESS_IDENTIFIED, KINDS, SERVER_KINDS, EntityKind, ServerConfig, open_server
from ..servers.retry import DEFAULT_RETRY_SECONDS
from ..sync.adapters import server_config
from . import fmt
from .context import AppContext, complete_server, credentials_hint, emit_json, pass_app

__all__ = ["servers"]


def _path_map(values: tuple[str, ...]) -> list[list[str]]:
    pairs = []
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source:
            raise click.BadParameter(f"{value!r} is not FROM=TO", param_hint="--path-map")
        pairs.append([source, target])
    return pairs


def _url(kind: str, url: str) -> str:
    if kind == "snapshot":
        if not Path(url).expanduser().is_file():
            raise ConfigError(f"snapshot file not found: {url}")
        return str(Path(url).expanduser().resolve())
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https:// for {kind}, not {url!r}")
    return url.rstrip("/")


@dataclass
class Probe:
    """What a connection check found."""

    instance_id: str
    counts: dict[str, int]
    seconds: float


def _count(ids: Iterator[str]) -> int:
    return sum(1 for _ in ids)


def probe(config: ServerConfig, kinds: tuple[EntityKind, ...] = KINDS) -> Probe:
    """Connect, authenticate and count the music library's ``kinds``; server errors propagate."""
    started = time.perf_counter()
    adapter = open_server(config)
    try:
        instance = adapter.instance_id()
        counts: dict[str, int] = {str(kind): _count(adapter.all_ids(kind)) for kind in kinds}
    finally:
        adapter.close()
    return Probe(instance, counts, time.perf_counter() - started)


def _counted(found: Probe) -> str:
    return ", ".join(f"{fmt.number(n)} {kind}s" for kind, n in found.counts.items())


@click.group()
def servers() -> None:
    """Register, check, fix and switch media servers."""


def _connection_options(required_url: bool) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        for option in reversed((
            click.option("--url", required=required_url,
                         help="Base URL; for KIND snapshot, the path of the JSON Lines file."),
            click.option("--token", help="API token (stored in the 0600 config file, never in the database)."),
            click.option("--user", help="User name (Jellyfin/Emby, Subsonic)."),
            click.option("--password", help="Password (stored in the 0600 config file)."),
            click.option("--library", help="Only this music library/section (default: all music libraries)."),
            click.option("--path-map", "path_map", multiple=True, metavar="FROM=TO",
                         help="Rewrite path prefix FROM to TO before comparing files across servers (repeatable)."),
            click.option("--insecure/--verify-tls", default=None, help="Do not / do verify TLS certificates."),
            click.option("--page-size", type=click.IntRange(1, 100_000), help="Items per request."),
            click.option("--timeout", type=click.FloatRange(0.1, 3600), help="Seconds per request (default 30)."),
            click.option("--retry-seconds", type=click.FloatRange(0, 86_400),
                         help="How long a failing request is retried (default 60)."),
        )):  # fmt: skip
            command = option(command)
        return command

    return decorate


@servers.command("add")
@click.argument("kind", type=click.Choice(SERVER_KINDS))
@click.argument("name")
@_connection_options(required_url=True)
@click.option("--no-check", is_flag=True, help="Add without connecting first.")
@pass_app
def add(app: AppContext, kind: str, name: str, url: str, token: str | None, user: str | None,
        password: str | None, library: str | None, path_map: tuple[str, ...], insecure: bool | None,
        page_size: int | None, timeout: float | None, retry_seconds: float | None,
        no_check: bool) -> None:  # fmt: skip
    """Register server NAME of KIND (plex, jellyfin, emby, subsonic, snapshot), checking that it answers."""
    url = _url(kind, url)
    if kind == "subsonic" and not (user and password) and not token:
        raise ConfigError("a subsonic server needs --user and --password")
    settings: dict[str, Any] = {"path_map": _path_map(path_map), "verify_tls": not insecure,
                                "timeout": timeout or 30.0}  # fmt: skip
    if library:
        settings["library"] = library
    if user:
        settings["user"] = user
    if page_size:
        settings["page_size"] = page_size
    if retry_seconds is not None:
        settings["retry_seconds"] = retry_seconds
    secrets = {k: v for k, v in (("token", token), ("password", password)) if v}
    checked = ""
    if not no_check:
        candidate = ServerConfig(name=name, kind=kind, url=url, token=token or env_secret(name, "token"), user=user,
                                 password=password or env_secret(name, "password"),
                                 library=library, path_map=tuple((a, b) for a, b in settings["path_map"]),
                                 verify_tls=not insecure, page_size=page_size, timeout=timeout or 30.0,
                                 retry_seconds=settings.get("retry_seconds", DEFAULT_RETRY_SECONDS))  # fmt: skip
        try:
            found = probe(candidate, kinds=("artist",))
        except (ServerError, ConfigError) as exc:
            raise ConfigError(f"{exc}; {name} not added (fix the options, or add it anyway with --no-check)") from None
        checked = f"; it answers ({_counted(found)})"
    store = app.writable_store()
    server = store.add_server(name, kind, url, settings)
    if secrets:
        app.config.set_secrets(name, **secrets)
        app.config.save()
    state = (" (active, connection not checked)" if no_check else " (active)") if server.active else ""
    click.echo(f"added {kind} server {name}{state}{checked}")
    if not server.active:
        click.echo(f"the active server stays; 'idmap servers activate {name}' switches to it")


@servers.command("set")
@click.argument("name", shell_complete=complete_server)
@_connection_options(required_url=False)
@click.option("--all-libraries", is_flag=True, help="Forget --library: read every music library.")
@pass_app
def set_(app: AppContext, name: str, url: str | None, token: str | None, user: str | None,
         password: str | None, library: str | None, path_map: tuple[str, ...], insecure: bool | None,
         page_size: int | None, timeout: float | None, retry_seconds: float | None,
         all_libraries: bool) -> None:  # fmt: skip
    """Change settings or secrets of server NAME; what is not given stays. Links and UUIDs stay."""
    server = app.store.server(name)
    assert server.id is not None
    settings = server_settings(server)
    changed: list[str] = []
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = _url(server.kind, url)
        changed.append("url")
    for key, value in (
        ("user", user),
        ("library", library),
        ("page_size", page_size),
        ("timeout", timeout),
        ("retry_seconds", retry_seconds),
    ):
        if value is not None:
            settings[key] = value
            changed.append(key.replace("_", "-"))
    if all_libraries:
        settings.pop("library", None)
        changed.append("library")
    if path_map:
        settings["path_map"] = _path_map(path_map)
        changed.append("path-map")
    if insecure is not None:
        settings["verify_tls"] = not insecure
        changed.append("tls")
    if token or password:
        _merge_secrets(app.config, name, token=token, password=password)
        changed.extend(k for k, v in (("token", token), ("password", password)) if v)
    if not changed:
        raise click.UsageError("nothing to change: give at least one option (see 'idmap servers set -h')")
    values["settings"] = json.dumps(settings, sort_keys=True)
    if server.kind in ADDRESS_IDENTIFIED and ({"url", "user"} & set(changed)):
        values["instance_id"] = None  # derived from the address: the next sync records the new one
    app.store.update_server(server.id, **values)
    click.echo(f"{name}: changed {', '.join(changed)}; 'idmap servers test {name}' checks it")


def _merge_secrets(config: Config, name: str, **secrets: str | None) -> None:
    stored = dict(config.data.get("servers", {}).get(name, {}))
    stored.update({k: v for k, v in secrets.items() if v})
    config.set_secrets(name, **stored)
    config.save()


@servers.command("test")
@click.argument("name", shell_complete=complete_server)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@pass_app
def test(app: AppContext, name: str, as_json: bool) -> None:
    """Connect to server NAME, authenticate and count its music library."""
    server = app.store.server(name)
    try:
        found = probe(server_config(server, app.config.secrets(name)))
    except AuthError as exc:
        raise AuthError(f"{exc} (fix it with {credentials_hint(name, server.kind)})") from None
    except (ServerError, ConfigError) as exc:
        raise type(exc)(f"{exc} (fix it with 'idmap servers set {name} ...')") from None
    if as_json:
        emit_json({"server": name, "kind": server.kind, "url": server.url, "ok": True,
                   "instance_id": found.instance_id, "counts": found.counts,
                   "seconds": round(found.seconds, 3)})  # fmt: skip
        return
    click.echo(f"{name}: ok, {server.kind} at {server.url} ({_counted(found)}; {found.seconds:.1f} s)")
    if server.instance_id and server.instance_id != found.instance_id:
        click.echo(f"warning: {name} answers as another server instance than the one synced before", err=True)


@servers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the servers as a JSON array.")
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """List registered servers; * marks the active one."""
    rows = []
    for server in app.store.servers():
        settings = server_settings(server)
        rows.append({
            "name": server.name, "kind": server.kind, "url": server.url, "active": server.active,
            "instance_id": server.instance_id, "library": settings.get("library"),
            "path_map": settings.get("path_map", []),
            "watermark": fmt.iso(server.watermark), "last_full_sync": fmt.iso(server.last_full_sync),
            "_last": server.watermark,
        })  # fmt: skip
    if as_json:
        emit_json([{k: v for k, v in row.items() if k != "_last"} for row in rows])
        return
    if not rows:
        click.echo("no servers yet; add one with 'idmap servers add KIND NAME --url URL'")
        return
    table = fmt.table("", "name", "kind", "last sync", "url", wrap=("url",))
    for row in rows:
        table.add_row("*" if row["active"] else "", row["name"], row["kind"], fmt.when(row["_last"]), row["url"])
    fmt.console().print(table)


@servers.command("activate")
@click.argument("name", shell_complete=complete_server)
@pass_app
def activate(app: AppContext, name: str) -> None:
    """Make NAME the active server (the default of resolve and translate)."""
    app.store.activate(name)
    click.echo(f"{name} is now the active server")


@servers.command("remove")
@click.argument("name", shell_complete=complete_server)
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
    click.echo(f"removed {name} ({fmt.number(removed)} live links kept as evidence for the next server)")

"""From a registered server to its adapter: settings from the database, secrets from the config."""

from __future__ import annotations

from ..config import Config
from ..mapping.models import Server
from ..mapping.store import server_settings
from ..servers import MediaServer, ServerConfig, open_server

__all__ = ["open_adapter", "server_config"]


def server_config(server: Server, secrets: dict[str, str]) -> ServerConfig:
    """The adapter config of a registered server, with its secrets from the config file."""
    settings = server_settings(server)
    path_map = tuple((str(a), str(b)) for a, b in settings.get("path_map", []))
    return ServerConfig(
        name=server.name,
        kind=server.kind,
        url=server.url,
        token=secrets.get("token"),
        user=settings.get("user"),
        password=secrets.get("password"),
        library=settings.get("library"),
        path_map=path_map,
        verify_tls=bool(settings.get("verify_tls", True)),
        page_size=settings.get("page_size"),
        timeout=float(settings.get("timeout", 30.0)),
        retry_seconds=float(settings.get("retry_seconds", 60.0)),
    )


def open_adapter(server: Server, config: Config) -> MediaServer:
    """The adapter of a registered server, its secrets from ``config``."""
    return open_server(server_config(server, config.secrets(server.name)))

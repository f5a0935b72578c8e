"""Media-server adapters behind one ``MediaServer`` protocol."""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .base import (
    KINDS,
    EntityKind,
    MediaServer,
    ServerAlbum,
    ServerArtist,
    ServerConfig,
    ServerItem,
    ServerTrack,
    Skipped,
)

__all__ = [
    "ADDRESS_IDENTIFIED",
    "KINDS",
    "SERVER_KINDS",
    "EntityKind",
    "MediaServer",
    "ServerAlbum",
    "ServerArtist",
    "ServerConfig",
    "ServerItem",
    "ServerTrack",
    "Skipped",
    "open_server",
]

# kind -> (module, class). Imported lazily so that plexapi is loaded only for Plex.
_ADAPTERS: dict[str, tuple[str, str]] = {
    "snapshot": (".snapshot", "SnapshotServer"),
    "jellyfin": (".jellyfin", "JellyfinServer"),
    "emby": (".jellyfin", "JellyfinServer"),
    "plex": (".plex", "PlexServer"),
    "subsonic": (".subsonic", "SubsonicServer"),
}
SERVER_KINDS: tuple[str, ...] = tuple(_ADAPTERS)
ADDRESS_IDENTIFIED: frozenset[str] = frozenset({"snapshot", "subsonic"})
"""Kinds whose instance id stands in from the address (a snapshot's path; a Subsonic URL and
user: the API has no server id). A new address is the same server moved, not another one."""


def open_server(config: ServerConfig) -> MediaServer:
    """Build the adapter for ``config.kind``; it connects lazily or in its constructor."""
    try:
        module_name, class_name = _ADAPTERS[config.kind]
    except KeyError:
        raise ConfigError(f"unknown server kind {config.kind!r} (choose from {', '.join(SERVER_KINDS)})") from None
    module = importlib.import_module(module_name, __name__)
    adapter: MediaServer = getattr(module, class_name)(config)
    return adapter

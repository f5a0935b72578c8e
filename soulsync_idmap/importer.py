"""Import an existing SoulSync library database (``music_library.db``).

SoulSync keys its ``artists``, ``albums`` and ``tracks`` rows by the media server's own
id (the Plex ratingKey, the Jellyfin GUID, the Navidrome id), with a ``server_source``
column on newer databases. Importing gives every row a UUID and a link on the named
server, so that a SoulSync user's data carries over before the first real sync: that
sync then finds the same native ids linked and only updates them. Provider ids found on
the rows (Spotify, Deezer, Tidal, Qobuz) are kept as external ids of the UUID.

The file is opened read-only and its schema read from the file: extra columns are
ignored, missing optional columns are read as empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .errors import ConfigError
from .mapping.store import Store, table, utcnow
from .servers.base import ServerAlbum, ServerArtist, ServerItem, ServerTrack
from .sync.batch import Counts
from .sync.engine import SyncOptions, ingest

__all__ = ["ImportResult", "SoulSyncDatabase", "import_soulsync"]

REQUIRED = {
    "artists": {"id", "name"},
    "albums": {"id", "artist_id", "title"},
    "tracks": {"id", "album_id", "artist_id", "title"},
}
# SoulSync's server_source values for each of our server kinds.
SOURCE_OF_KIND = {"plex": "plex", "jellyfin": "jellyfin", "emby": "jellyfin", "subsonic": "navidrome"}
PROVIDERS = {
    "artist": {"spotify_artist_id": "spotify"},
    "album": {"spotify_album_id": "spotify"},
    "track": {"spotify_track_id": "spotify", "deezer_id": "deezer", "tidal_id": "tidal", "qobuz_id": "qobuz"},
}


@dataclass
class ImportResult:
    counts: Counts
    external_ids: int
    source: str | None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class SoulSyncDatabase:
    """Reads a SoulSync SQLite library read-only, validating its shape first."""

    def __init__(self, path: str | Path, source: str | None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"SoulSync database not found: {self.path}")
        try:
            # Read by the sync engine's reader thread; one thread at a time uses it.
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path} is not a SQLite database ({exc})") from None
        self.columns: dict[str, set[str]] = {}
        for name, needed in REQUIRED.items():
            if name not in tables:
                raise ConfigError(f"{self.path} is not a SoulSync library database (no table '{name}')")
            cols = {r[1] for r in self.conn.execute(f"PRAGMA table_info({name})")}
            missing = needed - cols
            if missing:
                raise ConfigError(f"{self.path}: table '{name}' lacks column(s) {', '.join(sorted(missing))}")
            self.columns[name] = cols
        self.source = source

    def close(self) -> None:
        self.conn.close()

    def _rows(self, name: str) -> Iterator[sqlite3.Row]:
        query = f"SELECT * FROM {name}"
        params: tuple[str, ...] = ()
        if self.source is not None and "server_source" in self.columns[name]:
            query += " WHERE COALESCE(server_source, 'plex') = ?"
            params = (self.source,)
        cursor = self.conn.execute(query + " ORDER BY rowid", params)
        while rows := cursor.fetchmany(2000):
            yield from rows

    @staticmethod
    def _get(row: sqlite3.Row, column: str) -> Any:
        return row[column] if column in row.keys() else None  # noqa: SIM118 - Row has no __contains__

    def items(self) -> Iterator[ServerItem]:
        g = self._get
        names: dict[str, str] = {}
        for row in self._rows("artists"):
            names[str(row["id"])] = row["name"]
            yield ServerArtist(native_id=str(row["id"]), name=str(row["name"]), mbid=_text(g(row, "musicbrainz_id")))
        titles: dict[str, str] = {}
        for row in self._rows("albums"):
            titles[str(row["id"])] = row["title"]
            artist_id = _text(row["artist_id"])
            yield ServerAlbum(
                native_id=str(row["id"]), title=str(row["title"]), artist_id=artist_id,
                artist_name=names.get(artist_id or ""), year=_int(g(row, "year")),
                mbid=_text(g(row, "musicbrainz_release_id")),
            )  # fmt: skip
        for row in self._rows("tracks"):
            artist_id, album_id = _text(row["artist_id"]), _text(row["album_id"])
            yield ServerTrack(
                native_id=str(row["id"]), title=str(row["title"]), album_id=album_id, artist_id=artist_id,
                artist_name=_text(g(row, "track_artist")) or names.get(artist_id or ""),
                album_title=titles.get(album_id or ""), track_number=_int(g(row, "track_number")),
                disc_number=_int(g(row, "disc_number")), duration_ms=_int(g(row, "duration")),
                year=_int(g(row, "year")), mbid=_text(g(row, "musicbrainz_recording_id")),
                isrc=_text(g(row, "isrc")), path=_text(g(row, "file_path")),
            )  # fmt: skip

    def provider_ids(self) -> Iterator[tuple[str, str, str, str]]:
        """(kind, native id, provider, value) for every provider id on the rows."""
        for kind, name in (("artist", "artists"), ("album", "albums"), ("track", "tracks")):
            wanted = {c: p for c, p in PROVIDERS[kind].items() if c in self.columns[name]}
            if not wanted:
                continue
            for row in self._rows(name):
                for column, provider in wanted.items():
                    value = _text(row[column])
                    if value:
                        yield kind, str(row["id"]), provider, value


def import_soulsync(store: Store, path: str | Path, server_name: str, source: str | None = None) -> ImportResult:
    """Import ``path`` as the items of server ``server_name``; re-import changes nothing."""
    server = store.server(server_name)
    if source is None:
        source = SOURCE_OF_KIND.get(server.kind)
    database = SoulSyncDatabase(path, source)
    try:
        counts = ingest(store, server_name, database.items(), SyncOptions())
        added = _store_provider_ids(store, server_name, database)
    finally:
        database.close()
    return ImportResult(counts=counts, external_ids=added, source=source)


def _store_provider_ids(store: Store, server_name: str, database: SoulSyncDatabase) -> int:
    server = store.server(server_name)
    link = table("link")
    external = table("external_id")
    added = 0
    batch: list[tuple[str, str, str, str]] = []

    def flush() -> None:
        nonlocal added
        with store.begin() as conn:
            for kind in ("artist", "album", "track"):
                natives = [n for k, n, _, _ in batch if k == kind]
                if not natives:
                    continue
                uuids = dict(
                    conn.execute(
                        select(link.c.native_id, link.c.uuid).where(
                            link.c.server_id == server.id, link.c.kind == kind, link.c.native_id.in_(natives)
                        )
                    ).all()
                )
                have = {
                    (u, p)
                    for u, p in conn.execute(
                        select(external.c.uuid, external.c.provider).where(external.c.uuid.in_(list(uuids.values())))
                    )
                }
                rows = []
                for k, native, provider, value in batch:
                    uuid = uuids.get(native)
                    if k != kind or uuid is None or (uuid, provider) in have:
                        continue
                    have.add((uuid, provider))
                    rows.append({"uuid": uuid, "kind": kind, "provider": provider, "value": value,
                                 "source": "soulsync-import", "created_at": utcnow()})  # fmt: skip
                if rows:
                    conn.execute(external.insert(), rows)
                    added += len(rows)
        batch.clear()

    for entry in database.provider_ids():
        batch.append(entry)
        if len(batch) >= 2000:
            flush()
    if batch:
        flush()
    return added

"""What every media-server adapter returns and promises.

Adapters turn a server's wire format into these plain frozen dataclasses; nothing
outside ``servers/`` imports plexapi or knows a server's JSON or XML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar, runtime_checkable

from ..errors import Unsupported

__all__ = [
    "EntityKind",
    "MediaServer",
    "ServerAlbum",
    "ServerArtist",
    "ServerConfig",
    "ServerItem",
    "ServerTrack",
    "Skipped",
    "clean_text",
    "only",
    "parse_datetime",
    "read_datetime",
    "title_from_path",
]

EntityKind = Literal["artist", "album", "track"]
KINDS: tuple[EntityKind, ...] = ("artist", "album", "track")


@dataclass(frozen=True, slots=True)
class ServerArtist:
    """An artist as one server sees it."""

    native_id: str
    name: str
    sort_name: str | None = None
    mbid: str | None = None
    added_at: datetime | None = None
    updated_at: datetime | None = None
    guid: str | None = None

    kind: EntityKind = field(default="artist", init=False)


@dataclass(frozen=True, slots=True)
class ServerAlbum:
    """An album; ``artist_id`` is the native id of its album artist on the same server."""

    native_id: str
    title: str
    artist_id: str | None = None
    artist_name: str | None = None
    year: int | None = None
    mbid: str | None = None
    added_at: datetime | None = None
    updated_at: datetime | None = None
    guid: str | None = None

    kind: EntityKind = field(default="album", init=False)


@dataclass(frozen=True, slots=True)
class ServerTrack:
    """A track; parent ids are native ids on the same server.

    ``artist_id``/``artist_name`` name the track artist (which may differ from the album
    artist); ``mbid`` is the MusicBrainz *recording* id when the server knows it. ``guid``
    (every kind): the server's own metadata id of the item where it outlives the native
    id (Plex's ``plex://track/...``, the same across re-keys and across Plex servers).
    """

    native_id: str
    title: str
    album_id: str | None = None
    artist_id: str | None = None
    artist_name: str | None = None
    album_title: str | None = None
    track_number: int | None = None
    disc_number: int | None = None
    duration_ms: int | None = None
    year: int | None = None
    mbid: str | None = None
    isrc: str | None = None
    path: str | None = None
    added_at: datetime | None = None
    updated_at: datetime | None = None
    guid: str | None = None

    kind: EntityKind = field(default="track", init=False)


ServerItem = ServerArtist | ServerAlbum | ServerTrack


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item a server listed that cannot be stored as it is, and why.

    Adapters append these to their ``skipped`` list while they stream and go on with the
    next item: one bad tag never stops a sync. The engine reports them, counts them per
    server, and never tombstones the link of a skipped id (the item is still there).
    """

    kind: EntityKind
    native_id: str | None
    reason: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to reach one configured server. Secrets live here only in memory."""

    name: str
    kind: str
    url: str
    token: str | None = None
    user: str | None = None
    password: str | None = None
    library: str | None = None
    path_map: tuple[tuple[str, str], ...] = ()
    verify_tls: bool = True
    page_size: int | None = None
    timeout: float = 30.0
    retry_seconds: float = 60.0
    """How long one request keeps being retried (connection errors, 5xx, 429, cut bodies)."""

    def __repr__(self) -> str:  # never show secrets
        return f"ServerConfig(name={self.name!r}, kind={self.kind!r}, url={self.url!r})"


def parse_datetime(value: str) -> datetime:
    """Parse ISO 8601 (``Z`` allowed, any number of fractional digits); naive means UTC."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def read_datetime(value: object) -> datetime | None:
    """``parse_datetime`` for what a server sent: None for anything unreadable or out of range."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = parse_datetime(value)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.year > 1 else None  # .NET's DateTime.MinValue means unknown


def clean_text(value: str) -> str:
    """``value`` as every backend can store it: NUL characters dropped (PostgreSQL text
    cannot hold them) and lone surrogates (from a JSON ``\\ud800`` escape, which no
    database can encode) replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if value.isascii():  # most names: no surrogate possible, no encoding needed to tell
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # pairs are joined, a lone half becomes one U+FFFD
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def title_from_path(path: str | None) -> str | None:
    """The file name without its extension, as servers show an untitled track."""
    if not path:
        return None
    name = re.split(r"[\\/]", path.rstrip("/\\"))[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = clean_text(stem).strip()
    return stem or None


ItemT = TypeVar("ItemT", ServerArtist, ServerAlbum, ServerTrack)


def only(items: Iterable[ServerItem], cls: type[ItemT]) -> Iterator[ItemT]:
    """The items, typed as ``cls`` (an adapter's ``iter_artists`` and friends)."""
    for item in items:
        if not isinstance(item, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(item).__name__}")
        yield item


@runtime_checkable
class MediaServer(Protocol):
    """The one interface the sync engine talks to: every adapter subclasses it.

    ``iter_*`` stream items page by page (generators; memory stays bounded by the page).
    ``changed_since`` yields every item added or changed at or after ``watermark`` —
    artists first, then albums, then tracks, so parents come before children.
    ``all_ids`` lists the native ids of one kind, as cheaply as the server allows; it is
    what removal detection compares against. It must raise, never return a partial list.
    """

    name: str
    kind: str
    skipped: list[Skipped]
    """Items read so far that could not be stored (see ``Skipped``)."""

    def instance_id(self) -> str:
        """A stable id of the server instance (Plex machineIdentifier, Jellyfin ServerId)."""
        ...

    def iter_artists(self) -> Iterator[ServerArtist]: ...

    def iter_albums(self) -> Iterator[ServerAlbum]: ...

    def iter_tracks(self) -> Iterator[ServerTrack]: ...

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]: ...

    def unchanged_since(self, watermark: datetime) -> bool:
        """True when the adapter can vouch that nothing was added, changed or removed since
        ``watermark`` (by our own clock: a local file's modification time). Servers cannot."""
        return False

    def all_ids(self, kind: EntityKind) -> Iterator[str]: ...

    def change_token(self) -> str | None:
        """A value that changes whenever anything in the library is added, changed or removed
        (Plex's ``contentChangedAt`` of each music section), asked for once a run. An
        incremental sync whose token equals the last completed run's has nothing to do. None:
        the server keeps no such counter."""
        return None

    def total(self, kind: EntityKind) -> int | None:
        """How many items of ``kind`` the full listing holds, where the server says so cheaply
        (for progress only: a total is never trusted for anything else). None: unknown."""
        return None

    def count(self, kind: EntityKind) -> int | None:
        """Exactly how many distinct ids ``all_ids(kind)`` would list, asked cheaply, or None
        where the server cannot say exactly (the default).

        What lets an incremental sync skip the id listing: when the count equals the live
        links plus the new ids the changes bring, and sampled known ids are all still there,
        nothing disappeared. A wrong count would hide a removal, so only an exact one counts.
        """
        return None

    def fetch(self, kind: EntityKind, native_ids: Sequence[str]) -> Iterator[ServerItem]:
        """The items of ``kind`` with these native ids (those that exist; in any order).

        What an incremental sync uses to link items the id listing names but the changes
        did not bring (their dates did not move), and parents a listing leaves out.
        """
        raise Unsupported(f"fetching {kind}s by id", server=self.name)

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        """Upload an artist image; raise ``Unsupported`` where the server cannot."""
        ...

    def close(self) -> None: ...

"""Jellyfin/Emby BaseItemDto (PascalCase JSON, nulls omitted) to the adapter dataclasses.

Conversion never raises for one item: a missing id or name comes out empty and the
adapter's ``Intake`` (servers/intake.py) decides whether to repair or skip it.

Field meanings, from the server source and real captures: ``RunTimeTicks`` are 100 ns;
``ProviderIds.MusicBrainzTrack`` is the *release-track* id and only
``MusicBrainzRecording`` (10.11+) names the recording; older servers slash-joined several
ids; ``IndexNumber``/``ParentIndexNumber`` are 0 when the tag is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..errors import BadResponse
from .base import EntityKind, ServerAlbum, ServerArtist, ServerTrack, read_datetime

__all__ = ["TYPES", "is_type", "items_of", "native_id", "to_album", "to_artist", "to_track", "wire_date"]

TICKS_PER_MS = 10_000
TYPES: dict[str, str] = {"artist": "MusicArtist", "album": "MusicAlbum", "track": "Audio"}
Raw = dict[str, Any]


def items_of(data: Raw, path: str, server: str) -> list[Raw]:
    items = data.get("Items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadResponse(f"GET {path} answered without an Items list of objects", server=server)
    return items


def native_id(raw: Raw) -> str:
    """The item's Id as text; empty when it has none (Emby's are numbers on some routes)."""
    value = raw.get("Id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def is_type(raw: Raw, kind: EntityKind) -> bool:
    """Servers that ignore IncludeItemTypes send folders along; an absent Type is trusted."""
    item_type = raw.get("Type")
    return item_type is None or item_type == TYPES[kind]


def _name(raw: Raw) -> str:
    """The Name; a number stands as its digits, anything else as empty (for the Intake)."""
    value = raw.get("Name")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def _text(raw: Raw, field: str) -> str | None:
    value = raw.get(field)
    return value if isinstance(value, str) and value else None


def _number(raw: Raw, field: str) -> int | None:
    """A positive whole number; Jellyfin writes 0 for a missing track or disc number."""
    value = raw.get(field)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _mbid(raw: Raw, key: str) -> str | None:
    """One MusicBrainz id; older servers slash-joined several ("uuid1/uuid2"): take the first."""
    ids = raw.get("ProviderIds")
    if not isinstance(ids, dict):
        return None
    value = ids.get(key)
    if value is None:  # keys are an enum's names, but be lenient about their case
        value = next((v for k, v in ids.items() if isinstance(k, str) and k.lower() == key.lower()), None)
    if not isinstance(value, str):
        return None
    return next((part.strip().lower() for part in value.split("/") if part.strip()), None)


def _created(raw: Raw) -> datetime | None:
    return read_datetime(raw.get("DateCreated"))  # None for DateTime.MinValue or anything unreadable


def _ref(raw: Raw, field: str) -> tuple[str | None, str | None]:
    """(Id, Name) of the first entry of a [{Name, Id}] list such as ArtistItems."""
    entries = raw.get(field)
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("Id"), str | int) and entry.get("Id") != "":
                name = entry.get("Name")
                return str(entry["Id"]), name if isinstance(name, str) else None
    return None, None


def _first_name(raw: Raw, field: str) -> str | None:
    names = raw.get(field)
    if isinstance(names, list):
        return next((n for n in names if isinstance(n, str) and n), None)
    return None


def _duration_ms(raw: Raw) -> int | None:
    ticks = raw.get("RunTimeTicks")
    if isinstance(ticks, int) and not isinstance(ticks, bool) and ticks > 0:
        return round(ticks / TICKS_PER_MS)
    return None


def _path(raw: Raw) -> str | None:
    path = _text(raw, "Path")
    if path is None:
        sources = raw.get("MediaSources")
        if isinstance(sources, list) and sources and isinstance(sources[0], dict):
            path = _text(sources[0], "Path")
    return path


def wire_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def to_artist(raw: Raw) -> ServerArtist:
    return ServerArtist(
        native_id=native_id(raw),
        name=_name(raw),
        sort_name=_text(raw, "SortName"),
        mbid=_mbid(raw, "MusicBrainzArtist"),
        added_at=_created(raw),
    )


def to_album(raw: Raw) -> ServerAlbum:
    artist_id, artist_name = _ref(raw, "AlbumArtists")
    return ServerAlbum(
        native_id=native_id(raw),
        title=_name(raw),
        artist_id=artist_id,
        artist_name=artist_name or _text(raw, "AlbumArtist"),
        year=_number(raw, "ProductionYear"),
        mbid=_mbid(raw, "MusicBrainzAlbum"),  # the release, not the release group
        added_at=_created(raw),
    )


def to_track(raw: Raw) -> ServerTrack:
    artist_id, artist_name = _ref(raw, "ArtistItems")  # the track artist
    if artist_id is None:  # untagged track artist: the album artist stands in
        artist_id, artist_name = _ref(raw, "AlbumArtists")
    album_id = raw.get("AlbumId")
    return ServerTrack(
        native_id=native_id(raw),
        title=_name(raw),
        album_id=str(album_id) if isinstance(album_id, str | int) and album_id != "" else None,
        artist_id=artist_id,
        artist_name=artist_name or _first_name(raw, "Artists") or _text(raw, "AlbumArtist"),
        album_title=_text(raw, "Album"),
        track_number=_number(raw, "IndexNumber"),
        disc_number=_number(raw, "ParentIndexNumber"),
        duration_ms=_duration_ms(raw),
        year=_number(raw, "ProductionYear"),
        # MusicBrainzTrack is the release-track id; only MusicBrainzRecording (10.11+) names the recording.
        mbid=_mbid(raw, "MusicBrainzRecording"),
        path=_path(raw),
        added_at=_created(raw),
    )

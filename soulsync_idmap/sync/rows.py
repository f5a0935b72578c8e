"""Turning server items into database rows, fingerprints and matching records."""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from typing import Any

from ..matching import (
    AlbumRecord,
    ArtistRecord,
    TrackRecord,
    album_keys,
    artist_keys,
    map_path,
    track_keys,
)
from ..servers.base import ServerAlbum, ServerArtist, ServerItem, ServerTrack

__all__ = [
    "ROW_COLUMNS",
    "entity_fields",
    "fingerprint",
    "item_record",
    "keys_of",
    "path_tail",
    "row_record",
]

_CONTENT = {
    "artist": ("name", "sort_name", "mbid"),
    "album": ("title", "artist_id", "artist_name", "year", "mbid"),
    "track": (
        "title", "album_id", "artist_id", "artist_name", "album_title", "track_number",
        "disc_number", "duration_ms", "year", "mbid", "isrc", "path",
    ),
}  # fmt: skip


_GETTERS = {kind: operator.attrgetter(*names) for kind, names in _CONTENT.items()}


def fingerprint(item: ServerItem) -> str:
    """A short hash of an item's content (timestamps left out: touching is not changing)."""
    values = _GETTERS[item.kind](item)
    return hashlib.blake2b(repr(values).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def path_tail(path: str | None) -> str | None:
    """The last three components of a path, case-folded: the same file on another mount."""
    if not path:
        return None
    unified = path.replace("\\", "/") if "\\" in path else path
    last = unified.rsplit("/", 3)[-3:]
    if len(last) == 3 and all(last):  # the common case: no empty component among the last three
        return "/".join(last).casefold()[-400:]
    parts = [p for p in unified.split("/") if p]
    # Indexed: capped so that an absurd path cannot exceed a B-tree entry.
    return "/".join(parts[-3:]).casefold()[-400:] if parts else None


def mapped_path(item: ServerItem, path_map: tuple[tuple[str, str], ...]) -> str | None:
    if not isinstance(item, ServerTrack) or not item.path:
        return None
    return map_path(item.path, path_map) if path_map else item.path


def item_record(item: ServerItem, path: str | None) -> ArtistRecord | AlbumRecord | TrackRecord:
    """The matching record of an incoming item."""
    if isinstance(item, ServerArtist):
        return ArtistRecord(name=item.name, sort_name=item.sort_name, mbid=item.mbid)
    if isinstance(item, ServerAlbum):
        return AlbumRecord(title=item.title, artist=item.artist_name, year=item.year, mbid=item.mbid)
    return TrackRecord(
        title=item.title, artist=item.artist_name, album=item.album_title,
        duration_ms=item.duration_ms, year=item.year, track_number=item.track_number,
        disc_number=item.disc_number, mbid=item.mbid, isrc=item.isrc, path=path,
    )  # fmt: skip


def row_record(kind: str, row: Sequence[Any]) -> ArtistRecord | AlbumRecord | TrackRecord:
    """The matching record of a stored entity row, its columns in ``ROW_COLUMNS[kind]`` order.

    Taken by position: a SQLAlchemy row's attribute lookup by name cost more than the
    record itself (a million candidates in a cross-server sync).
    """
    cls, values = _RECORD_FROM_ROW[kind]
    return cls(*values(row))


def keys_of(record: ArtistRecord | AlbumRecord | TrackRecord) -> tuple[str, ...]:
    if isinstance(record, ArtistRecord):
        return artist_keys(record)
    if isinstance(record, AlbumRecord):
        return album_keys(record)
    return track_keys(record)


ENTITY_FIELDS = {
    "artist": ("name", "sort_name", "match_key", "alt_key", "mbid"),
    "album": ("title", "match_key", "alt_key", "artist_uuid", "artist_name", "year", "mbid"),
    "track": (
        "title", "match_key", "alt_key", "album_uuid", "artist_uuid", "album_title", "artist_name", "track_number",
        "disc_number", "duration_ms", "year", "mbid", "isrc", "path",
    ),
}  # fmt: skip
# What matching reads of a stored entity, in this order (no timestamps: converting them
# was a third of a fetch).
ROW_COLUMNS = {kind: ("uuid", *fields) for kind, fields in ENTITY_FIELDS.items()}
_RECORD_FIELDS: dict[str, tuple[type[ArtistRecord | AlbumRecord | TrackRecord], tuple[str, ...]]] = {
    "artist": (ArtistRecord, ("name", "sort_name", "mbid")),
    "album": (AlbumRecord, ("title", "artist_name", "year", "mbid")),
    "track": (TrackRecord, ("title", "artist_name", "album_title", "duration_ms", "year", "track_number",
                            "disc_number", "mbid", "isrc", "path")),
}  # fmt: skip
# Per kind: the record class, and a getter of its fields' values (in the class's order) from a row.
_RECORD_FROM_ROW = {
    kind: (cls, operator.itemgetter(*(ROW_COLUMNS[kind].index(name) for name in names)))
    for kind, (cls, names) in _RECORD_FIELDS.items()
}
LINK_FIELDS = ("name", "parent_native_id", "path", "path_tail")


def entity_values(
    item: ServerItem, keys: tuple[str, ...], parents: dict[str, str | None], path: str | None
) -> tuple[Any, ...]:
    """The canonical entity columns taken from an item (no uuid or timestamps), in ``ENTITY_FIELDS`` order."""
    match_key = keys[0] if keys else ""
    alt_key = keys[1] if len(keys) > 1 else None
    if isinstance(item, ServerTrack):
        return (
            item.title, match_key, alt_key, parents.get("album"), parents.get("artist"), item.album_title,
            item.artist_name, item.track_number, item.disc_number, item.duration_ms, item.year, item.mbid,
            item.isrc, path,
        )  # fmt: skip
    if isinstance(item, ServerAlbum):
        return (item.title, match_key, alt_key, parents.get("artist"), item.artist_name, item.year, item.mbid)
    return (item.name, item.sort_name, match_key, alt_key, item.mbid)


def link_values(item: ServerItem, path: str | None, tail: str | None) -> tuple[Any, ...]:
    """The per-server view kept on the link (native name, parent id, path), in ``LINK_FIELDS`` order."""
    if isinstance(item, ServerTrack):
        return (item.title, item.album_id, path, tail)
    if isinstance(item, ServerAlbum):
        return (item.title, item.artist_id, None, None)
    return (item.name, None, None, None)


def entity_fields(
    item: ServerItem, keys: tuple[str, ...], parents: dict[str, str | None], path: str | None
) -> dict[str, Any]:
    """``entity_values`` by column name (for updates)."""
    return dict(zip(ENTITY_FIELDS[item.kind], entity_values(item, keys, parents, path), strict=True))


def link_fields(item: ServerItem, path: str | None, tail: str | None) -> dict[str, Any]:
    """``link_values`` by column name (for updates)."""
    return dict(zip(LINK_FIELDS, link_values(item, path, tail), strict=True))

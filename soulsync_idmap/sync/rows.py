"""Turning server items into database rows, fingerprints and matching records."""

from __future__ import annotations

import dataclasses
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

# The field table. Entity columns are named after the server item's attributes; each
# kind's table holds the item columns below plus the derived ones (blocking keys, parent
# UUIDs, the mapped path). Everything else is derived from it: insert and update columns,
# what matching reads of a stored row, the fingerprint (every item attribute but the id
# and timestamps). A new field is a dataclass attribute, a column here, and a migration.
ITEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "artist": ("name", "sort_name", "mbid", "guid"),
    "album": ("title", "artist_name", "year", "mbid", "guid"),
    "track": ("title", "album_title", "artist_name", "track_number", "disc_number", "duration_ms", "year", "mbid",
              "isrc", "guid"),
}  # fmt: skip
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {
    "artist": ("match_key", "alt_key"),
    "album": ("match_key", "alt_key", "artist_uuid"),
    "track": ("match_key", "alt_key", "artist_uuid", "album_uuid", "path"),
}
ENTITY_FIELDS = {kind: DERIVED_COLUMNS[kind] + ITEM_COLUMNS[kind] for kind in ITEM_COLUMNS}
# What matching reads of a stored entity, in this order (no timestamps: converting them
# was a third of a fetch).
ROW_COLUMNS = {kind: ("uuid", *fields) for kind, fields in ENTITY_FIELDS.items()}
# A matching record's field -> the item attribute and entity column it comes from, where the names differ.
_RENAMED = {"artist": "artist_name", "album": "album_title"}
_RECORDS: dict[str, type[ArtistRecord | AlbumRecord | TrackRecord]] = {
    "artist": ArtistRecord, "album": AlbumRecord, "track": TrackRecord,
}  # fmt: skip
_ITEMS: dict[str, type[ServerItem]] = {"artist": ServerArtist, "album": ServerAlbum, "track": ServerTrack}


def _record_columns(kind: str) -> tuple[str, ...]:
    """The column behind each field of the kind's matching record, in the record's order."""
    names = [f.name for f in dataclasses.fields(_RECORDS[kind])]
    if kind == "album":  # an album record's "artist" is the album artist's name
        return tuple("artist_name" if n == "artist" else n for n in names)
    return tuple(_RENAMED.get(n, n) for n in names)


_CONTENT = {
    kind: tuple(f.name for f in dataclasses.fields(cls) if f.init and f.name not in ("native_id", "added_at",
                                                                                      "updated_at", "guid"))
    for kind, cls in _ITEMS.items()
}  # fmt: skip
_GETTERS = {kind: operator.attrgetter(*names) for kind, names in _CONTENT.items()}
_ITEM_VALUES = {kind: operator.attrgetter(*names) for kind, names in ITEM_COLUMNS.items()}
# Per kind: the record class, and getters of its fields' values (in the class's order) from a
# stored row (by position in ROW_COLUMNS) and from an item (the path is the mapped one, given apart).
_RECORD_FROM_ROW = {
    kind: (cls, operator.itemgetter(*(ROW_COLUMNS[kind].index(c) for c in _record_columns(kind))))
    for kind, cls in _RECORDS.items()
}
# From an item: every field by position; the path's position (its value is the mapped path, given apart).
_RECORD_FROM_ITEM = {
    kind: (cls, operator.attrgetter(*_record_columns(kind)),
           _record_columns(kind).index("path") if "path" in _record_columns(kind) else None)
    for kind, cls in _RECORDS.items()
}  # fmt: skip
LINK_FIELDS = ("name", "parent_native_id", "path", "path_tail", "guid")


def fingerprint(item: ServerItem) -> str:
    """A short hash of an item's content (timestamps left out: touching is not changing).

    The guid counts only where there is one: fingerprints of items without (every
    server but Plex) stay what they were before guids were read.
    """
    values = _GETTERS[item.kind](item)
    if item.guid is not None:
        values = (*values, item.guid)
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
    """The matching record of an incoming item (``path``: its mapped path)."""
    cls, values, at = _RECORD_FROM_ITEM[item.kind]
    fields = values(item)
    if at is not None and fields[at] is not path:
        fields = (*fields[:at], path, *fields[at + 1 :])
    return cls(*fields)


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


def entity_values(
    item: ServerItem, keys: tuple[str, ...], parents: dict[str, str | None], path: str | None
) -> tuple[Any, ...]:
    """The canonical entity columns taken from an item (no uuid or timestamps), in ``ENTITY_FIELDS`` order."""
    derived = {
        "match_key": keys[0] if keys else "",
        "alt_key": keys[1] if len(keys) > 1 else None,
        "artist_uuid": parents.get("artist"),
        "album_uuid": parents.get("album"),
        "path": path,
    }
    return tuple(derived[c] for c in DERIVED_COLUMNS[item.kind]) + _ITEM_VALUES[item.kind](item)


def link_values(item: ServerItem, path: str | None, tail: str | None) -> tuple[Any, ...]:
    """The per-server view kept on the link (native name, parent id, path), in ``LINK_FIELDS`` order."""
    if isinstance(item, ServerTrack):
        return (item.title, item.album_id, path, tail, item.guid)
    if isinstance(item, ServerAlbum):
        return (item.title, item.artist_id, None, None, item.guid)
    return (item.name, None, None, None, item.guid)


def entity_fields(
    item: ServerItem, keys: tuple[str, ...], parents: dict[str, str | None], path: str | None
) -> dict[str, Any]:
    """``entity_values`` by column name (for updates)."""
    return dict(zip(ENTITY_FIELDS[item.kind], entity_values(item, keys, parents, path), strict=True))


def link_fields(item: ServerItem, path: str | None, tail: str | None) -> dict[str, Any]:
    """``link_values`` by column name (for updates)."""
    return dict(zip(LINK_FIELDS, link_values(item, path, tail), strict=True))

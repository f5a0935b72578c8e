"""The ``snapshot`` server kind: a JSON Lines library file.

One object a line: ``kind`` (artist|album|track), ``id`` (native id, unique per kind),
``name`` (artist/album name or track title), ``artist_id`` (album: album artist; track:
track artist), ``album_id`` (track), ``track_number``, ``disc_number``, ``duration_ms``,
``year``, ``mbid``, ``isrc``, ``path``, ``added_at``, ``updated_at`` (ISO 8601), ``guid``
(the server's own metadata id, where it outlives the native id).
Only ``kind``, ``id`` and ``name`` are required. An unknown field is ignored with a
warning (once per field name).

A line that is not a JSON object of a known kind makes the file unreadable
(``SnapshotError`` naming its line): the file is damaged, and a sync must not take a
damaged file's listing as complete. An *item* that cannot be stored as it is follows the
adapters' one policy (``servers/intake.py``) when the reader is given a ``skipped`` list:
repaired where that is honest (a track without a title is named after its file, NUL
characters are removed, a value that is not what its field holds is left out with a
warning), else skipped and reported with its line (no id, an artist or album without a
name, a repeated id). Without a list (tools and the bundled fake servers), each of these
is an error naming its line.

The same format is what the bundled fake servers serve and what tests generate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import SnapshotError, Unsupported
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
    only,
    read_datetime,
)
from .intake import Intake, Listing

__all__ = ["SnapshotServer", "item_to_json", "read_snapshot", "write_snapshot"]

log = logging.getLogger(__name__)

KNOWN_FIELDS = frozenset(
    {
        "kind",
        "id",
        "name",
        "artist_id",
        "album_id",
        "track_number",
        "disc_number",
        "duration_ms",
        "year",
        "mbid",
        "isrc",
        "path",
        "added_at",
        "updated_at",
        "guid",
        # Written by write_snapshot for readability; harmless on read.
        "sort_name",
        "artist_name",
        "album_name",
    }
)
_INT_FIELDS = ("track_number", "disc_number", "duration_ms", "year")
_STR_FIELDS = ("artist_id", "album_id", "mbid", "isrc", "path", "sort_name", "artist_name", "album_name", "guid")


class _LineReader:
    """Validates one snapshot line at a time, remembering what it warned about and saw.

    A line that is not a JSON object of a known kind is a ``SnapshotError`` (the file is
    damaged). An item goes through the adapters' ``Intake``: repaired, or skipped and
    reported on ``skipped`` (without a list, strict reading: an error naming the line).
    """

    def __init__(
        self, path: str, names: tuple[dict[str, str], dict[str, str]] | None, skipped: list[Skipped] | None
    ) -> None:
        self.path = path
        # Artist and album names by native id: filled into items that name only the parent's id.
        self.artists, self.albums = names or ({}, {})
        self.skipped = skipped
        self.found: list[Skipped] = []
        self.intake = Intake(path, self.found)
        self.listings = {kind: Listing() for kind in KINDS}
        self.warned: set[str] = set()
        self.dates: dict[str, datetime] = {}
        self.lineno = 0

    def fail(self, message: str) -> SnapshotError:
        return SnapshotError(message, path=self.path, line=self.lineno)

    def parse(self, raw: str, lineno: int) -> ServerItem | None:
        """The line's item; None for a blank line or a skipped item (recorded in ``skipped``)."""
        self.lineno = lineno
        text = raw.strip()
        if not text:
            return None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(f"not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise self.fail("expected a JSON object")
        kind = obj.get("kind")
        if kind not in KINDS:
            raise self.fail(f"'kind' must be artist, album or track, not {kind!r}")
        unknown = obj.keys() - KNOWN_FIELDS
        for key in sorted(unknown - self.warned):
            self.warned.add(key)
            log.warning("%s:%d: unknown field %r ignored", self.path, lineno, key)
        item = self.intake.accept(self._item(kind, obj), self.listings[kind])
        if item is None:
            skipped = self.found.pop()
            if self.skipped is None:
                raise self.fail(skipped.reason)
            self.skipped.append(replace(skipped, reason=f"line {lineno}: {skipped.reason}"))
        return item

    def _item(self, kind: EntityKind, obj: dict[str, Any]) -> ServerItem:
        """The line's item as it stands (the intake checks it): values of the wrong type left out."""
        native_id = _plain(obj.get("id")) or ""
        name = _plain(obj.get("name")) or ""
        ints = {f: self._int(obj, f) for f in _INT_FIELDS if obj.get(f) is not None}
        strs = {f: self._str(obj, f) for f in _STR_FIELDS if obj.get(f) is not None}
        added = self._date(obj, "added_at")
        updated = self._date(obj, "updated_at")
        guid = strs.get("guid")
        if kind == "artist":
            return ServerArtist(native_id, name, strs.get("sort_name"), strs.get("mbid"), added, updated, guid)
        artist_id = strs.get("artist_id")
        artist_name = strs.get("artist_name")
        if artist_name is None and artist_id:
            artist_name = self.artists.get(artist_id)
        if kind == "album":
            year, mbid = ints.get("year"), strs.get("mbid")
            return ServerAlbum(native_id, name, artist_id, artist_name, year, mbid, added, updated, guid)
        album_id = strs.get("album_id")
        album_title = strs.get("album_name")
        if album_title is None and album_id:
            album_title = self.albums.get(album_id)
        return ServerTrack(
            native_id=native_id,
            title=name,
            album_id=album_id,
            artist_id=artist_id,
            artist_name=artist_name,
            album_title=album_title,
            track_number=ints.get("track_number"),
            disc_number=ints.get("disc_number"),
            duration_ms=ints.get("duration_ms"),
            year=ints.get("year"),
            mbid=strs.get("mbid"),
            isrc=strs.get("isrc"),
            path=strs.get("path"),
            added_at=added,
            updated_at=updated,
            guid=guid,
        )

    def _str(self, obj: dict[str, Any], key: str) -> str | None:
        value = obj[key]
        if type(value) is str:
            return value or None
        if key.endswith("_id") and (text := _plain(value)) is not None:
            return text
        self._dropped(key, value, "a string")
        return None

    def _int(self, obj: dict[str, Any], key: str) -> int | None:
        value = obj[key]
        if type(value) is int:
            return value  # the intake checks the range
        if value == "":
            return None
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            return int(value)
        except (TypeError, ValueError, OverflowError):
            self._dropped(key, value, "a whole number")
            return None

    def _date(self, obj: dict[str, Any], key: str) -> datetime | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        cached = self.dates.get(value) if isinstance(value, str) else None
        if cached is not None:
            return cached
        parsed = read_datetime(value)
        if parsed is None:
            self._dropped(key, value, "an ISO 8601 date")
            return None
        if len(self.dates) < 4096:  # libraries are imported in bursts: many equal stamps
            self.dates[value] = parsed
        return parsed

    def _dropped(self, key: str, value: Any, wanted: str) -> None:
        """A value its field cannot hold: left out with a warning (an error in strict reading)."""
        message = f"'{key}' must be {wanted}, not {value!r}"
        if self.skipped is None:
            raise self.fail(message)
        log.warning("%s:%d: %s; left out", self.path, self.lineno, message)


def _plain(value: Any) -> str | None:
    """A string, or a whole number as its digits (an id written as a number); else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _open(path: str | os.PathLike[str]) -> BinaryIO:
    # Read as bytes, each line decoded on its own: a bad byte is reported at its line.
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise SnapshotError("file not found", path=str(path)) from None
    except IsADirectoryError:
        raise SnapshotError("is a directory, not a snapshot file", path=str(path)) from None
    except PermissionError:
        raise SnapshotError("permission denied", path=str(path)) from None


_KIND_SNIFF = re.compile(r'"kind"\s*:\s*"(artist|album|track)"')


def read_snapshot(
    path: str | os.PathLike[str],
    kinds: frozenset[str] | None = None,
    names: tuple[dict[str, str], dict[str, str]] | None = None,
    skipped: list[Skipped] | None = None,
    counts: dict[str, int] | None = None,
) -> Iterator[ServerItem]:
    """Stream the items of a snapshot file, validating each line.

    With ``kinds``, lines that plainly name another kind are skipped unparsed (they are
    validated when their own kind is read); anything unclear is parsed and checked.
    ``names`` (artist and album names by id) fill in the parent names of items that give
    only the parent's id. ``skipped``: see the module's policy. ``counts`` (with ``kinds``):
    the lines that plainly name each kind are counted there, read or not.
    """
    reader = _LineReader(str(path), names, skipped)
    with _open(path) as handle:
        for lineno, data in enumerate(handle, start=1):
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError:
                raise SnapshotError("not valid UTF-8", path=str(path), line=lineno) from None
            if kinds is not None:
                sniff = _KIND_SNIFF.search(raw)
                if sniff is not None:
                    if counts is not None:
                        counts[sniff.group(1)] += 1
                    if sniff.group(1) not in kinds:
                        continue
            item = reader.parse(raw, lineno)
            if item is not None:
                yield item


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def item_to_json(item: ServerItem) -> dict[str, Any]:
    """The snapshot object of one item (None fields left out)."""
    data: dict[str, Any] = {"kind": item.kind, "id": item.native_id}
    if isinstance(item, ServerArtist):
        data.update(name=item.name, sort_name=item.sort_name, mbid=item.mbid)
    elif isinstance(item, ServerAlbum):
        data.update(name=item.title, artist_id=item.artist_id, year=item.year, mbid=item.mbid)
    else:
        data.update(
            name=item.title,
            artist_id=item.artist_id,
            album_id=item.album_id,
            track_number=item.track_number,
            disc_number=item.disc_number,
            duration_ms=item.duration_ms,
            year=item.year,
            mbid=item.mbid,
            isrc=item.isrc,
            path=item.path,
        )
    data.update(added_at=_iso(item.added_at), updated_at=_iso(item.updated_at), guid=item.guid)
    return {k: v for k, v in data.items() if v is not None}


def write_snapshot(path: str | os.PathLike[str], items: Iterable[ServerItem]) -> int:
    """Write items as a snapshot file; returns how many were written."""
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item_to_json(item), ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")
            count += 1
    return count


@dataclass
class _Parents:
    """A full read's one pass over the parents: artists and albums parsed (a twelfth of a
    library, kept), what was skipped of them, and every kind's line count (for progress)."""

    key: tuple[int, int]  # the file's (mtime, size) when read
    artists: list[ServerArtist]
    albums: list[ServerAlbum]  # parent names as their lines gave them (filled in when yielded)
    skipped: list[Skipped]
    counts: dict[str, int]


class SnapshotServer(MediaServer):
    """A snapshot file read as if it were a media server.

    Track and album items get their parents' names filled in from the same file, so the
    sync engine sees the same shape as from a real server. A full read passes over the
    file twice: once for the parents (kept: they are few, and their names are needed
    before any album or track is yielded) and the lines of each kind, once for the tracks.
    An incremental read parses every line once, keeps the changed items (few) and every
    id, and yields the changed items parents first. A file not modified since the
    watermark is not read at all.
    """

    kind = "snapshot"

    def __init__(self, config: ServerConfig) -> None:
        self.name = config.name
        self.path = Path(config.url).expanduser()
        self.skipped: list[Skipped] = []
        self._names: tuple[dict[str, str], dict[str, str]] | None = None
        self._ids: tuple[tuple[int, int], dict[str, list[str]]] | None = None  # (file key, ids per kind)
        self._parents: _Parents | None = None

    def instance_id(self) -> str:
        return "snapshot:" + hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:16]

    def _read_parents(self) -> _Parents:
        """The parents' pass (again when the file changed since): artists and albums, their names, line counts."""
        key = self._file_key()
        if self._parents is None or self._parents.key != key:
            artists: list[ServerArtist] = []
            albums: list[ServerAlbum] = []
            skipped: list[Skipped] = []
            counts: dict[str, int] = dict.fromkeys(KINDS, 0)
            for item in read_snapshot(self.path, frozenset({"artist", "album"}), skipped=skipped, counts=counts):
                if isinstance(item, ServerArtist):
                    artists.append(item)
                elif isinstance(item, ServerAlbum):
                    albums.append(item)
            self._parents = _Parents(key, artists, albums, skipped, counts)
            self._names = ({a.native_id: a.name for a in artists}, {a.native_id: a.title for a in albums})
        return self._parents

    def _parent_names(self) -> tuple[dict[str, str], dict[str, str]]:
        """Artist and album names by native id (from the parents' pass, or an incremental's)."""
        if self._names is None:
            self._read_parents()
        assert self._names is not None
        return self._names

    def iter_artists(self) -> Iterator[ServerArtist]:
        parents = self._read_parents()
        self.skipped.extend(s for s in parents.skipped if s.kind == "artist")
        return iter(parents.artists)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        parents = self._read_parents()
        self.skipped.extend(s for s in parents.skipped if s.kind == "album")
        artists, albums = self._parent_names()
        return only((_with_parent_names(album, artists, albums) for album in parents.albums), ServerAlbum)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        names = self._parent_names()
        return only(read_snapshot(self.path, frozenset({"track"}), names, self.skipped), ServerTrack)

    def total(self, kind: EntityKind) -> int | None:
        """Lines of the kind, counted by the parents' pass (which a full read makes anyway; progress only)."""
        return self._read_parents().counts[kind]

    def unchanged_since(self, watermark: datetime) -> bool:
        """True when the file was not modified after ``watermark``: nothing changed or left."""
        try:
            modified = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        except OSError:
            return False
        return modified < watermark

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]:
        """Items stamped at or after ``watermark``, parents first; items without stamps always count.

        Every line is parsed once; the ids of the pass serve ``all_ids`` while the file
        stays as it was.
        """
        if self.unchanged_since(watermark):
            return
        key = self._file_key()
        ids: dict[str, list[str]] = {kind: [] for kind in KINDS}
        changed: dict[str, list[ServerItem]] = {kind: [] for kind in KINDS}
        artists: dict[str, str] = {}
        albums: dict[str, str] = {}
        skipped: list[Skipped] = []
        for item in read_snapshot(self.path, skipped=skipped):
            ids[item.kind].append(item.native_id)
            if isinstance(item, ServerArtist):
                artists[item.native_id] = item.name
            elif isinstance(item, ServerAlbum):
                albums[item.native_id] = item.title
            stamps = [s for s in (item.added_at, item.updated_at) if s is not None]
            if not stamps or max(stamps) >= watermark:
                changed[item.kind].append(item)
        self.skipped.extend(skipped)
        self._ids = (key, _with_skipped(ids, skipped))
        self._names = (artists, albums)
        for kind in KINDS:
            for item in changed[kind]:
                yield _with_parent_names(item, artists, albums)

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        if self._ids is None or self._ids[0] != self._file_key():
            key = self._file_key()
            ids: dict[str, list[str]] = {each: [] for each in KINDS}
            skipped: list[Skipped] = []
            for item in read_snapshot(self.path, skipped=skipped):
                ids[item.kind].append(item.native_id)
            self._ids = (key, _with_skipped(ids, skipped))
        return iter(self._ids[1][kind])

    def fetch(self, kind: EntityKind, native_ids: Sequence[str]) -> Iterator[ServerItem]:
        wanted = set(native_ids)
        if kind != "track":  # the parents' names know every parent id: a dangling reference costs no read
            artists, albums = self._parent_names()
            wanted &= (artists if kind == "artist" else albums).keys()
        if not wanted:
            return
        names = None if kind == "artist" else self._parent_names()
        for item in read_snapshot(self.path, frozenset({kind}), names, skipped=[]):
            if item.native_id in wanted:
                yield item

    def _file_key(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
        except OSError:
            return (-1, -1)
        return (stat.st_mtime_ns, stat.st_size)

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        raise Unsupported("snapshot files hold no images", server=self.name)

    def close(self) -> None:
        return None


def _with_skipped(ids: dict[str, list[str]], skipped: list[Skipped]) -> dict[str, list[str]]:
    """The listing with the ids of skipped items: they are still on the server, not gone."""
    for each in skipped:
        if each.native_id is not None:
            ids[each.kind].append(each.native_id)
    return ids


def _with_parent_names(item: ServerItem, artists: dict[str, str], albums: dict[str, str]) -> ServerItem:
    """The item with its parents' names filled in where the line gave only their ids."""
    if isinstance(item, ServerAlbum) and item.artist_name is None and item.artist_id:
        return replace(item, artist_name=artists.get(item.artist_id))
    if isinstance(item, ServerTrack):
        artist = item.artist_name if item.artist_name is not None or not item.artist_id else artists.get(item.artist_id)
        album = item.album_title if item.album_title is not None or not item.album_id else albums.get(item.album_id)
        if (artist, album) != (item.artist_name, item.album_title):
            return replace(item, artist_name=artist, album_title=album)
    return item

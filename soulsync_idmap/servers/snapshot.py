"""The ``snapshot`` server kind: a JSON Lines library file.

One object a line: ``kind`` (artist|album|track), ``id`` (native id, unique per kind),
``name`` (artist/album name or track title), ``artist_id`` (album: album artist; track:
track artist), ``album_id`` (track), ``track_number``, ``disc_number``, ``duration_ms``,
``year``, ``mbid``, ``isrc``, ``path``, ``added_at``, ``updated_at`` (ISO 8601).
Only ``kind``, ``id`` and ``name`` are required. An unknown field is ignored with a
warning (once per field name); a malformed line is a ``SnapshotError`` naming its line.

The same format is what the bundled fake servers serve and what tests generate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import SnapshotError, Unsupported
from ..forking import Forked, can_fork
from .base import (
    KINDS,
    EntityKind,
    ServerAlbum,
    ServerArtist,
    ServerConfig,
    ServerItem,
    ServerTrack,
    only,
    parse_datetime,
)

__all__ = ["SnapshotServer", "item_to_json", "parse_datetime", "read_snapshot", "write_snapshot"]

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
        # Written by write_snapshot for readability; harmless on read.
        "sort_name",
        "artist_name",
        "album_name",
    }
)
_INT_FIELDS = ("track_number", "disc_number", "duration_ms", "year")
_STR_FIELDS = ("artist_id", "album_id", "mbid", "isrc", "path", "sort_name", "artist_name", "album_name")


_MAX_INT = 2**62


class _LineReader:
    """Validates one snapshot line at a time, remembering what it warned about."""

    def __init__(self, path: str, names: tuple[dict[str, str], dict[str, str]] | None = None) -> None:
        self.path = path
        # Artist and album names by native id: filled into items that name only the parent's id.
        self.artists, self.albums = names or ({}, {})
        self.warned: set[str] = set()
        self.seen: dict[str, set[str]] = {"artist": set(), "album": set(), "track": set()}
        self.dates: dict[str, datetime] = {}

    def fail(self, lineno: int, message: str) -> SnapshotError:
        return SnapshotError(message, path=self.path, line=lineno)

    def parse(self, raw: str, lineno: int) -> ServerItem | None:
        text = raw.strip()
        if not text:
            return None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(lineno, f"not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise self.fail(lineno, "expected a JSON object")
        unknown = obj.keys() - KNOWN_FIELDS
        if unknown:
            for key in sorted(unknown - self.warned):
                self.warned.add(key)
                log.warning("%s:%d: unknown field %r ignored", self.path, lineno, key)
        kind = obj.get("kind")
        if kind not in ("artist", "album", "track"):
            raise self.fail(lineno, f"'kind' must be artist, album or track, not {kind!r}")
        native_id = self._required_str(obj, "id", lineno)
        name = self._required_str(obj, "name", lineno)
        if "\x00" in native_id or "\x00" in name:
            raise self.fail(lineno, "'id' and 'name' must not contain a NUL character")
        if len(native_id) > 200:
            raise self.fail(lineno, "'id' is longer than 200 characters")
        # Plain values take the fast path; anything else goes through the checks.
        ints: dict[str, int | None] = {}
        for f in _INT_FIELDS:
            value = obj.get(f)
            if value is not None:
                ints[f] = value if type(value) is int and 0 <= value <= _MAX_INT else self._int(obj, f, lineno)
        strs: dict[str, str | None] = {}
        for f in _STR_FIELDS:
            value = obj.get(f)
            if value is not None:
                strs[f] = value if type(value) is str and value else self._str(obj, f, lineno)
        added = self._date(obj, "added_at", lineno)
        updated = self._date(obj, "updated_at", lineno)
        seen = self.seen[kind]
        if native_id in seen:
            log.warning("%s:%d: duplicate %s id %r skipped", self.path, lineno, kind, native_id)
            return None
        seen.add(native_id)
        if kind == "artist":
            return ServerArtist(
                native_id=native_id,
                name=name,
                sort_name=strs.get("sort_name"),
                mbid=strs.get("mbid"),
                added_at=added,
                updated_at=updated,
            )
        artist_id = strs.get("artist_id")
        artist_name = strs.get("artist_name")
        if artist_name is None and artist_id:
            artist_name = self.artists.get(artist_id)
        if kind == "album":
            return ServerAlbum(
                native_id=native_id,
                title=name,
                artist_id=artist_id,
                artist_name=artist_name,
                year=ints.get("year"),
                mbid=strs.get("mbid"),
                added_at=added,
                updated_at=updated,
            )
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
        )

    def _required_str(self, obj: dict[str, Any], key: str, lineno: int) -> str:
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and key == "id":
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(lineno, f"'{key}' is required and must be a non-empty string")
        return value

    def _str(self, obj: dict[str, Any], key: str, lineno: int) -> str | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool) and key.endswith("_id"):
            return str(value)
        if not isinstance(value, str):
            raise self.fail(lineno, f"'{key}' must be a string")
        return value

    def _int(self, obj: dict[str, Any], key: str, lineno: int) -> int | None:
        value = obj.get(key)
        if type(value) is int and 0 <= value <= _MAX_INT:
            return value
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(lineno, f"'{key}' must be a whole number")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise self.fail(lineno, f"'{key}' must be a whole number, not {value!r}") from None
        if number < 0 or number > _MAX_INT:
            raise self.fail(lineno, f"'{key}' is out of range: {number}")
        return number

    def _date(self, obj: dict[str, Any], key: str, lineno: int) -> datetime | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        cached = self.dates.get(value) if isinstance(value, str) else None
        if cached is not None:
            return cached
        if not isinstance(value, str):
            raise self.fail(lineno, f"'{key}' must be an ISO 8601 string")
        try:
            parsed = parse_datetime(value)
        except ValueError:
            raise self.fail(lineno, f"'{key}' is not an ISO 8601 date: {value!r}") from None
        if len(self.dates) < 4096:  # libraries are imported in bursts: many equal stamps
            self.dates[value] = parsed
        return parsed


def _open(path: str | os.PathLike[str]) -> BinaryIO:
    # Read as bytes, each line decoded on its own: a bad byte is reported at its line, and
    # lines end at "\n" only (a "\r\n" line keeps its "\r", which JSON takes as space),
    # as in the light pass, so line numbers agree between the readers.
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
    lines: set[int] | None = None,
    names: tuple[dict[str, str], dict[str, str]] | None = None,
) -> Iterator[ServerItem]:
    """Stream the items of a snapshot file, validating each line.

    With ``kinds``, lines that plainly name another kind are skipped unparsed (they are
    validated when their own kind is read); anything unclear is parsed and checked.
    With ``lines``, only those line numbers (1-based) are read. ``names`` (artist and
    album names by id) fill in the parent names of items that give only the parent's id.
    """
    return _read_range(path, 0, None, kinds, names, lines)


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
    data.update(added_at=_iso(item.added_at), updated_at=_iso(item.updated_at))
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


_CANONICAL_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|\+00:00)")


def _keep(kept: dict[int, str] | None, lineno: int, raw: str) -> dict[int, str] | None:
    if kept is None or len(kept) >= KEEP_CHANGED_LINES:
        return None
    kept[lineno] = raw
    return kept


def _light_name(raw: str) -> str | None:
    """The "name" of a compact line, decoding the line only when the name holds an escape."""
    at = raw.find(',"name":"')
    if at < 0:
        return None
    end = raw.find('"', at + 9)
    name = raw[at + 9 : end]
    if end < 0 or "\\" in name:
        try:
            value = json.loads(raw).get("name")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None
    return name


def _stamped_before(obj: dict[str, Any], watermark: datetime, cutoff: str) -> bool:
    """True when the object carries a stamp and every stamp is before ``watermark``.

    Canonical UTC stamps ("2024-01-01T00:00:00Z") compare as text, to the second; a stamp
    in the watermark's own second counts as changed. Anything else is parsed; what does
    not parse counts as changed, so that the full read reports it.
    """
    stamped = False
    for key in ("updated_at", "added_at"):
        value = obj.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            return False
        if _CANONICAL_UTC.fullmatch(value):
            if value[:19] >= cutoff:
                return False
        else:
            try:
                if parse_datetime(value) >= watermark:
                    return False
            except ValueError:
                return False
        stamped = True
    return stamped


# The light pass reads lines in the compact form the writers here produce
# ('{"kind":"track","id":"t1",...,"updated_at":"2024-01-01T00:00:00Z"}') with str.find:
# the JSON decoder costs several microseconds a line, and a million lines must take a
# second or two. A quote inside a JSON string is always escaped, so '","updated_at":"'
# cannot match inside a name. Any other line (spaces, escapes, numeric ids, stamps with
# an offset) goes through the decoder.
_HEAD = '{"kind":"'
_FRACTIONS = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"')


def _light(raw: str, cutoff: str) -> tuple[str, str, bool] | None:
    """(kind, id, stamped before ``cutoff``) of a compact line, or None to decode it properly."""
    if not raw.startswith(_HEAD):
        return None
    kind_end = raw.find('"', 9)
    if not raw.startswith('","id":"', kind_end):
        return None
    id_start = kind_end + 8
    id_end = raw.find('"', id_start)
    native = raw[id_start:id_end]
    if id_end < 0 or "\\" in native or not native.strip():
        return None
    before = False
    for needle in (',"updated_at":"', ',"added_at":"'):
        at = raw.rfind(needle, id_end)  # the stamps end a line; a repeated key's last value counts, as in JSON
        if at < 0:
            continue
        stamp = raw[at + len(needle) : at + len(needle) + 21]
        # to the second, or with fractions ("2024-01-01T00:00:00.250Z", as isoformat writes them)
        if (len(stamp) != 21 or stamp[19:] != 'Z"' or stamp[10] != "T") and not _FRACTIONS.match(raw, at + len(needle)):
            return None
        if stamp[:19] >= cutoff:
            return raw[9:kind_end], native, False
        before = True
    return raw[9:kind_end], native, before


@dataclass
class _Scan:
    """One pass over a snapshot file: every id by kind, and the lines changed since a watermark."""

    key: tuple[int, int]
    ids: dict[str, list[str]]
    changed: dict[str, set[int]]
    kept: dict[int, str] | None  # the changed lines themselves, while they are few


@dataclass
class _Part:
    """What the light pass found in one byte range of a file (line numbers within the range)."""

    lines: int
    ids: dict[str, list[str]]
    changed: dict[str, list[int]]
    kept: dict[int, str] | None
    names: dict[str, dict[str, str]]
    bad: tuple[int, str] | None = None  # (line, reason) of the first line in error; the caller adds the offset


KEEP_ALBUMS = 500_000  # albums a full read holds between its artists-and-albums pass and the albums
SPLIT_BYTES = 32 * 1024 * 1024  # from this size on, the light pass reads two halves at once


def _hash_range(path: Path, start: int, end: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        file.seek(start)
        left = end - start
        while left > 0:
            chunk = file.read(min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def _line_after(path: Path, position: int) -> int | None:
    """The byte offset of the first line starting after ``position``."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(position)
            handle.readline()
            offset = handle.tell()
    except OSError:
        return None
    return offset if 0 < offset < size else None


def _decoded(raw: str, lineno: int, reader: _LineReader) -> tuple[str, str, dict[str, Any]] | None:
    """(kind, id, object) of a line the light reader cannot take; None for a blank line.

    Raises the line's ``SnapshotError`` (from ``reader``) when it is not a valid item.
    """
    try:
        obj = json.loads(raw)
    except ValueError:
        obj = None
    kind = obj.get("kind") if isinstance(obj, dict) else None
    native = obj.get("id") if isinstance(obj, dict) else None
    if kind in KINDS and isinstance(native, str) and native.strip():
        assert isinstance(obj, dict) and isinstance(kind, str)
        return kind, native, obj
    item = reader.parse(raw, lineno)  # the line's error, an odd but valid item (a numeric id), or a blank
    return None if item is None else (item.kind, item.native_id, {})


def _scan_part(path: Path, start: int, end: int | None, watermark: datetime | None) -> _Part:
    """The light pass over the lines from byte ``start`` (a line start) to ``end``.

    Every id is listed at its line's place, whichever reader took the line: the listing
    digest compares orders, so a changed line in another form (a stamp with fractions of
    a second, an escaped id) must not move its id.
    """
    cutoff = watermark.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if watermark is not None else ""
    part = _Part(0, {kind: [] for kind in KINDS}, {kind: [] for kind in KINDS}, {}, {"artist": {}, "album": {}})
    ids, changed, names = part.ids, part.changed, part.names
    reader = _LineReader(str(path))
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise SnapshotError("file not found", path=str(path)) from None
    with handle:
        handle.seek(start)
        position, lineno = start, 0
        for data in handle:
            if end is not None and position >= end:
                break
            position += len(data)
            lineno += 1
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError:
                part.bad = (lineno, "not valid UTF-8")
                break
            light = _light(raw, cutoff)
            if light is not None and light[0] in ids:
                kind, native, before = light
                name = _light_name(raw) if kind in names else None
            else:
                try:
                    decoded = _decoded(raw, lineno, reader)
                except SnapshotError as exc:
                    part.bad = (lineno, exc.reason)
                    break
                if decoded is None:
                    continue
                kind, native, obj = decoded
                before = watermark is not None and _stamped_before(obj, watermark, cutoff)
                name = obj.get("name") if kind in names and isinstance(obj.get("name"), str) else None
            ids[kind].append(native)
            if watermark is not None and not before:
                changed[kind].append(lineno)
                part.kept = _keep(part.kept, lineno, raw)
            if name is not None:
                names[kind].setdefault(native, name)
        part.lines = lineno
    return part


# Changed lines kept in memory by the light pass, so that reading them needs no second
# pass over the file; beyond this many (a first run, a file without stamps) it re-reads.
KEEP_CHANGED_LINES = 20_000


def _read_range(
    path: str | os.PathLike[str],
    start: int,
    end: int | None,
    kinds: frozenset[str] | None,
    names: tuple[dict[str, str], dict[str, str]] | None,
    lines: set[int] | None = None,
) -> Iterator[ServerItem]:
    """The items on the lines from byte ``start`` (a line start) to ``end`` (see ``read_snapshot``).

    Line numbers are the file's: the lines before ``start`` are counted first (bytes, no
    decoding).
    """
    with _open(path) as handle:
        lineno = 0
        while start and handle.tell() < start:
            chunk = handle.read(min(1 << 20, start - handle.tell()))
            if not chunk:
                break
            lineno += chunk.count(b"\n")
        reader = _LineReader(str(path), names)
        position = start
        for data in handle:
            if end is not None and position >= end:
                break
            position += len(data)
            lineno += 1
            if lines is not None and lineno not in lines:
                continue
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError:
                raise SnapshotError("not valid UTF-8", path=str(path), line=lineno) from None
            if kinds is not None:
                sniff = _KIND_SNIFF.search(raw)
                if sniff is not None and sniff.group(1) not in kinds:
                    continue
            item = reader.parse(raw, lineno)
            if item is not None:
                yield item


def _read_tracks(
    path: Path, start: int, end: int | None, names: tuple[dict[str, str], dict[str, str]]
) -> Iterator[ServerTrack]:
    return only(_read_range(path, start, end, frozenset({"track"}), names), ServerTrack)


class SnapshotServer:
    """A snapshot file read as if it were a media server.

    Track and album items get their parents' names filled in from the same file, so the
    sync engine sees the same shape as from a real server.
    """

    kind = "snapshot"
    # Its iterators only read a local file: the sync engine may run them in a forked
    # reader process (sync/reader.py).
    forkable = True

    def __init__(self, config: ServerConfig) -> None:
        self.name = config.name
        self.path = Path(config.url).expanduser()
        self._parent_names: tuple[dict[str, str], dict[str, str]] | None = None
        self._scanned: _Scan | None = None
        self._albums: list[ServerAlbum] | None = None  # read with the artists, until asked for

    def instance_id(self) -> str:
        return "snapshot:" + hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:16]

    def _names(self) -> tuple[dict[str, str], dict[str, str]]:
        if self._parent_names is None:
            for _ in self._parents_pass(keep=False):
                pass
        assert self._parent_names is not None
        return self._parent_names

    def _parents_pass(self, keep: bool = True) -> Iterator[ServerArtist]:
        """A full read's first pass: the artists, and the albums kept until they are asked for.

        Artists and albums come from one pass over the file (then the tracks from a second),
        not one pass each plus one for the names. Albums are held as items (a library has
        about one for twelve tracks), up to ``KEEP_ALBUMS``; beyond (or without ``keep``),
        they are read again. Either way the pass leaves the parents' names behind.
        """
        self._albums = None
        artists: dict[str, str] = {}
        albums: dict[str, str] = {}
        kept: list[ServerAlbum] | None = [] if keep else None
        for item in read_snapshot(self.path, frozenset({"artist", "album"})):
            if isinstance(item, ServerArtist):
                artists[item.native_id] = item.name
                yield item
            elif isinstance(item, ServerAlbum):
                albums[item.native_id] = item.title
                if kept is not None:
                    kept.append(item)
                    if len(kept) > KEEP_ALBUMS:
                        kept = None
        self._parent_names = (artists, albums)
        self._albums = kept

    def _items(self, kind: EntityKind, lines: set[int] | None = None) -> Iterator[ServerItem]:
        """The items of one kind (of those lines), parents' names filled in from the same file.

        Changed lines come from the light pass's copy when it kept one.
        """
        if lines is None and kind == "artist":
            yield from self._parents_pass()
            return
        if lines is None and kind == "album" and self._albums is not None:
            albums, self._albums = self._albums, None
            artists = self._names()[0]
            for album in albums:  # their artists' names are all known now
                if album.artist_name is None and album.artist_id:
                    album = replace(album, artist_name=artists.get(album.artist_id))
                yield album
            return
        names = None if kind == "artist" else self._names()
        kept = self._scanned.kept if self._scanned is not None else None
        if lines is None or kept is None:
            yield from read_snapshot(self.path, frozenset({kind}), lines, names)
            return
        reader = _LineReader(str(self.path), names)
        for lineno in sorted(lines):
            item = reader.parse(kept[lineno], lineno)
            if item is not None and item.kind == kind:
                yield item

    def iter_artists(self) -> Iterator[ServerArtist]:
        return only(self._items("artist"), ServerArtist)

    def iter_albums(self) -> Iterator[ServerAlbum]:
        return only(self._items("album"), ServerAlbum)

    def iter_tracks(self) -> Iterator[ServerTrack]:
        return only(self._items("track"), ServerTrack)

    def track_parts(self, count: int) -> list[Callable[[], Iterator[ServerTrack]]]:
        """A full read's tracks in up to ``count`` parts of the file, for readers running at once.

        Called after the artists and albums were read (their names fill in the tracks').
        A file under SPLIT_BYTES is one part. A track id repeated in two parts is not seen
        as a duplicate by either reader (the writer takes the later one as a change).
        """
        size = self._file_key()[1]
        cuts: list[int] = []
        if count > 1 and size >= SPLIT_BYTES:
            for index in range(1, count):
                cut = _line_after(self.path, size * index // count)
                if cut is not None and (not cuts or cut > cuts[-1]):
                    cuts.append(cut)
        if not cuts:
            return [self.iter_tracks]
        names = self._names()
        bounds = list(zip([0, *cuts], [*cuts, None], strict=True))
        return [partial(_read_tracks, self.path, start, end, names) for start, end in bounds]

    def unchanged_since(self, watermark: datetime) -> bool:
        """True when the file was not modified after ``watermark``: nothing changed or left."""
        try:
            modified = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        except OSError:
            return False
        return modified < watermark

    def content_digest(self) -> str | None:
        """A digest of the file's bytes (None when it cannot be read): the same bytes, the same items.

        Answers a file rewritten with nothing changed in a fraction of the light pass: a
        large file is hashed in two halves at once (hashlib lets go of the GIL while it
        hashes a buffer; the reads do too).
        """
        try:
            size = self.path.stat().st_size
            if size < SPLIT_BYTES:
                halves = [_hash_range(self.path, 0, size)]
            else:
                with ThreadPoolExecutor(2, thread_name_prefix="idmap-hash") as pool:
                    later = pool.submit(_hash_range, self.path, size // 2, size)
                    halves = [_hash_range(self.path, 0, size // 2), later.result()]
        except OSError:
            return None
        return hashlib.blake2b(f"{size}:{':'.join(halves)}".encode(), digest_size=16).hexdigest()

    def changed_since(self, watermark: datetime) -> Iterator[ServerItem]:
        """Items stamped at or after ``watermark``; items without stamps always count as changed.

        One light pass (JSON decoded, nothing else) finds the changed lines and every id;
        only the changed lines are then read in full, parents before children. The ids
        serve ``all_ids`` while the file stays as it was.
        """
        if self.unchanged_since(watermark):
            return
        scan = self._scan(watermark)
        for kind in KINDS:
            if scan.changed[kind]:
                yield from self._items(kind, scan.changed[kind])

    def all_ids(self, kind: EntityKind) -> Iterator[str]:
        scan = self._scanned
        if scan is None or scan.key != self._file_key():
            scan = self._scan(None)
        return iter(scan.ids[kind])

    def _file_key(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
        except OSError:
            return (-1, -1)
        return (stat.st_mtime_ns, stat.st_size)

    def _scan(self, watermark: datetime | None) -> _Scan:
        """The light pass: every id, the changed lines and the parents' names, in one read.

        A large file is read in two halves at once, the second in a forked process (the
        light pass is Python per line, and a machine has a second core). Lines the light
        reader cannot take are decoded where they stand, so that every id keeps its place.
        """
        key = self._file_key()
        boundary = _line_after(self.path, key[1] // 2) if key[1] >= SPLIT_BYTES and can_fork() else None
        if boundary is None:
            parts = [_scan_part(self.path, 0, None, watermark)]
        else:
            later = Forked(_scan_part, self.path, boundary, None, watermark)
            try:
                first = _scan_part(self.path, 0, boundary, watermark)
            finally:
                second = later.result()
            parts = [first, second]
        ids: dict[str, list[str]] = {kind: [] for kind in KINDS}
        changed: dict[str, set[int]] = {kind: set() for kind in KINDS}
        # Parent names, so that reading the changed tracks need not parse every parent line.
        names: dict[str, dict[str, str]] = {"artist": {}, "album": {}}
        kept: dict[int, str] | None = {}
        offset = 0
        for part in parts:
            if part.bad is not None:
                raise SnapshotError(part.bad[1], path=str(self.path), line=offset + part.bad[0])
            for each in KINDS:
                ids[each].extend(part.ids[each])
                changed[each].update(offset + n for n in part.changed[each])
            for parent, found in part.names.items():
                for native_id, name in found.items():
                    names[parent].setdefault(native_id, name)
            if part.kept is None:
                kept = None
            for n, raw in (part.kept or {}).items():
                kept = _keep(kept, offset + n, raw)
            offset += part.lines
        self._scanned = _Scan(key, ids, changed, kept)
        self._parent_names = (names["artist"], names["album"])
        return self._scanned

    def set_artist_image(self, native_id: str, data: bytes, content_type: str) -> None:
        raise Unsupported("snapshot files hold no images", server=self.name)

    def close(self) -> None:
        return None

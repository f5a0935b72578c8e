"""Candidate generation for cross-server matching, blocked so cost stays near-linear.

For a batch of new items of one kind, a fixed number of indexed queries fetch the
entities worth scoring: equal MusicBrainz id or ISRC, the same file (path tail), the
same parent (albums of the resolved album artist; tracks of the resolved album), and
equal blocking keys. Entities that already have a live link on the syncing server are
left out: one server never holds the same entity twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz
from sqlalchemy import Connection, Row, and_, or_, select

from ..mapping.bulk import one_array
from ..mapping.store import table
from ..matching import (
    AlbumRecord,
    ArtistRecord,
    TrackRecord,
    album_keys,
    artist_keys,
    fold,
    split_folded_artist,
    text_similarity,
    title_suffixes,
)
from ..servers.base import ServerItem
from .rows import ROW_COLUMNS

__all__ = ["STAGES", "Incoming", "Stage", "find_candidates"]

Record = ArtistRecord | AlbumRecord | TrackRecord
PER_KEY_CAP = 200
SIBLING_DURATION_MS = 3_000
_CHUNK = 5_000
_PREFIX_CHUNK = 200  # key ranges per query
# Leading characters of an album key that also find its typo'd spellings ("Caledonia Catheidral").
ALBUM_PREFIX = 6
NEAR_ALBUM = 0.7  # of those, the albums whose key is at least this similar
# On an album of the same (or a near) name: a stored title key at least this similar (rapidfuzz ratio).
NEAR_TITLE = 85


@dataclass
class Incoming:
    """A new item on its way in: its record, blocking keys, resolved parents and path."""

    item: ServerItem
    record: Record
    keys: tuple[str, ...]
    path: str | None
    tail: str | None
    parents: dict[str, str | None] = field(default_factory=dict)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _rows_where(conn: Connection, kind: str, column: str, values: set[Any]) -> list[Row[Any]]:
    """Entity rows whose ``column`` is one of ``values``: the columns matching reads, no timestamps."""
    return _select_in(conn, kind, ROW_COLUMNS[kind], column, values)


Stage = Literal["strong", "parent", "keys"]
STAGES: tuple[Stage, ...] = ("strong", "parent", "keys")


def find_candidates(
    conn: Connection, kind: str, server_id: int, batch: Sequence[Incoming], stage: Stage,
    released: Collection[str] = frozenset(),
) -> tuple[list[list[list[str]]], dict[str, Row[Any]]]:  # fmt: skip
    """Per incoming item, candidate UUIDs in tiers (strongest evidence first); the rows by UUID.

    The writer asks stage by stage, each for the items the earlier ones left undecided,
    and scores tier by tier, stopping at the first sure match:

    - ``strong``: equal MusicBrainz id or ISRC, the same file (one tier);
    - ``parent``: tracks of the resolved album (those at the same track number or with a
      shared key first), albums of the resolved artist;
    - ``keys``: equal blocking keys (at most PER_KEY_CAP entities per key) and, for tracks,
      the positional siblings (``_positional_siblings``).

    Most items of a library another server already holds are decided by the first stage,
    so the album's other tracks are neither fetched nor scored for them.
    """
    rows: dict[str, Row[Any]] = {}
    by: dict[str, dict[Any, list[str]]] = defaultdict(lambda: defaultdict(list))

    def index(column: str, values: set[Any], cap: int | None = None, whole: bool = False) -> None:
        # UUIDs only, unless the tiers need the row (``whole``): the other rows are fetched
        # once, at the end, for the candidates not linked here already.
        found: list[tuple[str, Any, Row[Any] | None]]
        if whole:
            found = [(row.uuid, getattr(row, column), row) for row in _rows_where(conn, kind, column, values)]
        else:
            light = _select_in(conn, kind, ("uuid", column), column, values)
            found = [(r.uuid, getattr(r, column), None) for r in light]
        for uuid, value, row in found:
            if row is not None:
                rows[uuid] = row
            bucket = by[column][value]
            if cap is None or len(bucket) < cap:
                bucket.append(uuid)

    positional: list[list[str]] = [[] for _ in batch]
    if stage == "strong":
        index("mbid", {inc.item.mbid for inc in batch if inc.item.mbid})
        if kind == "track":
            index("isrc", {getattr(inc.item, "isrc", None) for inc in batch} - {None})
            _index_paths(conn, batch, by)
        _index_guids(conn, kind, batch, by)
    elif stage == "parent":
        if kind == "track":
            index("album_uuid", {inc.parents["album"] for inc in batch if inc.parents.get("album")}, whole=True)
        elif kind == "album":
            index("artist_uuid", {inc.parents["artist"] for inc in batch if inc.parents.get("artist")})
    else:
        keys = {key for inc in batch for key in inc.keys}
        index("match_key", keys, cap=PER_KEY_CAP)
        index("alt_key", keys, cap=PER_KEY_CAP)
        if kind == "track":
            positional = _positional_siblings(conn, batch)

    per_item: list[list[list[str]]] = []
    for inc, near_here in zip(batch, positional, strict=True):
        if stage == "strong":
            strong: dict[str, None] = {}
            if inc.item.mbid:
                strong.update(dict.fromkeys(by["mbid"].get(inc.item.mbid, [])))
            if kind == "track":
                isrc: str | None = getattr(inc.item, "isrc", None)
                if isrc:
                    strong.update(dict.fromkeys(by["isrc"].get(isrc, [])))
                if inc.tail:
                    strong.update(dict.fromkeys(by["path_tail"].get(inc.tail, [])))
            if inc.item.guid:
                strong.update(dict.fromkeys(by["guid"].get(inc.item.guid, [])))
            per_item.append([list(strong)])
        elif stage == "parent":
            close: dict[str, None] = {}
            rest: dict[str, None] = {}
            if kind == "track" and inc.parents.get("album"):
                siblings = _same_album(inc, by["album_uuid"].get(inc.parents["album"], []), rows)
                number = getattr(inc.item, "track_number", None)
                item_keys = set(inc.keys)
                for u in siblings:
                    row = rows[u]
                    near = (number is not None and row.track_number == number) or row.match_key in item_keys
                    (close if near or row.alt_key in item_keys else rest)[u] = None
            elif kind == "album" and inc.parents.get("artist"):
                rest.update(dict.fromkeys(by["artist_uuid"].get(inc.parents["artist"], [])))
            per_item.append([list(close), list(rest)])
        else:
            found: dict[str, None] = {}
            for key in inc.keys:
                found.update(dict.fromkeys(by["match_key"].get(key, [])))
                found.update(dict.fromkeys(by["alt_key"].get(key, [])))
            found.update(dict.fromkeys(near_here))
            per_item.append([list(found)])

    candidates = {u for tiers in per_item for tier in tiers for u in tier}
    # linked here already (one server never holds the same entity twice), unless that link is disappearing
    taken = _linked_here(conn, server_id, kind, candidates).difference(released)
    for row in _rows_where(conn, kind, "uuid", candidates - taken - rows.keys()):
        rows[row.uuid] = row
    return [[[u for u in tier if u not in taken and u in rows] for tier in tiers] for tiers in per_item], rows


def _same_album(inc: Incoming, uuids: list[str], rows: dict[str, Row[Any]]) -> list[str]:
    """Tracks of the same album; on a huge album (a box set), only those sharing a number or a key.

    Scoring every track of a 2,000-track compilation against every other would be
    quadratic; the position on the album or the title key finds the right one.
    """
    if len(uuids) <= PER_KEY_CAP:
        return uuids
    number = getattr(inc.item, "track_number", None)
    keys = set(inc.keys)
    return [
        u for u in uuids
        if (number is not None and rows[u].track_number == number) or rows[u].match_key in keys
        or rows[u].alt_key in keys
    ][:PER_KEY_CAP]  # fmt: skip


def _positional_siblings(conn: Connection, batch: Sequence[Incoming]) -> list[list[str]]:
    """Per track, stored tracks by the same artist or on an album of the same name, at its position.

    What a typo in the title hides from the name keys ("Pruple Sky", "Denil"), and what an
    album whose artist one server leaves out hides from the album tier, is still found by
    where the track sits: the same track number, or the same duration (within
    SIBLING_DURATION_MS), under the resolved artist or under an album with the same
    normalised title. Scoring then decides; a typo'd title with everything else equal is
    a sure match, a different title at the same position is not.

    Also searched, for the same reasons: a track with no album under the album its title
    names ("Title - Album", "Title (Album)"); albums whose key begins like the track's
    album key (its first ALBUM_PREFIX characters) and is near-equal to it (a typo further
    on, "Caledonia Catheidral"); and, for a track with an artist, stored "Artist - Title" tracks that
    carry no artist of their own. On the albums found by name, a track whose title key is within
    a typo of the item's (NEAR_TITLE) is taken at any position: an edition numbered otherwise.
    """
    album_key: dict[int, list[str]] = {}
    for inc in batch:
        assert isinstance(inc.record, TrackRecord)
        names = [inc.record.album] if inc.record.album else title_suffixes(inc.record.title)
        album_key[id(inc)] = [k for k in dict.fromkeys(album_keys(AlbumRecord(n))[0] for n in names) if k != "?"]
    album_uuids: dict[str, list[str]] = defaultdict(list)
    wanted_albums = {key for keys in album_key.values() for key in keys}
    for row in _select_in(conn, "album", ("uuid", "match_key"), "match_key", wanted_albums):
        if len(album_uuids[row.match_key]) < PER_KEY_CAP:
            album_uuids[row.match_key].append(row.uuid)
    # A typo past the first characters hides an album from its key, not from its key's prefix.
    for key, uuids in _near_albums(conn, wanted_albums).items():
        album_uuids["~" + key] = uuids
    for keys in album_key.values():
        keys.extend(["~" + k for k in keys])
    artist_of: dict[int, str] = {id(inc): str(inc.parents["artist"]) for inc in batch if inc.parents.get("artist")}
    artist_of.update(_folded_artists(conn, [inc for inc in batch if id(inc) not in artist_of]))
    artists = set(artist_of.values())
    albums = {u for bucket in album_uuids.values() for u in bucket}
    light = ("uuid", "artist_uuid", "album_uuid", "track_number", "duration_ms", "match_key", "alt_key")
    by_artist: dict[str, list[Row[Any]]] = defaultdict(list)
    by_album: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in _select_in(conn, "track", light, "artist_uuid", artists):
        by_artist[row.artist_uuid].append(row)
    for row in _select_in(conn, "track", light, "album_uuid", albums):
        by_album[row.album_uuid].append(row)
    named: dict[int, str] = {}  # the folded artist name, for "Artist - Title" tracks stored with no artist
    for inc in batch:
        if isinstance(inc.record, TrackRecord) and inc.record.artist and len(name := fold(inc.record.artist)) >= 3:
            named[id(inc)] = name
    folded = _folded_tracks(conn, set(named.values()), light)
    found: list[list[str]] = []
    for inc in batch:
        record = inc.record
        assert isinstance(record, TrackRecord)
        pool = list(by_artist.get(artist_of.get(id(inc), ""), []))
        pool.extend(folded.get(named.get(id(inc), ""), []))
        shelf = [
            row for key in album_key[id(inc)] for album in album_uuids.get(key, []) for row in by_album.get(album, [])
        ]
        picked = [row.uuid for row in pool if _same_position(record, row)]
        # On an album of the same name, a near-equal title is enough: a typo and another numbering.
        picked += [row.uuid for row in shelf if _same_position(record, row) or _near_title(inc.keys, row)]
        picked = list(dict.fromkeys(picked))[:PER_KEY_CAP]
        found.append(picked)
    return found


def _near_albums(conn: Connection, keys: set[str]) -> dict[str, list[str]]:
    """Per album key, the albums whose key begins alike and is near-equal (a typo further on).

    One index range per prefix (ALBUM_PREFIX characters); of each prefix's albums only those
    whose key is at least NEAR_ALBUM similar are kept (at most PER_KEY_CAP), so a common
    prefix ("greatest hits", "the best of") does not pull in every album that starts so.
    """
    wanted: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        if len(key) > ALBUM_PREFIX:
            wanted[key[:ALBUM_PREFIX]].append(key)
    album = table("album")
    found: dict[str, list[str]] = defaultdict(list)
    ordered = sorted(wanted)
    for start in range(0, len(ordered), _PREFIX_CHUNK):
        ranges = [and_(album.c.match_key >= p, album.c.match_key < p + "\uffff")
                  for p in ordered[start : start + _PREFIX_CHUNK]]  # fmt: skip
        for uuid, stored in conn.execute(select(album.c.uuid, album.c.match_key).where(or_(*ranges))):
            for key in wanted.get(stored[:ALBUM_PREFIX], ()):
                if key != stored and len(found[key]) < PER_KEY_CAP and text_similarity(key, stored) >= NEAR_ALBUM:
                    found[key].append(uuid)
    return found


def _folded_tracks(conn: Connection, names: set[str], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Stored tracks with no artist whose title reads "Artist - Title", by the folded artist name.

    Such a track's second key is its whole folded title, so the name is a prefix of it: one
    range per name on the key's index.
    """
    if not names:
        return {}
    track = table("track")
    found: dict[str, list[Any]] = defaultdict(list)
    ordered = sorted(names)
    for start in range(0, len(ordered), _PREFIX_CHUNK):
        chunk = ordered[start : start + _PREFIX_CHUNK]
        ranges = [and_(track.c.alt_key >= f"{n} ", track.c.alt_key < f"{n}!") for n in chunk]
        query = select(*(track.c[c] for c in dict.fromkeys((*columns, "alt_key")))).where(or_(*ranges))
        for row in conn.execute(query):
            if row.artist_uuid is None:
                # the name may have several words: every leading part of the key that is a wanted name
                words = row.alt_key.split(" ")
                for size in range(1, len(words)):
                    name = " ".join(words[:size])
                    if name in names and len(found[name]) < PER_KEY_CAP:
                        found[name].append(row)
    return found


def _folded_artists(conn: Connection, batch: Sequence[Incoming]) -> dict[int, str]:
    """The artist entity named in an "Artist - Title" title, for tracks that carry no artist.

    Used for finding candidates only (never stored): the name must match exactly one
    artist entity's key.
    """
    wanted: dict[int, str] = {}
    for inc in batch:
        record = inc.record
        if isinstance(record, TrackRecord) and not record.artist:
            folded = split_folded_artist(record.title)
            if folded is not None and (key := artist_keys(ArtistRecord(folded[0]))[0]) != "?":
                wanted[id(inc)] = key
    if not wanted:
        return {}
    owners: dict[str, list[str]] = defaultdict(list)
    for row in _select_in(conn, "artist", ("uuid", "match_key"), "match_key", set(wanted.values())):
        owners[row.match_key].append(row.uuid)
    return {i: owners[key][0] for i, key in wanted.items() if len(owners.get(key, ())) == 1}


def _near_title(keys: Sequence[str], row: Row[Any]) -> bool:
    """A stored title key within a typo or two of one of ``keys`` (character similarity, early exit)."""
    return any(fuzz.ratio(k, s, score_cutoff=NEAR_TITLE) for s in (row.match_key, row.alt_key) if s for k in keys)


def _same_position(record: TrackRecord, row: Row[Any]) -> bool:
    if record.track_number and row.track_number == record.track_number:
        return True
    if record.duration_ms and row.duration_ms:
        return bool(abs(row.duration_ms - record.duration_ms) <= SIBLING_DURATION_MS)
    return False


def _select_in(conn: Connection, kind: str, columns: Sequence[str], column: str, values: set[Any]) -> list[Row[Any]]:
    if not values:
        return []
    entity = table(kind)
    out: list[Row[Any]] = []
    for chunk in _chunks(sorted(values)):
        # IS NOT NULL changes nothing (IN never matches NULL) but lets the partial indexes serve
        where = (entity.c[column].in_(one_array(conn, chunk)), entity.c[column].is_not(None))
        out.extend(conn.execute(select(*(entity.c[c] for c in columns)).where(*where)))
    return out


def _index_paths(conn: Connection, batch: Sequence[Incoming], by: dict[str, dict[Any, list[str]]]) -> None:
    tails = sorted({inc.tail for inc in batch if inc.tail})
    if not tails:
        return
    link = table("link")
    for chunk in _chunks(tails):
        query = select(link.c.uuid, link.c.path_tail).where(
            link.c.kind == "track", link.c.path_tail.in_(one_array(conn, chunk)), link.c.path_tail.is_not(None)
        )
        for uuid, tail in conn.execute(query):
            by["path_tail"][tail].append(uuid)


def _index_guids(conn: Connection, kind: str, batch: Sequence[Incoming], by: dict[str, dict[Any, list[str]]]) -> None:
    """Entities another link (any server, also a gone one) knows by the same server metadata id."""
    guids = sorted({inc.item.guid for inc in batch if inc.item.guid})
    link = table("link")
    for chunk in _chunks(guids):
        query = select(link.c.uuid, link.c.guid).where(
            link.c.kind == kind, link.c.guid.in_(one_array(conn, chunk)), link.c.guid.is_not(None)
        )
        for uuid, guid in conn.execute(query):
            by["guid"][guid].append(uuid)


def _linked_here(conn: Connection, server_id: int, kind: str, uuids: set[str]) -> set[str]:
    """The UUIDs among ``uuids`` that already have a live link on ``server_id``.

    Filtered on the uuid alone (its index), the rest in Python: with the server and kind
    in the WHERE clause SQLite prefers the (server, kind, native id) index and scans every
    link of the server for each batch, which turns a million-track sync quadratic.
    """
    if not uuids:
        return set()
    link = table("link")
    taken: set[str] = set()
    for chunk in _chunks(sorted(uuids)):
        query = select(link.c.uuid, link.c.server_id, link.c.kind, link.c.gone_at).where(
            link.c.uuid.in_(one_array(conn, chunk))
        )
        taken.update(
            row.uuid for row in conn.execute(query)
            if row.server_id == server_id and row.kind == kind and row.gone_at is None
        )  # fmt: skip
    return taken

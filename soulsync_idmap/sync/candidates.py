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

from ..mapping.bulk import chunked, one_array
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

__all__ = [
    "STAGES",
    "Incoming",
    "Stage",
    "Tiers",
    "album_tracks",
    "artist_albums",
    "artistless_tracks",
    "find_candidates",
    "folded_artists",
    "key_matches",
    "near_albums",
    "positional_siblings",
    "same_parent",
    "strong_matches",
]

Record = ArtistRecord | AlbumRecord | TrackRecord
PER_KEY_CAP = 200
SIBLING_DURATION_MS = 3_000
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


def _rows_where(conn: Connection, kind: str, column: str, values: set[Any]) -> list[Row[Any]]:
    """Entity rows whose ``column`` is one of ``values``: the columns matching reads, no timestamps."""
    return _select_in(conn, kind, ROW_COLUMNS[kind], column, values)


Stage = Literal["strong", "parent", "keys"]
STAGES: tuple[Stage, ...] = ("strong", "parent", "keys")
Tiers = list[list[str]]  # candidate UUIDs, strongest evidence first


def find_candidates(
    conn: Connection, kind: str, server_id: int, batch: Sequence[Incoming], stage: Stage,
    released: Collection[str] = frozenset(),
) -> tuple[list[Tiers], dict[str, Row[Any]]]:  # fmt: skip
    """Per incoming item, candidate UUIDs in tiers (strongest evidence first); the rows by UUID.

    The writer asks stage by stage, each for the items the earlier ones left undecided,
    and scores tier by tier, stopping at the first sure match:

    - ``strong``: equal MusicBrainz id or ISRC, the same file (one tier, ``strong_matches``);
    - ``parent``: tracks of the resolved album (those at the same track number or with a
      shared key first), albums of the resolved artist (``same_parent``);
    - ``keys``: equal blocking keys (at most PER_KEY_CAP entities per key) and, for tracks,
      the positional siblings (one tier, ``key_matches``).

    Most items of a library another server already holds are decided by the first stage,
    so the album's other tracks are neither fetched nor scored for them.
    """
    rows: dict[str, Row[Any]] = {}
    per_item: list[Tiers]
    if stage == "strong":
        per_item = [[found] for found in strong_matches(conn, kind, batch)]
    elif stage == "parent":
        per_item = same_parent(conn, kind, batch, rows)
    else:
        per_item = [[found] for found in key_matches(conn, kind, batch)]
    return _unlinked(conn, kind, server_id, per_item, rows, released), rows


def _unlinked(
    conn: Connection, kind: str, server_id: int, per_item: list[Tiers], rows: dict[str, Row[Any]],
    released: Collection[str],
) -> list[Tiers]:  # fmt: skip
    """The tiers without the entities linked on ``server_id`` already (but for ``released`` ones, whose
    link there is disappearing in this run); the others' rows go into ``rows``.

    The rows are fetched once, here, for the candidates left (a stage that needed some
    rows to build its tiers put them in ``rows`` already).
    """
    candidates = {u for tiers in per_item for tier in tiers for u in tier}
    # linked here already (one server never holds the same entity twice), unless that link is disappearing
    taken = _linked_here(conn, server_id, candidates).difference(released)
    for row in _rows_where(conn, kind, "uuid", candidates - taken - rows.keys()):
        rows[row.uuid] = row
    return [[[u for u in tier if u not in taken and u in rows] for tier in tiers] for tiers in per_item]


def _union(*groups: Iterable[str] | None) -> list[str]:
    """The UUIDs of ``groups`` in order, each once."""
    return list(dict.fromkeys(u for group in groups if group for u in group))


def _isrc(inc: Incoming) -> str | None:
    isrc: str | None = getattr(inc.item, "isrc", None)
    return isrc


def strong_matches(conn: Connection, kind: str, batch: Sequence[Incoming]) -> list[list[str]]:
    """Per item, the entities with its MusicBrainz id or its server metadata id (guid) and, for a
    track, its ISRC or its file (path tail)."""
    by_mbid = _uuids_by(conn, kind, "mbid", {inc.item.mbid for inc in batch if inc.item.mbid})
    by_guid = _uuids_by_guid(conn, kind, {inc.item.guid for inc in batch if inc.item.guid})
    by_isrc: dict[Any, list[str]] = {}
    by_tail: dict[Any, list[str]] = {}
    if kind == "track":
        by_isrc = _uuids_by(conn, kind, "isrc", {isrc for inc in batch if (isrc := _isrc(inc))})
        by_tail = _uuids_by_path_tail(conn, {inc.tail for inc in batch if inc.tail})
    return [
        _union(by_mbid.get(inc.item.mbid), by_guid.get(inc.item.guid), by_isrc.get(_isrc(inc)), by_tail.get(inc.tail))
        for inc in batch
    ]


def same_parent(conn: Connection, kind: str, batch: Sequence[Incoming], rows: dict[str, Row[Any]]) -> list[Tiers]:
    """Per item, two tiers: for a track, ``album_tracks``; for an album, its artist's albums (second tier)."""
    if kind == "track":
        return album_tracks(conn, batch, rows)
    if kind == "album":
        return [[[], found] for found in artist_albums(conn, batch)]
    return [[[], []] for _ in batch]


def album_tracks(conn: Connection, batch: Sequence[Incoming], rows: dict[str, Row[Any]]) -> list[Tiers]:
    """Per track, the tracks of its resolved album: those at its number or sharing a key, then the rest.

    The rows are needed to tell the two apart; they go into ``rows`` (by UUID).
    """
    by_album: dict[str, list[str]] = defaultdict(list)
    for row in _rows_where(
        conn, "track", "album_uuid", {album for inc in batch if (album := inc.parents.get("album"))}
    ):
        rows[row.uuid] = row
        by_album[row.album_uuid].append(row.uuid)
    tiers: list[Tiers] = []
    for inc in batch:
        number, keys = getattr(inc.item, "track_number", None), set(inc.keys)
        close: list[str] = []
        rest: list[str] = []
        for u in _same_album(inc, by_album.get(inc.parents.get("album") or "", []), rows):
            (close if _placed(number, keys, rows[u]) else rest).append(u)
        tiers.append([close, rest])
    return tiers


def artist_albums(conn: Connection, batch: Sequence[Incoming]) -> list[list[str]]:
    """Per album, the albums of its resolved artist."""
    artists = {artist for inc in batch if (artist := inc.parents.get("artist"))}
    by_artist = _uuids_by(conn, "album", "artist_uuid", artists)
    return [list(by_artist.get(inc.parents.get("artist") or "", [])) for inc in batch]


def key_matches(conn: Connection, kind: str, batch: Sequence[Incoming]) -> list[list[str]]:
    """Per item, the entities sharing a blocking key (PER_KEY_CAP per key), then a track's positional siblings."""
    keys = {key for inc in batch for key in inc.keys}
    by_key = _uuids_by(conn, kind, "match_key", keys, PER_KEY_CAP)
    by_alt = _uuids_by(conn, kind, "alt_key", keys, PER_KEY_CAP)
    siblings = positional_siblings(conn, batch) if kind == "track" else [[] for _ in batch]
    return [
        _union(*(found for key in inc.keys for found in (by_key.get(key), by_alt.get(key))), near)
        for inc, near in zip(batch, siblings, strict=True)
    ]


def _placed(number: int | None, keys: set[str], row: Row[Any]) -> bool:
    """A stored track at ``number`` on its album, or with one of ``keys``."""
    return (number is not None and row.track_number == number) or row.match_key in keys or row.alt_key in keys


def _same_album(inc: Incoming, uuids: list[str], rows: dict[str, Row[Any]]) -> list[str]:
    """Tracks of the same album; on a huge album (a box set), only those sharing a number or a key.

    Scoring every track of a 2,000-track compilation against every other would be
    quadratic; the position on the album or the title key finds the right one.
    """
    if len(uuids) <= PER_KEY_CAP:
        return uuids
    number, keys = getattr(inc.item, "track_number", None), set(inc.keys)
    return [u for u in uuids if _placed(number, keys, rows[u])][:PER_KEY_CAP]


# What the positional search reads of a stored track.
SIBLING_COLUMNS = ("uuid", "artist_uuid", "album_uuid", "track_number", "duration_ms", "match_key", "alt_key")


def positional_siblings(conn: Connection, batch: Sequence[Incoming]) -> list[list[str]]:
    """Per track, stored tracks by the same artist or on an album of the same name, at its position.

    What a typo in the title hides from the name keys ("Pruple Sky", "Denil"), and what an
    album whose artist one server leaves out hides from the album tier, is still found by
    where the track sits: the same track number, or the same duration (within
    SIBLING_DURATION_MS), under the resolved artist or under an album with the same
    normalised title. Scoring then decides; a typo'd title with everything else equal is
    a sure match, a different title at the same position is not.

    Also searched, for the same reasons: a track with no album under the album its title
    names ("Title - Album", "Title (Album)"); albums whose key begins like the track's
    album key and is near-equal to it (``near_albums``); and, for a track with an artist,
    stored "Artist - Title" tracks that carry no artist of their own (``artistless_tracks``).
    On the albums found by name, a track whose title key is within a typo of the item's
    (NEAR_TITLE) is taken at any position: an edition numbered otherwise.
    """
    shelves = _shelves(conn, batch)
    artist_of = {id(inc): artist for inc in batch if (artist := inc.parents.get("artist"))}
    artist_of.update(folded_artists(conn, [inc for inc in batch if id(inc) not in artist_of]))
    by_artist = _tracks_by(conn, "artist_uuid", set(artist_of.values()))
    by_album = _tracks_by(conn, "album_uuid", {u for albums in shelves for u in albums})
    named = {id(inc): name for inc in batch if (name := _artist_folded(inc))}
    artistless = artistless_tracks(conn, set(named.values()), SIBLING_COLUMNS)
    found: list[list[str]] = []
    for inc, albums in zip(batch, shelves, strict=True):
        pool = [*by_artist.get(artist_of.get(id(inc), ""), []), *artistless.get(named.get(id(inc), ""), [])]
        shelf = [row for album in albums for row in by_album.get(album, [])]
        found.append(_siblings(inc, pool, shelf))
    return found


def _siblings(inc: Incoming, pool: Sequence[Row[Any]], shelf: Sequence[Row[Any]]) -> list[str]:
    """Of ``pool``, the tracks at the item's position; of ``shelf`` (albums found by name), also near titles."""
    record = inc.record
    assert isinstance(record, TrackRecord)
    picked = [row.uuid for row in pool if _same_position(record, row)]
    # On an album of the same name, a near-equal title is enough: a typo and another numbering.
    picked += [row.uuid for row in shelf if _same_position(record, row) or _near_title(inc.keys, row)]
    return list(dict.fromkeys(picked))[:PER_KEY_CAP]


def album_name_keys(record: TrackRecord) -> list[str]:
    """The keys of the albums a track may be on: its album's, or (with no album) those its title names."""
    names = [record.album] if record.album else title_suffixes(record.title)
    return [k for k in dict.fromkeys(album_keys(AlbumRecord(n))[0] for n in names) if k != "?"]


def _shelves(conn: Connection, batch: Sequence[Incoming]) -> list[list[str]]:
    """Per track, the albums of the names it may be on: those with the key, then those near it."""
    wanted: list[list[str]] = []
    for inc in batch:
        assert isinstance(inc.record, TrackRecord)
        wanted.append(album_name_keys(inc.record))
    keys = {key for item_keys in wanted for key in item_keys}
    exact = _uuids_by(conn, "album", "match_key", keys, PER_KEY_CAP)
    # A typo past the first characters hides an album from its key, not from its key's prefix.
    near = near_albums(conn, keys)
    return [[u for table_ in (exact, near) for key in item_keys for u in table_.get(key, [])] for item_keys in wanted]


def _artist_folded(inc: Incoming) -> str | None:
    """A track's folded artist name (three characters or more), for "Artist - Title" tracks with no artist."""
    record = inc.record
    if isinstance(record, TrackRecord) and record.artist and len(name := fold(record.artist)) >= 3:
        return name
    return None


def _tracks_by(conn: Connection, column: str, values: set[str]) -> dict[str, list[Row[Any]]]:
    """Stored tracks (SIBLING_COLUMNS) whose ``column`` is one of ``values``, by that value."""
    found: dict[str, list[Row[Any]]] = defaultdict(list)
    for row in _select_in(conn, "track", SIBLING_COLUMNS, column, values):
        found[getattr(row, column)].append(row)
    return found


def near_albums(conn: Connection, keys: set[str]) -> dict[str, list[str]]:
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
    for prefixes in chunked(ordered, _PREFIX_CHUNK):
        ranges = [and_(album.c.match_key >= p, album.c.match_key < p + "\uffff") for p in prefixes]
        for uuid, stored in conn.execute(select(album.c.uuid, album.c.match_key).where(or_(*ranges))):
            for key in wanted.get(stored[:ALBUM_PREFIX], ()):
                if key != stored and len(found[key]) < PER_KEY_CAP and text_similarity(key, stored) >= NEAR_ALBUM:
                    found[key].append(uuid)
    return found


def artistless_tracks(conn: Connection, names: set[str], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Stored tracks with no artist whose title reads "Artist - Title", by the folded artist name.

    Such a track's second key is its whole folded title, so the name is a prefix of it: one
    range per name on the key's index.
    """
    if not names:
        return {}
    track = table("track")
    found: dict[str, list[Any]] = defaultdict(list)
    ordered = sorted(names)
    for chunk in chunked(ordered, _PREFIX_CHUNK):
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


def folded_artists(conn: Connection, batch: Sequence[Incoming]) -> dict[int, str]:
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
    for chunk in chunked(sorted(values)):
        # IS NOT NULL changes nothing (IN never matches NULL) but lets the partial indexes serve
        where = (entity.c[column].in_(one_array(conn, chunk)), entity.c[column].is_not(None))
        out.extend(conn.execute(select(*(entity.c[c] for c in columns)).where(*where)))
    return out


def _uuids_by(
    conn: Connection, kind: str, column: str, values: set[Any], cap: int | None = None
) -> dict[Any, list[str]]:
    """Entity UUIDs whose ``column`` is one of ``values``, by value (at most ``cap`` per value)."""
    found: dict[Any, list[str]] = defaultdict(list)
    for row in _select_in(conn, kind, ("uuid", column), column, values):
        bucket = found[getattr(row, column)]
        if cap is None or len(bucket) < cap:
            bucket.append(row.uuid)
    return found


def _uuids_by_path_tail(conn: Connection, tails: set[str]) -> dict[str, list[str]]:
    """Track UUIDs linked (on any server) to a file with one of these path tails, by tail."""
    link = table("link")
    found: dict[str, list[str]] = defaultdict(list)
    for chunk in chunked(sorted(tails)):
        query = select(link.c.uuid, link.c.path_tail).where(
            link.c.kind == "track", link.c.path_tail.in_(one_array(conn, chunk)), link.c.path_tail.is_not(None)
        )
        for uuid, tail in conn.execute(query):
            found[tail].append(uuid)
    return found


def _uuids_by_guid(conn: Connection, kind: str, guids: set[str]) -> dict[Any, list[str]]:
    """Entities another link (any server, also a gone one) knows by the same server metadata id."""
    link = table("link")
    found: dict[Any, list[str]] = defaultdict(list)
    for chunk in chunked(sorted(guids)):
        query = select(link.c.uuid, link.c.guid).where(
            link.c.kind == kind, link.c.guid.in_(one_array(conn, chunk)), link.c.guid.is_not(None)
        )
        for uuid, guid in conn.execute(query):
            found[guid].append(uuid)
    return found


def _linked_here(conn: Connection, server_id: int, uuids: set[str]) -> set[str]:
    """The UUIDs among ``uuids`` that already have a live link on ``server_id``.

    Answered by ix_link_uuid_server alone (uuid, server, tombstone: all in the index), and
    only the links found are fetched, mostly none. The kind is left out: a UUID names an
    entity of one kind, so all its links are of that kind, and with the kind in the WHERE
    clause SQLite prefers the (server, kind, native id) index and scans every link of the
    server for each batch, which turns a million-track sync quadratic.
    """
    if not uuids:
        return set()
    link = table("link")
    taken: set[str] = set()
    for chunk in chunked(sorted(uuids)):
        query = select(link.c.uuid).where(
            link.c.uuid.in_(one_array(conn, chunk)), link.c.server_id == server_id, link.c.gone_at.is_(None)
        )
        taken.update(conn.execute(query).scalars())
    return taken

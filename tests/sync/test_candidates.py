"""Candidate search, stage by stage, on a library one server already put in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from soulsync_idmap.mapping.store import Store, table
from soulsync_idmap.matching import AlbumRecord, ArtistRecord, TrackRecord, album_keys, artist_keys, track_keys
from soulsync_idmap.servers.base import ServerAlbum, ServerArtist, ServerTrack
from soulsync_idmap.sync.candidates import (
    Incoming,
    album_tracks,
    artistless_tracks,
    find_candidates,
    folded_artists,
    key_matches,
    near_albums,
    positional_siblings,
    same_parent,
    strong_matches,
)
from tests.conftest import Invoke, write_jsonl

AIRBAG_MBID = "6b9a509f-6907-4a6e-9345-2f12da09ba4b"
RADIOHEAD_MBID = "a74b1b7f-71a5-4011-9441-d0b5e4122711"
LIBRARY: list[dict[str, Any]] = [
    {"kind": "artist", "id": "ar1", "name": "Radiohead", "mbid": RADIOHEAD_MBID},
    {"kind": "artist", "id": "ar2", "name": "Portishead"},
    {"kind": "artist", "id": "ar3", "name": "Hazel Lane"},
    {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1", "year": 1997},
    {"kind": "album", "id": "al2", "name": "Dummy", "artist_id": "ar2", "year": 1994},
    {"kind": "album", "id": "al3", "name": "Caledonia Cathedral", "artist_id": "ar3"},
    {"kind": "album", "id": "al4", "name": "Caledonian Railways"},  # begins alike, another name
    {"kind": "track", "id": "t1", "name": "Airbag", "artist_id": "ar1", "album_id": "al1", "track_number": 1,
     "duration_ms": 284_000, "mbid": AIRBAG_MBID, "path": "/music/Radiohead/OK Computer/01 Airbag.flac"},
    {"kind": "track", "id": "t2", "name": "Paranoid Android", "artist_id": "ar1", "album_id": "al1",
     "track_number": 2, "duration_ms": 383_000, "isrc": "GBAYE9700165",
     "path": "/music/Radiohead/OK Computer/02 Paranoid Android.flac"},
    {"kind": "track", "id": "t3", "name": "Karma Police", "artist_id": "ar1", "album_id": "al1", "track_number": 6,
     "duration_ms": 264_000},
    {"kind": "track", "id": "t4", "name": "Mysterons", "artist_id": "ar2", "album_id": "al2", "track_number": 1,
     "duration_ms": 306_000},
    {"kind": "track", "id": "t5", "name": "Portishead - Sour Times", "duration_ms": 252_000},  # no artist tag
    {"kind": "track", "id": "t6", "name": "Lantern Song", "artist_id": "ar3", "album_id": "al3", "track_number": 3,
     "duration_ms": 200_000},
    {"kind": "track", "id": "t7", "name": "Wave of Mutilation", "artist_id": "ar3", "album_id": "al3",
     "track_number": 14},
]  # fmt: skip


@pytest.fixture
def plex(idmap: Invoke, store: Store, tmp_path: Path) -> dict[str, str]:
    """LIBRARY synced as server "plex"; its UUIDs by native id."""
    snap = write_jsonl(tmp_path / "plex.jsonl", LIBRARY)
    assert idmap("servers", "add", "snapshot", "plex", "--url", str(snap)).exit_code == 0
    result = idmap("sync", "plex")
    assert result.exit_code == 0, result.output
    link = table("link")
    with store.engine.connect() as conn:
        return {native: uuid for native, uuid in conn.execute(select(link.c.native_id, link.c.uuid))}


@pytest.fixture
def conn(store: Store) -> Iterator[Connection]:
    with store.engine.connect() as connection:
        yield connection


OTHER_SERVER = 10_000  # a server that holds none of them


def track(
    title: str, *, parents: dict[str, str | None] | None = None, tail: str | None = None, **fields: Any
) -> Incoming:
    """A track another server brings, as the engine hands it to the search."""
    item = ServerTrack("x", title, **fields)
    record = TrackRecord(
        title, item.artist_name, item.album_title, item.duration_ms, item.year, item.track_number,
        mbid=item.mbid, isrc=item.isrc,
    )  # fmt: skip
    return Incoming(item, record, track_keys(record), None, tail, parents or {})


def album(title: str, artist_uuid: str | None = None) -> Incoming:
    record = AlbumRecord(title)
    return Incoming(ServerAlbum("x", title), record, album_keys(record), None, None, {"artist": artist_uuid})


def artist(name: str, mbid: str | None = None) -> Incoming:
    record = ArtistRecord(name, mbid=mbid)
    return Incoming(ServerArtist("x", name, mbid=mbid), record, artist_keys(record), None, None, {})


def test_strong_matches_are_equal_ids_and_the_same_file(plex: dict[str, str], conn: Connection) -> None:
    batch = [
        track("Airbag (2017 Remaster)", mbid=AIRBAG_MBID),
        track("Paranoid Android", isrc="GBAYE9700165"),
        # another mount, same last three components (what the link's path tail holds)
        track("02 - Paranoid Android", tail="radiohead/ok computer/02 paranoid android.flac"),
        track("Karma Police", artist_name="Radiohead", track_number=6),  # nothing strong
    ]
    assert strong_matches(conn, "track", batch) == [[plex["t1"]], [plex["t2"]], [plex["t2"]], []]
    assert strong_matches(conn, "artist", [artist("R.H.", RADIOHEAD_MBID), artist("Portishead")]) == [
        [plex["ar1"]],
        [],
    ]


def test_album_tracks_put_the_same_number_or_title_first(plex: dict[str, str], conn: Connection) -> None:
    rows: dict[str, Any] = {}
    batch = [
        track("Karma Police (Live)", track_number=6, parents={"album": plex["al1"]}),
        track("Paranoid Android", parents={"album": plex["al1"]}),  # no number: the key
        track("Karma Police", track_number=6),  # no resolved album
    ]
    tiers = album_tracks(conn, batch, rows)
    assert tiers[0][0] == [plex["t3"]] and set(tiers[0][1]) == {plex["t1"], plex["t2"]}
    assert tiers[1][0] == [plex["t2"]] and set(tiers[1][1]) == {plex["t1"], plex["t3"]}
    assert tiers[2] == [[], []]
    assert set(rows) == {plex["t1"], plex["t2"], plex["t3"]}  # what told them apart
    assert rows[plex["t3"]].title == "Karma Police"


def test_on_a_box_set_only_the_tracks_at_the_same_place_are_candidates(
    idmap: Invoke, store: Store, tmp_path: Path
) -> None:
    box = [{"kind": "album", "id": "box", "name": "The Complete Recordings"}]
    box += [{"kind": "track", "id": f"b{n}", "name": f"Piece {n:03d}", "album_id": "box", "track_number": n}
            for n in range(1, 251)]  # fmt: skip
    snap = write_jsonl(tmp_path / "box.jsonl", box)
    assert idmap("servers", "add", "snapshot", "plex", "--url", str(snap)).exit_code == 0
    assert idmap("sync", "plex").exit_code == 0
    with store.engine.connect() as conn:
        box_uuid = conn.execute(select(table("album").c.uuid)).scalar_one()
        tiers = album_tracks(conn, [track("Peace 007", track_number=7, parents={"album": box_uuid})], {})
        titles = dict(conn.execute(select(table("track").c.uuid, table("track").c.title)).all())
    assert [titles[u] for u in tiers[0][0]] == ["Piece 007"] and tiers[0][1] == []


def test_same_parent_gives_an_albums_artist_albums_and_nothing_for_artists(
    plex: dict[str, str], conn: Connection
) -> None:
    rows: dict[str, Any] = {}
    assert same_parent(conn, "album", [album("OK Computer (Deluxe)", plex["ar1"]), album("Dummy")], rows) == [
        [[], [plex["al1"]]],
        [[], []],
    ]
    assert same_parent(conn, "artist", [artist("Radiohead")], rows) == [[[], []]]


def test_key_matches_are_equal_blocking_keys(plex: dict[str, str], conn: Connection) -> None:
    # "Paranoid Android (Live)" keys on its base title; "The Radiohead" on the name without "The"
    assert key_matches(conn, "track", [track("Paranoid Android (Live)", duration_ms=1_000)]) == [[plex["t2"]]]
    assert key_matches(conn, "artist", [artist("The Radiohead"), artist("Massive Attack")]) == [[plex["ar1"]], []]
    assert key_matches(conn, "album", [album("Dummy (Remastered)")]) == [[plex["al2"]]]


def test_positional_siblings_find_a_typo_at_the_same_place(plex: dict[str, str], conn: Connection) -> None:
    batch = [
        # typo'd title under the resolved artist: the same number, or a duration within 3 s
        track("Karma Polise", track_number=6, parents={"artist": plex["ar1"]}),
        track("Karma Polise", duration_ms=265_500, parents={"artist": plex["ar1"]}),
        # no artist resolved, but the album's name: the same place on it
        track("Mysteron", album_title="Dummy", track_number=1),
        # the album typo'd past its first six characters, and the title too
        track("Lantern Sung", album_title="Caledonia Catheidral", track_number=3),
        # the same album by name, numbered otherwise, no duration: a near title is enough
        track("Wave of Mutilaton", album_title="Caledonia Cathedral", track_number=3),
        # nothing at that place
        track("Karma Polise", track_number=9, duration_ms=100_000, parents={"artist": plex["ar1"]}),
    ]
    found = positional_siblings(conn, batch)
    assert found[:4] == [[plex["t3"]], [plex["t3"]], [plex["t4"]], [plex["t6"]]]
    assert set(found[4]) == {plex["t6"], plex["t7"]}
    assert found[5] == []


def test_positional_siblings_read_artist_and_album_from_the_title(plex: dict[str, str], conn: Connection) -> None:
    batch = [
        # no artist tag: "Artist - Title" names the artist entity
        track("Radiohead - Karma Polise", track_number=6),
        # an artist tag, against a stored "Artist - Title" with none (same length)
        track("Sour Tymes", artist_name="Portishead", duration_ms=251_000),
        # no album tag: the album its title names, at the same number
        track("Lantern Sung - Caledonia Cathedral", track_number=3),
    ]
    assert positional_siblings(conn, batch) == [[plex["t3"]], [plex["t5"]], [plex["t6"]]]


def test_near_albums_begin_alike_and_are_near_equal(plex: dict[str, str], conn: Connection) -> None:
    found = near_albums(conn, {"caledonia catheidral", "caledonia", "dummy"})
    # "caledonian railways" begins alike but is near neither; "dummy" is too short for a prefix range
    assert {key: uuids for key, uuids in found.items() if uuids} == {"caledonia catheidral": [plex["al3"]]}


def test_folded_artists_and_artistless_tracks(plex: dict[str, str], conn: Connection) -> None:
    batch = [track("Radiohead - Airbag"), track("Nobody Known - Airbag"), track("Airbag", artist_name="Radiohead")]
    assert folded_artists(conn, batch) == {id(batch[0]): plex["ar1"]}
    found = artistless_tracks(conn, {"portishead", "radiohead"}, ("uuid", "artist_uuid", "title"))
    assert {name: [row.uuid for row in rows] for name, rows in found.items()} == {"portishead": [plex["t5"]]}


def test_find_candidates_leaves_out_what_the_syncing_server_holds(
    plex: dict[str, str], conn: Connection, store: Store
) -> None:
    batch = [track("Airbag", mbid=AIRBAG_MBID), track("Karma Police", artist_name="Radiohead", track_number=6)]
    tiers, rows = find_candidates(conn, "track", OTHER_SERVER, batch, "strong")
    assert tiers == [[[plex["t1"]]], [[]]]
    assert rows[plex["t1"]].title == "Airbag"
    server_id = store.server("plex").id
    assert server_id is not None
    assert find_candidates(conn, "track", server_id, batch, "strong")[0] == [[[]], [[]]]
    # the parent stage gives two tiers, the key stage one
    parent, _ = find_candidates(
        conn, "track", OTHER_SERVER, [track("Airbag", parents={"album": plex["al1"]})], "parent"
    )
    assert parent[0][0] == [plex["t1"]] and set(parent[0][1]) == {plex["t2"], plex["t3"]}
    keys, _ = find_candidates(conn, "track", OTHER_SERVER, [track("Karma Police (Remix)")], "keys")
    assert keys == [[[plex["t3"]]]]

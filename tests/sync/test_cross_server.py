"""Two servers, one library: the twin generator's noisy second view merges into one dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from soulsync_idmap import IdMap
from soulsync_idmap.config import Config
from soulsync_idmap.mapping.merge import merge
from soulsync_idmap.mapping.store import Store, table
from soulsync_idmap.sync import SyncOptions, sync_server
from tests.conftest import Invoke, write_jsonl
from tests.support.gen_library import generate
from tests.support.twin import _other_id, make_twin


def test_noisy_twin_merges_into_the_same_uuids(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    base, twin = tmp_path / "base.jsonl", tmp_path / "twin.jsonl"
    generate(base, tracks=3000, albums=300, artists=80, seed=11)
    make_twin(base, twin, seed=12)
    assert idmap("servers", "add", "snapshot", "plex", "--url", str(base)).exit_code == 0
    assert idmap("servers", "add", "snapshot", "jelly", "--url", str(twin)).exit_code == 0
    first = json.loads(idmap("sync", "plex", "--json").output)[0]
    second = json.loads(idmap("sync", "jelly", "--json").output)[0]
    assert first["new"] == 3380
    with IdMap.open(db_url) as api:
        right = wrong = unmatched = 0
        for t in range(3000):
            mine = api.lookup("plex", f"t{t}")
            theirs = api.lookup("jelly", _other_id("track", f"t{t}"))
            assert mine and theirs
            if mine == theirs:
                right += 1
            else:
                unmatched += 1
        for a in range(80):
            assert api.lookup("plex", f"ar{a}") == api.lookup("jelly", _other_id("artist", f"ar{a}"))
        # A wrong merge would put one twin track on another track's UUID.
        uuids = [api.lookup("jelly", _other_id("track", f"t{t}")) for t in range(3000)]
        wrong = len(uuids) - len(set(uuids))
    assert wrong == 0
    assert right / 3000 >= 0.97, (right, unmatched, second)
    assert second["merged"] + second["new"] == 3380


def _sync_both(idmap: Invoke, plex: str, jelly: str, db_url: str) -> Callable[[str, str], bool]:
    """Add the two snapshot servers and sync them in that order; returns ``same(jelly id, plex id)``."""
    for name, url in (("plex", plex), ("jelly", jelly)):
        assert idmap("servers", "add", "snapshot", name, "--url", url).exit_code == 0
    for name in ("plex", "jelly"):
        result = idmap("sync", name)
        assert result.exit_code == 0, result.output

    def same(jelly_id: str, plex_id: str) -> bool:
        with IdMap.open(db_url) as api:
            return api.lookup("jelly", jelly_id) == api.lookup("plex", plex_id)

    return same


def _snapshot(path: Path, objects: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return str(path)


def test_a_typo_in_the_title_is_found_by_position(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    """No name key is shared; the same artist, or an album of the same name, at the same position is."""
    plex = _snapshot(tmp_path / "plex.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Curve"},
        {"kind": "album", "id": "al1", "name": "Cherry", "artist_id": "ar1", "year": 1991},
        {"kind": "track", "id": "t1", "name": "Clipped", "artist_id": "ar1", "album_id": "al1",
         "track_number": 1, "duration_ms": 255_293},
        {"kind": "track", "id": "t2", "name": "Horror Head", "artist_id": "ar1", "album_id": "al1",
         "track_number": 2, "duration_ms": 242_000},
        {"kind": "track", "id": "t3", "name": "Die Like a Dog", "artist_id": "ar1", "album_id": "al1",
         "track_number": 3, "duration_ms": 201_000},
    ])  # fmt: skip
    jelly = _snapshot(tmp_path / "jelly.jsonl", [
        {"kind": "artist", "id": "A", "name": "Curve"},
        # The artist's track with no album, its title mistyped.
        {"kind": "track", "id": "T1", "name": "Cilpped", "artist_id": "A", "track_number": 1,
         "duration_ms": 255_000},
        # An album this server files under no artist; the title mistyped again.
        {"kind": "album", "id": "L", "name": "Cherry"},
        {"kind": "track", "id": "T2", "name": "Horor Head", "album_id": "L", "track_number": 2,
         "duration_ms": 242_500},
        # Same position, another song: never merged.
        {"kind": "track", "id": "T3", "name": "Fait Accompli", "artist_id": "A", "album_id": "L",
         "track_number": 3, "duration_ms": 201_000},
    ])  # fmt: skip
    same = _sync_both(idmap, plex, jelly, db_url)
    assert same("T1", "t1")
    assert same("T2", "t2")
    assert not same("T3", "t3")


def test_an_artist_folded_into_the_title_leads_to_that_artists_tracks(
    idmap: Invoke, tmp_path: Path, db_url: str
) -> None:
    plex = _snapshot(tmp_path / "plex.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Curve"},
        {"kind": "album", "id": "al1", "name": "Cherry", "artist_id": "ar1"},
        {"kind": "track", "id": "t1", "name": "Clipped", "artist_id": "ar1", "album_id": "al1",
         "track_number": 1, "duration_ms": 255_293},
        {"kind": "track", "id": "t2", "name": "Horror Head", "artist_id": "ar1", "album_id": "al1",
         "track_number": 2, "duration_ms": 242_000},
    ])  # fmt: skip
    jelly = _snapshot(tmp_path / "jelly.jsonl", [
        # No artist, no album: only "Artist - Title", with a typo in the title.
        {"kind": "track", "id": "T1", "name": "Curve - Cilpped", "duration_ms": 255_000},
        {"kind": "track", "id": "T2", "name": "Curve - Fait Accompli", "duration_ms": 242_400},
    ])  # fmt: skip
    same = _sync_both(idmap, plex, jelly, db_url)
    assert same("T1", "t1")
    assert not same("T2", "t2")


def test_an_album_named_in_the_title_leads_to_that_albums_tracks(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    plex = _snapshot(tmp_path / "plex.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Cocteau Twins"},
        {"kind": "album", "id": "al1", "name": "Heaven or Las Vegas", "artist_id": "ar1"},
        {"kind": "track", "id": "t1", "name": "Cherry-Coloured Funk", "artist_id": "ar1", "album_id": "al1",
         "track_number": 1, "duration_ms": 192_000},
        {"kind": "track", "id": "t2", "name": "Pitch the Baby", "artist_id": "ar1", "album_id": "al1",
         "track_number": 2, "duration_ms": 195_000},
    ])  # fmt: skip
    jelly = _snapshot(tmp_path / "jelly.jsonl", [
        # The artist mistyped (another artist entity), no album: "Title - Album", the title spelt otherwise.
        {"kind": "artist", "id": "A", "name": "Cocteau Twns"},
        {"kind": "track", "id": "T1", "name": "Cherry-Colored Funk - Heaven or Las Vegas", "artist_id": "A",
         "track_number": 1, "duration_ms": 192_400},
        {"kind": "track", "id": "T2", "name": "Iceblink Luck (Heaven or Las Vegas)", "artist_id": "A",
         "track_number": 2, "duration_ms": 195_000},
    ])  # fmt: skip
    same = _sync_both(idmap, plex, jelly, db_url)
    assert same("T1", "t1")
    assert not same("T2", "t2")


def test_stored_artist_title_tracks_are_found_from_the_artist(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    """The first server has no artists, only "Artist - Title"; the second names the artist."""
    plex = _snapshot(tmp_path / "plex.jsonl", [
        {"kind": "album", "id": "al1", "name": "Blue Lines"},
        {"kind": "track", "id": "t1", "name": "Massive Attack - Safe from Harm", "album_id": "al1",
         "track_number": 1, "duration_ms": 318_000},
        {"kind": "track", "id": "t2", "name": "Massive Attack - One Love", "album_id": "al1",
         "track_number": 2, "duration_ms": 288_000},
    ])  # fmt: skip
    jelly = _snapshot(tmp_path / "jelly.jsonl", [
        {"kind": "artist", "id": "A", "name": "Massive Attack"},
        {"kind": "track", "id": "T1", "name": "Safe From Harrm", "artist_id": "A", "track_number": 1,
         "duration_ms": 318_400},
        {"kind": "track", "id": "T2", "name": "Daydreaming", "artist_id": "A", "track_number": 2,
         "duration_ms": 288_000},
    ])  # fmt: skip
    same = _sync_both(idmap, plex, jelly, db_url)
    assert same("T1", "t1")
    assert not same("T2", "t2")


def test_a_typo_in_every_name_is_found_by_the_album_keys_prefix(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    plex = _snapshot(tmp_path / "plex.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Alasdair Fraser"},
        {"kind": "album", "id": "al1", "name": "The Driven Bow", "artist_id": "ar1"},
        {"kind": "track", "id": "t1", "name": "Bonnie Lass of Bon Accord", "artist_id": "ar1", "album_id": "al1",
         "track_number": 3, "duration_ms": 250_000},
    ])  # fmt: skip
    jelly = _snapshot(tmp_path / "jelly.jsonl", [
        {"kind": "artist", "id": "A", "name": "Alasdiar Fraser"},
        {"kind": "album", "id": "L", "name": "The Drivn Bow", "artist_id": "A"},
        {"kind": "track", "id": "T1", "name": "Bonnie Lass o Bon Accord", "artist_id": "A", "album_id": "L",
         "track_number": 3, "duration_ms": 250_000},
    ])  # fmt: skip
    same = _sync_both(idmap, plex, jelly, db_url)
    assert same("T1", "t1")


def test_a_typo_and_another_numbering_are_found_on_an_album_of_the_same_name(
    idmap: Invoke, tmp_path: Path, db_url: str
) -> None:
    """Neither the name keys nor the position help; the album's name and a near-equal title do."""
    plex = _snapshot(tmp_path / "plex.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Pixies"},
        {"kind": "album", "id": "al1", "name": "Doolittle", "artist_id": "ar1", "year": 1989},
        {"kind": "track", "id": "t1", "name": "Debaser", "artist_id": "ar1", "album_id": "al1",
         "track_number": 1, "duration_ms": 172_000},
        {"kind": "track", "id": "t2", "name": "Wave of Mutilation", "artist_id": "ar1", "album_id": "al1",
         "track_number": 3, "duration_ms": 124_000},
    ])  # fmt: skip
    jelly = _snapshot(tmp_path / "jelly.jsonl", [
        # The album filed under no artist, numbered through a two-disc edition, no durations.
        {"kind": "album", "id": "L", "name": "Doolittle", "year": 1989},
        {"kind": "track", "id": "T2", "name": "Wave of Mutilaton", "album_id": "L", "track_number": 14},
        # Another song of that edition: never merged.
        {"kind": "track", "id": "T9", "name": "Into the White", "album_id": "L", "track_number": 15},
    ])  # fmt: skip
    same = _sync_both(idmap, plex, jelly, db_url)
    assert same("T2", "t2")
    assert not same("T9", "t1") and not same("T9", "t2")


def test_one_server_never_holds_an_entity_twice_across_batches_of_its_first_sync(store: Store, tmp_path: Path) -> None:
    # The same recording twice on the second server, in two batches: one merges, the other may not.
    song = {"kind": "track", "name": "Airbag", "mbid": "0b0e0f0a-1111-4222-8333-944455556666", "duration_ms": 284000}
    first = write_jsonl(tmp_path / "a.jsonl", [{**song, "id": "a1"}])
    copies = [{**song, "id": "b1"}, *({"kind": "track", "id": f"x{i}", "name": f"Other {i}"} for i in range(5))]
    second = write_jsonl(tmp_path / "b.jsonl", [*copies, {**song, "id": "b2"}])
    store.add_server("a", "snapshot", str(first), {})
    store.add_server("b", "snapshot", str(second), {})
    config = Config(tmp_path / "c.json")
    sync_server(store, "a", config, SyncOptions(batch_size=3))
    result = sync_server(store, "b", config, SyncOptions(batch_size=3))
    assert result.counts.merged == 1
    with IdMap.open(store.url) as api:
        assert api.lookup("b", "b1") == api.lookup("a", "a1")
        assert api.lookup("b", "b2") not in (None, api.lookup("a", "a1"))


def test_a_merge_made_while_a_sync_runs_is_seen_by_its_next_batches(store: Store, tmp_path: Path) -> None:
    # The run keeps its parents' UUIDs; a merge (from idmap serve, between two batches) moves
    # an album's link to the survivor, and the tracks written after it must name the survivor.
    tracks = [{"kind": "track", "id": f"t{i}", "name": f"Song {i}", "album_id": "al1", "artist_id": "ar1",
               "track_number": i} for i in range(1, 7)]  # fmt: skip
    library = write_jsonl(tmp_path / "home.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Radiohead"},
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1"},
        {"kind": "album", "id": "al2", "name": "Kid A", "artist_id": "ar1"},
        *tracks,
    ])  # fmt: skip
    store.add_server("home", "snapshot", str(library), {})
    merged: list[str] = []

    def merge_after_the_first_tracks(server: str, phase: str, done: int, total: int | None = None) -> None:
        if phase == "tracks" and not merged:
            with IdMap.open(store.url) as api:
                ok, kid_a = api.lookup("home", "al1", kind="album"), api.lookup("home", "al2", kind="album")
            assert ok is not None and kid_a is not None
            merge(store, ok, kid_a, keep=kid_a)
            merged.append(kid_a)

    sync_server(store, "home", Config(tmp_path / "c.json"), SyncOptions(batch_size=2), merge_after_the_first_tracks)
    track = table("track")
    with store.engine.connect() as conn:
        albums = set(conn.execute(select(track.c.album_uuid)).scalars())
    assert merged and albums == {merged[0]}

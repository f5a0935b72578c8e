"""Bad items never stop a listing: every adapter repairs or skips them, one policy for all.

Real sockets: the fake Jellyfin, Plex and Subsonic servers serve libraries in which some
items were rewritten on the wire (``tamper``) the way broken tags and broken servers
send them: no name, no id, NUL characters, one id twice, a parent that is not there,
absurd numbers, unreadable dates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap.config import Config
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers.base import ServerConfig, ServerTrack, Skipped
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.plex import PlexServer
from soulsync_idmap.servers.retry import RetryPolicy
from soulsync_idmap.servers.subsonic import SubsonicServer
from soulsync_idmap.sync import SyncOptions, SyncResult, sync_server
from soulsync_idmap.sync.adapters import server_config
from tests.support.fake_subsonic import FakeSubsonic
from tests.support.gen_library import generate

TOKEN = "bad1tem5" * 4
NO_WAIT = RetryPolicy(sleep=lambda _: None)
TRACKS = 20_000

# The 50 bad tracks of the large library, 7 kinds, spread through it (every 400th track).
BAD = [f"t{i}" for i in range(7, TRACKS, 400)][:50]
KINDS = ("empty name", "no id", "NUL", "duplicate id", "bad parent", "absurd numbers", "bad dates")
BAD_DATES = ("not a date", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00")  # unreadable, overflowing, unknown
BAD_KIND = {track: KINDS[n % len(KINDS)] for n, track in enumerate(BAD)}


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "library.jsonl"
    generate(path, tracks=TRACKS, albums=2_000, artists=400, seed=20)
    return path


def _jellyfin_tamper(kinds: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def tamper(served: dict[str, Any]) -> dict[str, Any]:
        dto = dict(served)  # the fake keeps its DTOs: a listing read twice must find them as they were
        kind = kinds.get(dto.get("Id", ""))
        if kind == "empty name":
            dto["Name"] = "  "
        elif kind == "no id":
            del dto["Id"]
        elif kind == "NUL":
            dto["Name"] = "Nul\x00Title"
            dto["Album"] = "\x00Album"
            if "Path" in dto:  # an id listing asks for no Fields
                dto["Path"] = dto["Path"].replace("/", "/\x00", 1)
        elif kind == "bad parent":
            dto["AlbumId"] = {"Id": "not a string"}
            dto["ArtistItems"] = [{"Name": "Nobody", "Id": ""}, "junk"]
            dto["AlbumArtists"] = []
        elif kind == "absurd numbers":
            dto.update(IndexNumber=10**12, ParentIndexNumber=-3, RunTimeTicks=10**22, ProductionYear=99_999)
        elif kind == "bad dates" and "DateCreated" in dto:
            dto["DateCreated"] = BAD_DATES[int(dto["Id"][:4], 16) % 3]
        return dto

    return tamper


def test_a_20k_jellyfin_library_with_50_bad_items_of_7_kinds(large: Path) -> None:
    with FakeJellyfin(large, token=TOKEN) as plain:
        assert isinstance(plain, FakeJellyfin)
        native = {t: plain.native_id("track", t) for t in BAD}
    kinds = {native[t]: kind for t, kind in BAD_KIND.items()}
    duplicated = frozenset(n for n, kind in kinds.items() if kind == "duplicate id")
    with FakeJellyfin(large, token=TOKEN, duplicates=duplicated, tamper=_jellyfin_tamper(kinds)) as fake:
        assert isinstance(fake, FakeJellyfin)
        adapter = JellyfinServer(ServerConfig("jf", "jellyfin", fake.url, token=TOKEN), retry=NO_WAIT)
        tracks = {t.native_id: t for t in adapter.iter_tracks()}
        every = {fake.native_id("track", f"t{i}") for i in range(TRACKS)}
        paths = {n: e.path for n, e in fake.library.entries["track"].items()}
        skipped = list(adapter.skipped)
        adapter.close()

    no_id = {n for n, kind in kinds.items() if kind == "no id"}
    assert set(tracks) == every - no_id  # every good item, and every bad one that could be stored
    assert len(tracks) == TRACKS - 7
    # What was left out is reported: the items without an id, the second copy of each duplicate.
    assert sorted((s.reason, s.native_id) for s in skipped) == sorted(
        [("no id", None)] * 7 + [("duplicate id", n) for n in duplicated]
    )
    assert all(s.kind == "track" for s in skipped)
    for n, kind in kinds.items():
        if kind == "no id":
            continue
        track = tracks[n]
        if kind == "empty name":  # the file name without extension, as the servers show it
            assert track.title == Path(paths[n] or "").stem and track.title
        elif kind == "NUL":
            assert (track.title, track.album_title) == ("NulTitle", "Album")
            assert "\x00" not in (track.path or "") and track.path == paths[n]
        elif kind == "bad parent":
            assert (track.album_id, track.artist_id) == (None, None) and track.artist_name  # from Artists
        elif kind == "absurd numbers":
            assert (track.track_number, track.disc_number, track.duration_ms, track.year) == (None, None, None, None)
        elif kind == "bad dates":
            assert track.added_at is None
        else:
            assert kind == "duplicate id" and track.title
    good = tracks[fake.native_id("track", "t8")]
    assert good.title and good.album_id and good.artist_id and good.duration_ms and good.path


def test_artists_and_albums_without_a_name_are_skipped_with_their_id(tmp_path: Path) -> None:
    path = tmp_path / "small.jsonl"
    generate(path, tracks=40, albums=4, artists=2, seed=3)
    with FakeJellyfin(path, token=TOKEN) as plain:
        assert isinstance(plain, FakeJellyfin)
        nameless = {plain.native_id("artist", "ar1"), plain.native_id("album", "al2")}

    def tamper(dto: dict[str, Any]) -> dict[str, Any]:
        if dto.get("Id") in nameless:
            dto.pop("Name")
        return dto

    with FakeJellyfin(path, token=TOKEN, tamper=tamper) as fake:
        assert isinstance(fake, FakeJellyfin)
        adapter = JellyfinServer(ServerConfig("jf", "jellyfin", fake.url, token=TOKEN), retry=NO_WAIT)
        assert len(list(adapter.iter_artists())) == 1 and len(list(adapter.iter_albums())) == 3
        assert len(list(adapter.iter_tracks())) == 40  # their tracks are stored all the same
        assert sorted(adapter.all_ids("artist")) == sorted(fake.native_id("artist", f"ar{i}") for i in range(2))
        adapter.close()
    assert sorted((s.kind, s.native_id, s.reason) for s in adapter.skipped) == [
        ("album", fake.native_id("album", "al2"), "no name"),
        ("artist", fake.native_id("artist", "ar1"), "no name"),
    ]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad-small") / "library.jsonl"
    generate(path, tracks=300, albums=30, artists=10, seed=5)
    return path


def test_plex_bad_items(small: Path) -> None:
    key = FakePlex.rating_key
    bad = {str(key("track", f"t{i}")): kind for i, kind in zip(range(3, 300, 40), KINDS, strict=False)}
    twin = next(k for k, kind in bad.items() if kind == "duplicate id")
    original = str(key("track", "t290"))

    def tamper(attrs: dict[str, str | None]) -> dict[str, str | None]:
        kind = bad.get(attrs.get("ratingKey") or "")
        if kind == "empty name":
            attrs["title"] = ""
        elif kind == "no id":
            attrs["ratingKey"] = None
        elif kind == "NUL":
            attrs["title"] = "Nul\x00Title"  # plexapi reads it as XML: a character reference
        elif kind == "duplicate id":
            attrs["ratingKey"] = original
        elif kind == "bad parent":
            attrs["parentRatingKey"] = "x" * 300
        elif kind == "absurd numbers":
            attrs.update(index="1000000000000", duration="-5", parentYear="99999")
        elif kind == "bad dates":
            attrs.update(addedAt="99999999999999999999", updatedAt="-1")
        return attrs

    with FakePlex(small, token=TOKEN, tamper=tamper) as fake:
        assert isinstance(fake, FakePlex)
        plex = PlexServer(ServerConfig("px", "plex", fake.url, token=TOKEN, page_size=100), retry=NO_WAIT)
        tracks = {t.native_id: t for t in plex.iter_tracks()}
        files = {str(e.key): e.item.path for e in fake._entries["track"].values()}  # type: ignore[union-attr]
        assert len(set(plex.all_ids("track"))) == 298  # the twins' key once, the keyless one not at all
    assert len(tracks) == 298
    assert sorted((s.reason, s.native_id) for s in plex.skipped) == [("duplicate id", original), ("no id", None)]
    by_kind = {kind: tracks.get(k) for k, kind in bad.items()}
    empty = next(k for k, kind in bad.items() if kind == "empty name")
    assert by_kind["empty name"] is not None and by_kind["empty name"].title == Path(files[empty] or "").stem
    assert by_kind["NUL"] is not None and by_kind["NUL"].title == "NulTitle"
    assert by_kind["bad parent"] is not None and by_kind["bad parent"].album_id is None
    absurd = by_kind["absurd numbers"]
    assert absurd is not None and (absurd.track_number, absurd.duration_ms, absurd.year) == (None, None, None)
    dated = by_kind["bad dates"]
    assert dated is not None and (dated.added_at, dated.updated_at) == (None, None)
    assert twin not in tracks


def test_subsonic_bad_items(small: Path) -> None:
    song = FakeSubsonic.native_id
    bad = {song("track", f"t{i}"): kind for i, kind in zip(range(3, 300, 40), KINDS, strict=False)}
    original = song("track", "t290")

    def tamper(data: dict[str, Any]) -> dict[str, Any]:
        kind = bad.get(data.get("id", "")) if data.get("type") == "music" else None
        if kind == "empty name":
            data["title"] = ""
        elif kind == "no id":
            data.pop("id")
        elif kind == "NUL":
            data["title"] = "Nul\x00Title\ud800"
        elif kind == "duplicate id":
            data["id"] = original
        elif kind == "bad parent":
            data.update(albumId=["x"], artistId={"id": 1})
        elif kind == "absurd numbers":
            data.update(track=10**12, duration=10**12, year=-4)
        elif kind == "bad dates":
            data["created"] = "9999-12-31T23:59:59-05:00"
        return data

    with FakeSubsonic(small, tamper=tamper) as fake:
        assert isinstance(fake, FakeSubsonic)
        config = ServerConfig("nd", "subsonic", fake.url, user="alice", password="s3cret", page_size=100)
        sub = SubsonicServer(config, retry=NO_WAIT)
        tracks: dict[str, ServerTrack] = {t.native_id: t for t in sub.iter_tracks()}
        paths = {n: t.path for n, t in fake.tracks.items()}
    assert len(tracks) == 298
    assert sorted((s.reason, s.native_id) for s in sub.skipped) == [("duplicate id", original), ("no id", None)]
    by_kind = {kind: tracks.get(k) for k, kind in bad.items()}
    empty = next(k for k, kind in bad.items() if kind == "empty name")
    assert by_kind["empty name"] is not None and by_kind["empty name"].title == Path(paths[empty] or "").stem
    assert by_kind["NUL"] is not None and by_kind["NUL"].title == "NulTitle\ufffd"
    parent = by_kind["bad parent"]
    assert parent is not None and (parent.album_id, parent.artist_id) == (None, None)
    absurd = by_kind["absurd numbers"]
    assert absurd is not None and (absurd.track_number, absurd.duration_ms, absurd.year) == (None, None, None)
    assert by_kind["bad dates"] is not None and by_kind["bad dates"].added_at is None


def test_every_string_is_storable_and_skips_name_the_item() -> None:
    from soulsync_idmap.servers.base import ServerAlbum, ServerArtist
    from soulsync_idmap.servers.intake import Intake, Listing

    skipped: list[Skipped] = []
    intake = Intake("x", skipped)
    listing = Listing()
    long_id = "9" * 201
    assert intake.accept(ServerArtist(long_id, "Long"), listing) is None
    assert intake.accept(ServerArtist("a1", "A" * 600, sort_name="\x00s", mbid="m" * 65), listing) == ServerArtist(
        "a1", "A" * 500, sort_name="s"
    )
    assert intake.accept(ServerAlbum("a1", "Same id, other kind"), Listing()) is not None
    assert intake.accept(ServerTrack(" ", "No id", path="/x.flac"), listing) is None
    assert intake.accept(ServerTrack("t1", "", path=None), listing) is None
    assert [(s.kind, s.native_id, s.reason, s.name) for s in skipped] == [
        ("artist", "9" * 200, "id longer than 200 characters", "Long"),
        ("track", None, "no id", "No id"),
        ("track", "t1", "no title and no file name", None),
    ]
    assert intake.repaired["cut to 500 characters"] == 1 and intake.repaired["NUL or lone surrogate removed"] == 1


def test_a_sync_over_bad_items_links_every_good_one_on_both_backends(
    store: Store, db_url: str, small: Path, tmp_path: Path
) -> None:
    """NUL characters once failed a PostgreSQL sync and an empty name failed every sync."""
    with FakeJellyfin(small, token=TOKEN) as plain:
        assert isinstance(plain, FakeJellyfin)
        kinds = {plain.native_id("track", f"t{i}"): kind for i, kind in zip(range(3, 300, 40), KINDS, strict=False)}
    twins = frozenset(n for n, kind in kinds.items() if kind == "duplicate id")
    with FakeJellyfin(small, token=TOKEN, duplicates=twins, tamper=_jellyfin_tamper(kinds)) as fake:
        assert isinstance(fake, FakeJellyfin)
        store.add_server("jf", "jellyfin", fake.url, {"page_size": 100})

        def sync() -> SyncResult:
            adapter = JellyfinServer(server_config(store.server("jf"), {"token": TOKEN}), retry=NO_WAIT)
            return sync_server(store, "jf", Config(tmp_path / "c.json"), SyncOptions(full=True), adapter=adapter)

        first = sync()
        assert first.ok, first.error
        no_id = next(n for n, kind in kinds.items() if kind == "no id")
        engine = create_engine(db_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT native_id, name FROM link WHERE kind = 'track' AND gone_at IS NULL"))
            names = dict(rows.fetchall())
        engine.dispose()
        assert set(names) == {fake.native_id("track", f"t{i}") for i in range(300)} - {no_id}
        nul = next(n for n, kind in kinds.items() if kind == "NUL")
        assert names[nul] == "NulTitle"
        again = sync()
        assert again.ok and again.counts.new == 0 and again.counts.gone == 0

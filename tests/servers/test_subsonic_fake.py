"""The Subsonic adapter against FakeSubsonic: OpenSubsonic shapes, paging, fallbacks, auth, errors, incremental."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap import IdMap
from soulsync_idmap.demo.loopback import Fault
from soulsync_idmap.errors import AuthError, ServerError, ServerUnreachable
from soulsync_idmap.servers.base import ServerAlbum, ServerArtist, ServerConfig, ServerTrack
from soulsync_idmap.servers.retry import RetryPolicy
from soulsync_idmap.servers.subsonic import SubsonicServer
from tests.conftest import Invoke, write_jsonl
from tests.support.fake_subsonic import FakeSubsonic

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REC = "8f3471b5-7e6a-48da-86a9-c1c07a0f47ae"


def library(artists: int = 4, albums_each: int = 2, tracks_each: int = 3) -> list[dict[str, Any]]:
    """``artists`` x ``albums_each`` x ``tracks_each``; album k of artist i added i*10+k days after T0."""
    out: list[dict[str, Any]] = []
    for i in range(artists):
        out.append({"kind": "artist", "id": f"ar{i}", "name": f"Artist {i}", "mbid": REC.replace("8", str(i))})
        for k in range(albums_each):
            added = (T0 + timedelta(days=i * 10 + k)).isoformat()
            out.append({"kind": "album", "id": f"al{i}.{k}", "name": f"Album {i}.{k}", "artist_id": f"ar{i}",
                        "year": 1990 + i, "added_at": added})  # fmt: skip
            for n in range(1, tracks_each + 1):
                out.append({"kind": "track", "id": f"t{i}.{k}.{n}", "name": f"Song {i}.{k}.{n}",
                            "artist_id": f"ar{i}", "album_id": f"al{i}.{k}", "track_number": n, "disc_number": 1,
                            "duration_ms": 200_400 + n * 1000, "year": 1990 + i, "added_at": added,
                            "path": f"Artist {i}/Album {i}.{k}/{n:02d}.flac"})  # fmt: skip
    return out


@pytest.fixture
def lib_path(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "lib.jsonl", library())


@pytest.fixture
def fake(lib_path: Path) -> Iterator[FakeSubsonic]:
    with FakeSubsonic(lib_path) as server:
        assert isinstance(server, FakeSubsonic)
        yield server


def adapter(url: str, page: int | None = None, password: str = "s3cret", retry_seconds: float = 60.0) -> SubsonicServer:
    config = ServerConfig("nd", "subsonic", url, user="alice", password=password, page_size=page)
    return SubsonicServer(config, retry=RetryPolicy(total=retry_seconds, sleep=lambda _: None))


def listing(sub: SubsonicServer) -> tuple[list[ServerArtist], list[ServerAlbum], list[ServerTrack]]:
    return list(sub.iter_artists()), list(sub.iter_albums()), list(sub.iter_tracks())


def methods(fake: FakeSubsonic) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in fake.requests if "u" in r.query]


def test_opensubsonic_fields_map_to_items(fake: FakeSubsonic) -> None:
    artists, albums, tracks = listing(adapter(fake.url))
    assert (len(artists), len(albums), len(tracks)) == (4, 8, 24)
    song = next(t for t in tracks if t.native_id == fake.native_id("track", "t2.1.3"))
    assert song.title == "Song 2.1.3" and song.album_id == fake.native_id("album", "al2.1")
    assert song.artist_id == fake.native_id("artist", "ar2") and song.artist_name == "Artist 2"
    assert (song.track_number, song.disc_number, song.year, song.duration_ms) == (3, 1, 1992, 203_000)
    assert song.path == "Artist 2/Album 2.1/03.flac" and song.album_title == "Album 2.1"
    assert song.added_at == T0 + timedelta(days=21)  # nanosecond timestamps parsed
    album = next(a for a in albums if a.native_id == fake.native_id("album", "al2.1"))
    assert album.artist_id == fake.native_id("artist", "ar2") and album.year == 1992
    artist = next(a for a in artists if a.native_id == fake.native_id("artist", "ar2"))
    assert artist.mbid == REC.replace("8", "2")


def test_isrc_and_recording_mbid(tmp_path: Path) -> None:
    records = [*library(1, 1, 1)]
    records[-1] |= {"isrc": "GBAYE9700001", "mbid": REC}
    with FakeSubsonic(write_jsonl(tmp_path / "l.jsonl", records)) as fake:
        (track,) = adapter(fake.url).iter_tracks()
    assert (track.isrc, track.mbid) == ("GBAYE9700001", REC)


def test_paging_reads_everything_and_requests_are_counted(fake: FakeSubsonic) -> None:
    sub = adapter(fake.url, page=5)
    assert len(list(sub.iter_tracks())) == 24
    # ping (unauthenticated, not counted) + ping + probe + 5 full pages + the empty page twice, then
    # the albums (2 pages + the empty page twice) whose songCounts the songs listed must reach
    assert methods(fake) == ["ping", "search3", *["search3"] * 11]
    assert sorted(sub.all_ids("track")) == sorted(fake.tracks)


def test_a_server_that_caps_counts_is_still_read_to_the_end(lib_path: Path) -> None:
    with FakeSubsonic(lib_path, max_count=7) as fake:
        artists, albums, tracks = listing(adapter(fake.url, page=500))
    assert (len(artists), len(albums), len(tracks)) == (4, 8, 24)
    assert len({t.native_id for t in tracks}) == 24


@pytest.mark.parametrize("empty_query", ["error", "empty"])
def test_fallback_when_search3_does_not_list(lib_path: Path, fake: FakeSubsonic, empty_query: Any) -> None:
    expected = [sorted(i.native_id for i in items) for items in listing(adapter(fake.url))]
    with FakeSubsonic(lib_path, empty_query=empty_query) as old:
        sub = adapter(old.url, page=3)
        got = [sorted(i.native_id for i in items) for items in listing(sub)]
        assert got == expected
        used = methods(old)
    assert used.count("search3") == 1  # the probe, once per adapter
    assert used.count("getAlbum") == 8 and used.count("getArtists") == (2 if empty_query == "empty" else 1)
    assert used.count("getArtist") == 0


def test_an_empty_library_is_empty_not_a_fallback(tmp_path: Path) -> None:
    with FakeSubsonic(write_jsonl(tmp_path / "empty.jsonl", [])) as fake:
        assert listing(adapter(fake.url)) == ([], [], [])
        assert methods(fake).count("getAlbumList2") == 0


def test_request_counts_search3_against_the_walk(tmp_path: Path) -> None:
    """Measured on 20 artists, 60 albums, 600 tracks, 500 a page: the numbers in the docs."""
    path = write_jsonl(tmp_path / "big.jsonl", library(20, 3, 10))
    counts: dict[str, int] = {}
    for mode in ("all", "error"):
        with FakeSubsonic(path, empty_query=mode) as fake:  # type: ignore[arg-type]
            sizes = [len(items) for items in listing(adapter(fake.url))]
            counts[mode] = len(methods(fake))
        assert sizes == [20, 60, 600]
    # search3: ping + probe + (1 + 2 empty) + (1 + 2) + (2 + 2); walk: ping + probe + getArtists
    # + getAlbumList2 (1 + 2 empty) + getAlbumList2 again (1 + 2) + one getAlbum per album (60).
    # The last, empty page of a listing is asked twice before it is believed.
    assert counts == {"all": 12, "error": 69}


def test_token_auth_from_1_13_and_hex_password_before(lib_path: Path) -> None:
    for version, uses_token in (("1.16.1", True), ("1.12.0", False)):
        with FakeSubsonic(lib_path, version=version) as fake:
            assert len(list(adapter(fake.url).iter_artists())) == 4
            authed = [r for r in fake.requests if "u" in r.query]
            assert all(("t" in r.query and "s" in r.query) == uses_token for r in authed)
            assert all(("p" in r.query) != uses_token for r in authed)
            assert len({r.query.get("s") for r in authed}) == (len(authed) if uses_token else 1)
            assert all("s3cret" not in r.raw_path for r in fake.requests)


def test_wrong_password_is_an_auth_error_with_the_server_message(fake: FakeSubsonic) -> None:
    with pytest.raises(AuthError, match=r"Wrong username or password\. \(code 40\)") as failure:
        list(adapter(fake.url, password="hunter2").iter_artists())
    assert "hunter2" not in str(failure.value) and failure.value.server == "nd"


def test_not_found_envelope_is_a_server_error(fake: FakeSubsonic) -> None:
    with pytest.raises(ServerError, match=r"Album not found \(code 70\)"):
        adapter(fake.url)._get("getAlbum", id="nope")


def test_5xx_is_retried_and_a_dead_server_is_unreachable(fake: FakeSubsonic) -> None:
    sub = adapter(fake.url)
    sub.instance_id()
    fake.inject(Fault("status", status=503), Fault("status", status=502))
    assert len(list(sub.iter_artists())) == 4
    fake.inject(*[Fault("refuse")] * 10)
    with pytest.raises(ServerUnreachable):
        list(adapter(fake.url, retry_seconds=1.0).iter_artists())


def test_changed_since_yields_new_albums_artists_first(fake: FakeSubsonic) -> None:
    # Albums of artists 2 and 3 were added on days 20, 21, 30, 31; the watermark is day 21.
    items = list(adapter(fake.url, page=2).changed_since(T0 + timedelta(days=21)))
    kinds = [i.kind for i in items]
    assert kinds == sorted(kinds, key=["artist", "album", "track"].index)
    assert {i.native_id for i in items if i.kind == "artist"} == {fake.native_id("artist", f"ar{i}") for i in (2, 3)}
    new_albums = {fake.native_id("album", a) for a in ("al2.1", "al3.0", "al3.1")}
    assert {i.native_id for i in items if i.kind == "album"} == new_albums
    assert len([i for i in items if i.kind == "track"]) == 9
    # newest first, 2 a page: the third page (days 20, 10) passes the watermark and ends the read
    assert [r.query.get("offset") for r in fake.requests if r.path.endswith("getAlbumList2")] == ["0", "2"]


def test_naive_local_times_do_not_hide_additions(lib_path: Path) -> None:
    # A server at UTC-5 writes naive local times: day 31 00:00 UTC reads as day 30 19:00.
    with FakeSubsonic(lib_path, local_offset=-5) as fake:
        items = list(adapter(fake.url).changed_since(T0 + timedelta(days=30, hours=23)))
        assert {i.native_id for i in items if i.kind == "album"} == {fake.native_id("album", "al3.1")}


def test_sync_through_the_cli_then_incremental_sees_additions_and_removals(
    idmap: Invoke, fake: FakeSubsonic, lib_path: Path, db_url: str
) -> None:
    add = ["servers", "add", "subsonic", "nd", "--url", fake.url, "--user", "alice", "--password", "s3cret"]
    assert idmap(*add).exit_code == 0
    first = idmap("sync", "nd", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)[0]["new"] == 4 + 8 + 24
    records = library()
    records = [r for r in records if r["id"] != "t0.0.1"]
    now = datetime.now(UTC).isoformat()
    records += [{"kind": "album", "id": "al9", "name": "Fresh", "artist_id": "ar1", "added_at": now},
                {"kind": "track", "id": "t9", "name": "Brand New", "artist_id": "ar1", "album_id": "al9",
                 "track_number": 1, "added_at": now}]  # fmt: skip
    write_jsonl(lib_path, records)
    fake.load()
    second = idmap("sync", "nd", "--json")
    assert second.exit_code == 0, second.output
    summary = json.loads(second.output)[0]
    assert summary["mode"] == "incremental" and summary["new"] == 2 and summary["gone"] == 1
    with IdMap.open(db_url) as api:
        assert api.lookup("nd", fake.native_id("track", "t9")) is not None
        assert api.lookup("nd", fake.native_id("track", "t0.0.2")) is not None


def test_a_subsonic_server_moved_to_another_address_keeps_its_uuids(
    idmap: Invoke, fake: FakeSubsonic, lib_path: Path, db_url: str
) -> None:
    add = ["servers", "add", "subsonic", "nd", "--url", fake.url, "--user", "alice", "--password", "s3cret"]
    assert idmap(*add).exit_code == 0
    assert idmap("sync", "nd").exit_code == 0
    track = fake.native_id("track", "t0.0.1")
    with IdMap.open(db_url) as api:
        uuid = api.lookup("nd", track)
    with FakeSubsonic(lib_path) as moved:  # the same server (same database, same ids), another port
        changed = idmap("servers", "set", "nd", "--url", moved.url)
        assert changed.exit_code == 0, changed.output
        synced = idmap("sync", "nd", "--json")
        assert synced.exit_code == 0, synced.output  # the API has no server id: the new address is recorded
        assert json.loads(synced.stdout)[0]["new"] == 0
    with IdMap.open(db_url) as api:
        assert uuid is not None and api.lookup("nd", track) == uuid

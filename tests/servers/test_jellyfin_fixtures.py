"""Contract tests: the adapter reads real Jellyfin and Emby responses (see tests/fixtures/SOURCES.md).

The fixtures are real server captures (music-assistant; StreamMusic where available, see
``tests/support/fixtures.py``) and Home Assistant's simplified ones. Pure conversions are
checked item by item; the list, login and library answers are served verbatim over HTTP on
127.0.0.1 so paging and auth run for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.demo.loopback import LoopbackServer, Request, Response
from soulsync_idmap.servers.base import ServerAlbum, ServerArtist, ServerConfig, ServerTrack, Skipped
from soulsync_idmap.servers.intake import Intake
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.jellyfin_items import to_album, to_artist, to_track
from soulsync_idmap.servers.retry import RetryPolicy
from tests.support.fixtures import FIXTURES, unlicensed_captures

JF = FIXTURES / "jellyfin"
MA = JF / "music-assistant"
NO_WAIT = RetryPolicy(sleep=lambda _: None)


def sm() -> Path:
    return unlicensed_captures("jellyfin", "streammusic-docs")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- single items ----------------------------------------------------------------------------
def test_album_with_release_mbid_and_album_artist() -> None:
    album = to_album(load(MA / "albums" / "infest.json"))
    assert album == ServerAlbum(
        native_id="70b7288088b42d318f75dbcc41fd0091",
        title="Infest",
        artist_id="e439648e08ade14e27d5de48fa97c88e",
        artist_name="Papa Roach",
        year=2000,
        mbid="bf25b030-0cbb-495a-8d79-6c7fee20a089",  # MusicBrainzAlbum (release), not the release group
        added_at=datetime(2023, 12, 11, 12, 10, 40, 760752, tzinfo=UTC),
    )


def test_album_artist_is_the_album_artist_not_the_track_artists() -> None:
    album = to_album(load(MA / "albums" / "this_is_christmas.json"))
    assert (album.artist_id, album.artist_name) == ("555b36f7d310d1b7405557a8775c6878", "Emmy the Great & Tim Wheeler")
    assert album.mbid == "b13a174d-527d-44a1-b8f8-a4c78b03b7d9"
    assert album.year == 2011


def test_album_without_artists_or_ids() -> None:
    album = to_album(load(MA / "albums" / "yesterday_when_i_was_mad.json"))
    assert album == ServerAlbum(
        native_id="7c8d0bd55291c7fc0451d17ebef30017", title="Yesterday, When I Was Mad [Disc 2]"
    )


def test_artist_with_mbid_and_sort_name() -> None:
    artist = to_artist(load(MA / "artists" / "ash.json"))
    assert artist == ServerArtist(
        native_id="dd954bbf54398e247d803186d3585b79",
        name="Ash",
        sort_name="ash",
        mbid="99164692-c02d-407c-81c9-25d338dd21f4",
    )


def test_track_artist_is_the_first_artist_item_and_release_track_id_is_not_a_recording() -> None:
    raw = load(MA / "tracks" / "zombie_christmas.json")
    assert raw["ProviderIds"]["MusicBrainzTrack"]  # present, and must not be taken for the recording
    track = to_track(raw)
    assert track.native_id == "fb12a77f49616a9fc56a6fab2b94174c"
    assert (track.artist_id, track.artist_name) == ("a0c459294295710546c81c20a8d9abfc", "Emmy the Great")
    assert (track.album_id, track.album_title) == ("32ed6a0091733dcff57eae67010f3d4b", "This Is Christmas")
    assert (track.track_number, track.disc_number, track.year) == (8, 1, 2011)
    assert track.duration_ms == 224932  # 2249317010 ticks of 100 ns
    assert track.mbid is None
    assert track.path == "/media/music/Emmy the Great & Tim Wheeler/This Is Christmas/8. Zombie Christmas.m4a"


def test_recording_mbid_is_read_and_slash_joined_ids_give_the_first() -> None:
    raw = load(MA / "tracks" / "zombie_christmas.json")
    joined = raw["ProviderIds"]["MusicBrainzArtist"]
    assert "/" in joined
    raw["ProviderIds"]["MusicBrainzRecording"] = joined
    assert to_track(raw).mbid == "60bbceb2-0ddc-403b-970b-b4e9c3b2de5c"
    artist = to_artist({"Id": "a0c459294295710546c81c20a8d9abfc", "Name": "Emmy the Great",
                        "ProviderIds": {"MusicBrainzArtist": joined}})  # fmt: skip
    assert artist.mbid == "60bbceb2-0ddc-403b-970b-b4e9c3b2de5c"


def test_track_with_zero_numbers_and_no_artists() -> None:
    track = to_track(load(MA / "tracks" / "thrown_away.json"))
    assert track == ServerTrack(
        native_id="b5319fb11cde39fca2023184fcfa9862",
        title="11 Thrown Away",
        album_id="70b7288088b42d318f75dbcc41fd0091",
        duration_ms=577776,
        path="/media/music/Papa Roach/Infest/11 Thrown Away.m4a",  # from MediaSources: no Path field
    )


def test_single_without_album_id_keeps_album_title_and_album_artist() -> None:
    track = to_track(load(MA / "tracks" / "where_the_bands_are.json"))
    assert track.album_id is None
    assert track.album_title == "Where the Bands Are (2018 Version) - Single"
    assert (track.artist_id, track.artist_name) == ("94875b0dd58cbf5245a135982133651a", "Dead Like Harry")
    assert (track.track_number, track.disc_number, track.duration_ms, track.year) == (1, 1, 246433, 2018)


def test_streammusic_full_dtos() -> None:
    track = to_track(load(sm() / "users_items_audio_by_id.json"))
    assert track.native_id == "39de54ec99682f60e77133bd51759673"
    assert track.path == "/media/许嵩/梦游计/Play With Style - 许嵩.flac"
    assert track.added_at == datetime(2024, 3, 21, 10, 50, 57, 457025, tzinfo=UTC)
    assert (track.duration_ms, track.track_number, track.disc_number) == (175067, 7, 1)
    assert (track.album_id, track.artist_id) == ("c1037c12ede81c855bbf38a4846248f9", "9cb24036603a4bbdaf15891d3f8215b0")
    artist = to_artist(load(sm() / "users_items_artist_by_id.json"))
    assert (artist.name, artist.mbid) == ("许嵩", "ca084e75-0f3e-4c05-9f4d-b2714a8c8bb5")
    album = to_album(load(sm() / "users_items_album_by_id.json"))
    assert (album.native_id, album.artist_id, album.year, album.mbid) == (
        "bb725906dce0e1d5dcbb5e2aab50f590", "9cb24036603a4bbdaf15891d3f8215b0", 2018, None)  # fmt: skip


def test_emby_numeric_ids() -> None:
    track = to_track(load(sm() / "emby" / "users_items_audio_by_id.json"))
    assert (track.native_id, track.album_id, track.artist_id) == ("45902", "10139", "10126")
    assert track.path == "/volume1/music/刀郎/2002年的第一场雪/刀郎 - 艾里甫与赛乃姆.flac"
    assert (track.duration_ms, track.track_number, track.year) == (352547, 5, 2004)
    album = to_album(load(sm() / "emby" / "users_items_album_by_id.json"))
    assert (album.native_id, album.artist_id, album.artist_name) == ("79103", "7113", "单依纯")


def test_home_assistant_placeholders() -> None:
    track = to_track(load(JF / "track.json"))
    assert (track.native_id, track.album_id, track.artist_id) == ("TRACK-UUID", "ALBUM-UUID", "ARTIST-UUID")
    assert track.path == "/media/music/MockArtist/MockAlbum/01 - Track - MockAlbum - MockArtist.flac"
    assert to_track(load(JF / "tracks-nopath.json")["Items"][0]).path is None
    assert to_artist(load(JF / "artist.json")).name == "ARTIST"
    assert to_album(load(JF / "album.json")).artist_id == "ARTIST-UUID"


def test_an_item_without_a_name_is_skipped_and_named() -> None:
    raw = load(MA / "artists" / "ash.json")
    del raw["Name"]
    skipped: list[Skipped] = []
    assert Intake("jf", skipped).accept(to_artist(raw)) is None
    assert skipped == [Skipped("artist", "dd954bbf54398e247d803186d3585b79", "no name")]


# -- served over HTTP ----------------------------------------------------------------------------
Handler = Callable[[Request], Response]


class FixtureServer(LoopbackServer):
    """Answers each ``METHOD /path`` with a handler; anything else is 404."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        super().__init__()
        self.routes = routes

    def handle(self, request: Request) -> Response:
        handler = self.routes.get(f"{request.method} {request.path}")
        return handler(request) if handler else Response(404, b"", "text/plain")


def verbatim(path: Path) -> Handler:
    return lambda request: Response(200, path.read_bytes())


def first_page_only(path: Path) -> Handler:
    """The capture for StartIndex=0, later pages empty. A capture is an excerpt of a larger library:
    its TotalRecordCount (kept only where the capture has one) becomes the excerpt's."""

    def handle(request: Request) -> Response:
        body = load(path)
        items = body["Items"] if int(request.param("StartIndex") or 0) == 0 else []
        body = {**body, "Items": items}
        if "TotalRecordCount" in body:
            body["TotalRecordCount"] = len(load(path)["Items"])
        return Response(200, json.dumps(body, ensure_ascii=False).encode())

    return handle


@pytest.fixture
def fixture_server() -> Iterator[Callable[[dict[str, Handler]], FixtureServer]]:
    started: list[FixtureServer] = []

    def start(routes: dict[str, Handler]) -> FixtureServer:
        server = FixtureServer(routes)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_login_views_and_listing_from_real_jellyfin_answers(
    fixture_server: Callable[[dict[str, Handler]], FixtureServer],
) -> None:
    views = {"Items": [load(JF / "music-collection.json")], "TotalRecordCount": 1, "StartIndex": 0}
    captures = sm()
    server = fixture_server({
        "GET /System/Info/Public": verbatim(captures / "system_info.json"),
        "POST /Users/AuthenticateByName": verbatim(captures / "users_authenticatebyname.json"),
        "GET /UserViews": lambda r: Response(200, json.dumps(views).encode()),
        "GET /Items": first_page_only(captures / "users_items_audio_list.json"),
        "GET /Artists": first_page_only(captures / "artists_list.json"),
    })  # fmt: skip
    adapter = JellyfinServer(ServerConfig("jf", "jellyfin", server.url, user="demo", password="pw"), retry=NO_WAIT)
    assert adapter.instance_id() == "68ca97fe91ff41a08aa2ff3d057a5f75"
    tracks = list(adapter.iter_tracks())
    assert [t.title for t in tracks] == ["Play With Style"]
    assert [a.name for a in adapter.iter_artists()] == ["许嵩"]
    listing = [r for r in server.requests if r.path == "/Items"]
    assert listing[0].param("ParentId") == "MUSIC-COLLECTION-FOLDER-UUID"
    # The whole listing in one page: nothing more is asked for.
    assert [int(r.param("StartIndex") or 0) for r in listing] == [0]
    views_request = next(r for r in server.requests if r.path == "/UserViews")
    assert views_request.param("userId") == "cb70exxx1bxxx96ab14xxx6151ba2250"
    assert 'Token="602f3582cxxx4d2xxx83d920ad606e22"' in (views_request.header("authorization") or "")
    adapter.close()


def test_emby_pages_without_start_index(fixture_server: Callable[[dict[str, Handler]], FixtureServer]) -> None:
    folders = {"Items": [dict(load(JF / "music-collection.json"), Id="7")], "TotalRecordCount": 1}
    emby = sm() / "emby"
    server = fixture_server({
        "GET /Library/MediaFolders": lambda r: Response(200, json.dumps(folders).encode()),
        "GET /Items": lambda r: first_page_only(
            emby / ("users_items_audio_list.json" if r.param("IncludeItemTypes") == "Audio"
                           else "users_items_musicalbum_list.json"))(r),
    })  # fmt: skip
    adapter = JellyfinServer(ServerConfig("emby", "emby", server.url, token="k"), retry=NO_WAIT)
    albums = list(adapter.iter_albums())
    assert [(a.native_id, a.artist_id) for a in albums] == [("79106", "79105"), ("79103", "7113")]
    tracks = list(adapter.iter_tracks())
    assert [(t.native_id, t.album_id, t.path) for t in tracks] == [
        ("50985", "7856", "/volume1/music/麦小兜/9420/9420.mp3")
    ]
    assert all(r.header("x-emby-token") == "k" for r in server.requests)
    adapter.close()


def test_home_assistant_lists_without_totals(fixture_server: Callable[[dict[str, Handler]], FixtureServer]) -> None:
    folders = {"Items": [load(JF / "music-collection.json")]}
    server = fixture_server({
        "GET /Library/MediaFolders": lambda r: Response(200, json.dumps(folders).encode()),
        "GET /Items": verbatim(JF / "tracks.json"),
        "GET /Artists": verbatim(JF / "artists.json"),
    })  # fmt: skip
    adapter = JellyfinServer(ServerConfig("ha", "jellyfin", server.url, token="k"), retry=NO_WAIT)
    assert [t.native_id for t in adapter.iter_tracks()] == ["TRACK-UUID"]
    assert list(adapter.all_ids("artist")) == ["ARTIST-UUID"]
    # No TotalRecordCount: a page shorter than the limit is the last one.
    assert len([r for r in server.requests if r.path in ("/Items", "/Artists")]) == 2
    adapter.close()

"""JellyfinServer against the fake Jellyfin/Emby server on 127.0.0.1: listing, auth, libraries,
incremental sync, removal detection, image upload, and failure handling for real."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin, LibrarySpec
from soulsync_idmap.demo.loopback import Fault, LoopbackServer, Request, Response
from soulsync_idmap.errors import (
    AuthError,
    BadResponse,
    ConfigError,
    IncompleteListing,
    NotFound,
    ServerUnreachable,
    Unsupported,
)
from soulsync_idmap.servers import open_server
from soulsync_idmap.servers.base import MediaServer, ServerAlbum, ServerArtist, ServerConfig, ServerTrack
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.retry import RetryPolicy

TOKEN = "0123456789abcdef0123456789abcdef"
OLD = "2024-02-01T08:00:00Z"
REC1 = "8e0e0e39-4b4c-4b9c-9e0a-3c1e1f1a2b01"

LIBRARY: list[dict[str, Any]] = [
    {"kind": "artist", "id": "ar1", "name": "Radiohead", "mbid": "a74b1b7f-71a5-4011-9441-d0b5e4122711"},
    {"kind": "artist", "id": "ar2", "name": "Portishead"},
    {"kind": "artist", "id": "ar3", "name": "Thom Yorke"},  # a track artist only: no album of his own
    {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1", "year": 1997,
     "mbid": "b1392450-e666-3926-a536-22c65f834433"},
    {"kind": "album", "id": "al2", "name": "Dummy", "artist_id": "ar2", "year": 1994},
    {"kind": "track", "id": "t1", "name": "Airbag", "artist_id": "ar1", "album_id": "al1", "track_number": 1,
     "disc_number": 1, "duration_ms": 284000, "year": 1997, "mbid": REC1,
     "path": "/music/Radiohead/OK Computer/01 Airbag.flac"},
    {"kind": "track", "id": "t2", "name": "Paranoid Android", "artist_id": "ar1", "album_id": "al1",
     "track_number": 2, "disc_number": 1, "duration_ms": 383000, "path": "/music/Radiohead/OK Computer/02.flac"},
    {"kind": "track", "id": "t3", "name": "Mysterons", "artist_id": "ar2", "album_id": "al2", "track_number": 1,
     "duration_ms": 306000, "path": "/music/Portishead/Dummy/01 Mysterons.flac"},
    {"kind": "track", "id": "t4", "name": "Guest Spot", "artist_id": "ar3", "album_id": "al1", "track_number": 1,
     "disc_number": 2, "duration_ms": 200000, "path": "/music/Radiohead/OK Computer/2-01 Guest Spot.flac"},
]  # fmt: skip


def write_library(path: Path, records: list[dict[str, Any]]) -> Path:
    lines = [json.dumps({"added_at": OLD, "updated_at": OLD, **r}) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jellyfin")


@pytest.fixture(scope="module")
def shared_fake(shared_dir: Path) -> Iterator[FakeJellyfin]:
    # One server for the module: stopping a loopback server costs half a second.
    with FakeJellyfin(write_library(shared_dir / "music.jsonl", LIBRARY), token=TOKEN, user=("alice", "wonder")) as srv:
        assert isinstance(srv, FakeJellyfin)
        yield srv


@pytest.fixture
def library(shared_dir: Path) -> Path:
    return write_library(shared_dir / "music.jsonl", LIBRARY)


@pytest.fixture
def fake(shared_fake: FakeJellyfin, library: Path) -> FakeJellyfin:
    """The shared server, back to the original library with no faults, sessions or log."""
    shared_fake.reload()
    shared_fake.clear_faults()
    shared_fake.reset_log()
    shared_fake.sessions.clear()
    shared_fake.images.clear()
    return shared_fake


Make = Callable[..., JellyfinServer]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(fake: FakeJellyfin, sleeps: list[float]) -> Iterator[Make]:
    made: list[JellyfinServer] = []

    def build(server: LoopbackServer | None = None, kind: str = "jellyfin", **options: Any) -> JellyfinServer:
        tuning = {k: options.pop(k) for k in ("max_retry_after",) if k in options}
        config = {"token": TOKEN, **options}
        retry = RetryPolicy(total=config.pop("retry_seconds", 60.0), base=0.5, sleep=sleeps.append,
                            jitter=lambda: 1.0, **tuning)  # fmt: skip
        adapter = JellyfinServer(ServerConfig("home", kind, (server or fake).url, **config), retry=retry)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        adapter.close()


def listed(fake: FakeJellyfin, path: str) -> list[Request]:
    return [r for r in fake.requests if r.path == path]


# -- listing -------------------------------------------------------------------------------------
def test_open_server_builds_the_adapter_for_both_kinds(fake: FakeJellyfin) -> None:
    for kind in ("jellyfin", "emby"):
        adapter = open_server(ServerConfig("home", kind, fake.url, token=TOKEN))
        assert isinstance(adapter, JellyfinServer) and isinstance(adapter, MediaServer)
        adapter.close()


def test_full_listing_maps_every_item(fake: FakeJellyfin, make: Make) -> None:
    adapter = make()
    n = fake.native_id
    assert adapter.instance_id() == fake.server_id
    artists = {a.native_id: a for a in adapter.iter_artists()}
    assert set(artists) == {n("artist", "ar1"), n("artist", "ar2"), n("artist", "ar3")}  # with the track-only one
    assert artists[n("artist", "ar1")] == ServerArtist(
        native_id=n("artist", "ar1"), name="Radiohead", sort_name="radiohead",
        mbid="a74b1b7f-71a5-4011-9441-d0b5e4122711", added_at=datetime(2024, 2, 1, 8, tzinfo=UTC),
    )  # fmt: skip
    albums = {a.native_id: a for a in adapter.iter_albums()}
    assert albums[n("album", "al1")] == ServerAlbum(
        native_id=n("album", "al1"), title="OK Computer", artist_id=n("artist", "ar1"), artist_name="Radiohead",
        year=1997, mbid="b1392450-e666-3926-a536-22c65f834433", added_at=datetime(2024, 2, 1, 8, tzinfo=UTC),
    )  # fmt: skip
    tracks = {t.native_id: t for t in adapter.iter_tracks()}
    assert len(tracks) == 4
    assert tracks[n("track", "t1")] == ServerTrack(
        native_id=n("track", "t1"), title="Airbag", album_id=n("album", "al1"), artist_id=n("artist", "ar1"),
        artist_name="Radiohead", album_title="OK Computer", track_number=1, disc_number=1, duration_ms=284000,
        year=1997, mbid=REC1, path="/music/Radiohead/OK Computer/01 Airbag.flac",
        added_at=datetime(2024, 2, 1, 8, tzinfo=UTC),
    )  # fmt: skip
    guest = tracks[n("track", "t4")]
    assert (guest.artist_id, guest.artist_name, guest.disc_number) == (n("artist", "ar3"), "Thom Yorke", 2)


def test_without_recording_ids_the_release_track_id_is_not_used(library: Path, sleeps: list[float]) -> None:
    with FakeJellyfin(library, token=TOKEN, recording_ids=False) as old:
        adapter = JellyfinServer(ServerConfig("old", "jellyfin", old.url, token=TOKEN))
        assert {t.title: t.mbid for t in adapter.iter_tracks()}["Airbag"] is None
        adapter.close()


def test_requests_ask_only_for_what_is_read(fake: FakeJellyfin, make: Make) -> None:
    adapter = make()
    list(adapter.iter_artists())
    list(adapter.iter_tracks())
    (artists,) = listed(fake, "/Artists")
    assert artists.param("Fields") == "ProviderIds,SortName,DateCreated"
    (tracks,) = listed(fake, "/Items")
    assert tracks.param("IncludeItemTypes") == "Audio"
    assert tracks.param("Recursive") == "true"
    assert tracks.param("ParentId") == fake.library_id("Music")
    assert tracks.param("Fields") == "ProviderIds,Path,DateCreated,ParentId"
    assert (tracks.param("EnableImages"), tracks.param("EnableUserData")) == ("false", "false")
    assert int(tracks.param("Limit") or 0) >= 500
    for request in fake.requests:
        assert TOKEN not in request.raw_path  # the token travels in a header only
        if request.path != "/System/Info/Public":
            assert f'Token="{TOKEN}"' in (request.header("authorization") or "")


def test_paging_with_a_small_page_size(fake: FakeJellyfin, make: Make) -> None:
    adapter = make(page_size=3)
    assert len(list(adapter.iter_tracks())) == 4
    assert [(r.param("StartIndex"), r.param("Limit")) for r in listed(fake, "/Items")] == [("0", "3"), ("3", "3")]


# -- auth ----------------------------------------------------------------------------------------
def test_user_and_password_login(fake: FakeJellyfin, make: Make) -> None:
    adapter = make(token=None, user="alice", password="wonder")
    assert len(list(adapter.iter_albums())) == 2
    login = listed(fake, "/Users/AuthenticateByName")
    assert len(login) == 1 and json.loads(login[0].body) == {"Username": "alice", "Pw": "wonder"}
    assert listed(fake, "/UserViews")[0].param("userId") == fake.user_id


def test_wrong_password_is_an_auth_error_without_the_password(fake: FakeJellyfin, make: Make) -> None:
    with pytest.raises(AuthError) as caught:
        list(make(token=None, user="alice", password="s3cr3t-guess").iter_albums())
    assert "alice" in str(caught.value) and "s3cr3t-guess" not in str(caught.value)


def test_expired_session_logs_in_again(fake: FakeJellyfin, make: Make) -> None:
    adapter = make(token=None, user="alice", password="wonder", page_size=1)
    titles = []
    for album in adapter.iter_albums():
        titles.append(album.title)
        fake.sessions.clear()  # the server forgets the session between two pages
    assert len(titles) == 2
    assert len(listed(fake, "/Users/AuthenticateByName")) == 2


def test_wrong_token_is_an_auth_error_that_hides_the_token(fake: FakeJellyfin, make: Make) -> None:
    with pytest.raises(AuthError) as caught:
        list(make(token="not-the-key-4242").iter_tracks())
    assert "not-the-key-4242" not in str(caught.value)
    assert "home" in str(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_refusal_in_the_middle_of_a_listing(fake: FakeJellyfin, make: Make, status: int) -> None:
    adapter = make(page_size=2)
    fake.inject(Fault("status", status=status, path_prefix="/Items"))
    with pytest.raises(AuthError, match=str(status)):
        list(adapter.iter_tracks())


def test_non_admin_token_reads_its_own_views(fake: FakeJellyfin, library: Path, make: Make) -> None:
    with FakeJellyfin(library, token=TOKEN, user=("bob", "pw"), user_admin=False) as server:
        assert isinstance(server, FakeJellyfin)
        login = httpx.post(f"{server.url}/Users/AuthenticateByName", json={"Username": "bob", "Pw": "pw"},
                           headers={"Authorization": 'MediaBrowser Client="t", DeviceId="d"'})  # fmt: skip
        server.reset_log()
        adapter = make(server, token=login.json()["AccessToken"])
        assert len(list(adapter.iter_tracks())) == 4
        paths = [r.path for r in server.requests]
        assert paths[:3] == ["/Library/MediaFolders", "/Users/Me", "/UserViews"]  # 403, then the user's views


def test_legacy_headers_are_not_needed(library: Path) -> None:
    # The fake, like Jellyfin 12, refuses X-Emby-Token unless legacy auth is on; the adapter works anyway.
    with FakeJellyfin(library, token=TOKEN, legacy_auth=False) as server:
        adapter = JellyfinServer(ServerConfig("x", "jellyfin", server.url, token=TOKEN))
        assert len(list(adapter.all_ids("track"))) == 4
        adapter.close()


# -- libraries -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def multi(shared_dir: Path) -> Iterator[FakeJellyfin]:
    library = write_library(shared_dir / "multi.jsonl", LIBRARY)
    more = write_library(shared_dir / "more.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Radiohead"},  # the same artist, shared with "Music"
        {"kind": "album", "id": "al9", "name": "Kid A", "artist_id": "ar1"},
        {"kind": "track", "id": "t9", "name": "Idioteque", "artist_id": "ar1", "album_id": "al9"},
    ])  # fmt: skip
    books = write_library(shared_dir / "books.jsonl", [{"kind": "track", "id": "b1", "name": "Chapter 1"}])
    extra = (LibrarySpec("More Music", more), LibrarySpec("Audiobooks", books, "books"))
    with FakeJellyfin(library, token=TOKEN, extra_libraries=extra) as server:
        assert isinstance(server, FakeJellyfin)
        yield server


def test_all_music_libraries_by_default(multi: FakeJellyfin, make: Make) -> None:
    adapter = make(multi)
    assert sorted(t.title for t in adapter.iter_tracks()) == [
        "Airbag", "Guest Spot", "Idioteque", "Mysterons", "Paranoid Android"]  # fmt: skip
    artists = [a.native_id for a in adapter.iter_artists()]
    assert len(artists) == len(set(artists)) == 3
    assert sorted(adapter.all_ids("artist")) == sorted(artists)


def test_library_option_picks_one(multi: FakeJellyfin, make: Make) -> None:
    multi.reset_log()
    adapter = make(multi, library="more music")  # matched without regard to case
    assert [t.title for t in adapter.iter_tracks()] == ["Idioteque"]
    assert {r.param("ParentId") for r in listed(multi, "/Items")} == {multi.library_id("More Music")}


def test_unknown_library_lists_the_music_libraries(multi: FakeJellyfin, make: Make) -> None:
    with pytest.raises(ConfigError, match=r"'Jazz'.*'Music', 'More Music'"):
        list(make(multi, library="Jazz").iter_tracks())
    with pytest.raises(ConfigError, match="no music library named 'Audiobooks'"):
        list(make(multi, library="Audiobooks").iter_tracks())


# -- Emby ----------------------------------------------------------------------------------------
def test_emby_numeric_ids_legacy_views_and_no_start_index(library: Path, sleeps: list[float]) -> None:
    with FakeJellyfin(library, token=TOKEN, user=("alice", "wonder"), flavor="emby") as emby:
        assert isinstance(emby, FakeJellyfin)
        adapter = JellyfinServer(ServerConfig("emby", "emby", emby.url, user="alice", password="wonder", page_size=3))
        tracks = list(adapter.iter_tracks())
        assert len(tracks) == 4 and all(t.native_id.isdigit() for t in tracks)
        assert {t.native_id for t in tracks} == {emby.native_id("track", f"t{i}") for i in range(1, 5)}
        paths = [r.path for r in emby.requests]
        assert "/UserViews" in paths and f"/Users/{emby.user_id}/Views" in paths  # 404, then the legacy route
        assert all(r.header("x-emby-token") for r in emby.requests if r.path == "/Items")
        adapter.close()


# -- incremental and removals --------------------------------------------------------------------
def test_changed_since_with_nothing_changed_costs_three_requests(fake: FakeJellyfin, make: Make) -> None:
    adapter = make(page_size=2)
    adapter.instance_id()
    list(adapter.iter_artists())
    fake.reset_log()
    assert list(adapter.changed_since(datetime(2025, 1, 1, tzinfo=UTC))) == []
    assert [r.path for r in fake.requests] == ["/Artists", "/Items", "/Items"]
    artists, albums, tracks = fake.requests
    assert artists.param("SortBy") == "DateCreated,SortName" and artists.param("SortOrder") == "Descending"
    assert albums.param("MinDateLastSaved") == tracks.param("MinDateLastSaved") == "2025-01-01T00:00:00.0000000Z"


def test_changed_since_yields_new_and_changed_items_parents_first(
    fake: FakeJellyfin, library: Path, make: Make
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.isoformat().replace("+00:00", "Z")
    records = [dict(r) for r in LIBRARY]
    records[4]["updated_at"] = stamp  # Dummy was edited
    records += [
        {"kind": "artist", "id": "ar4", "name": "Beth Gibbons", "added_at": stamp, "updated_at": stamp},
        {"kind": "track", "id": "t5", "name": "Roads", "artist_id": "ar2", "album_id": "al2", "added_at": stamp,
         "updated_at": stamp},
    ]  # fmt: skip
    write_library(library, records)
    fake.reload()
    adapter = make(page_size=2)
    changed = list(adapter.changed_since(now - timedelta(minutes=10)))
    assert [(c.kind, c.native_id) for c in changed] == [
        ("artist", fake.native_id("artist", "ar4")),
        ("album", fake.native_id("album", "al2")),
        ("track", fake.native_id("track", "t5")),
    ]
    assert len(listed(fake, "/Artists")) == 1  # newest first: the first older artist ends the walk


def test_changed_since_takes_naive_datetimes_as_utc(fake: FakeJellyfin, make: Make) -> None:
    list(make().changed_since(datetime(2024, 2, 1, 8, 0)))  # exactly the stamp: everything counts
    assert listed(fake, "/Items")[0].param("MinDateLastSaved") == "2024-02-01T08:00:00.0000000Z"


def test_all_ids_per_kind_ask_for_no_fields(fake: FakeJellyfin, make: Make) -> None:
    adapter = make()
    n = fake.native_id
    assert sorted(adapter.all_ids("artist")) == sorted(n("artist", a) for a in ("ar1", "ar2", "ar3"))
    assert sorted(adapter.all_ids("album")) == sorted(n("album", a) for a in ("al1", "al2"))
    assert sorted(adapter.all_ids("track")) == sorted(n("track", f"t{i}") for i in range(1, 5))
    for request in listed(fake, "/Items") + listed(fake, "/Artists"):
        assert request.param("Fields") is None
        assert int(request.param("Limit") or 0) >= 10_000


def test_removed_items_disappear_from_all_ids(fake: FakeJellyfin, library: Path, make: Make) -> None:
    write_library(library, [r for r in LIBRARY if r["id"] != "t3"])
    fake.reload()
    assert fake.native_id("track", "t3") not in set(make().all_ids("track"))


# -- failures ------------------------------------------------------------------------------------
def test_5xx_is_retried_with_exponential_backoff(fake: FakeJellyfin, make: Make, sleeps: list[float]) -> None:
    fake.inject(Fault("status", status=503, path_prefix="/Items"), Fault("status", status=502, path_prefix="/Items"))
    assert len(list(make().iter_tracks())) == 4
    assert sleeps == [0.5, 1.0]


def test_429_honours_retry_after_with_a_cap(fake: FakeJellyfin, make: Make, sleeps: list[float]) -> None:
    fake.inject(
        Fault("status", status=429, path_prefix="/Items", headers=(("Retry-After", "7"),)),
        Fault("status", status=429, path_prefix="/Items", headers=(("Retry-After", "86400"),)),
    )
    assert len(list(make(max_retry_after=30.0).iter_albums())) == 2
    assert sleeps == [7.0, 30.0]


def test_persistent_5xx_gives_up_after_bounded_tries(fake: FakeJellyfin, make: Make, sleeps: list[float]) -> None:
    fake.inject(*[Fault("status", status=500, path_prefix="/Items")] * 10)
    with pytest.raises(ServerUnreachable, match=r"GET /Items failed 4 times in 4s \(last: HTTP 500\)"):
        list(make(retry_seconds=3.5).iter_tracks())
    assert len(listed(fake, "/Items")) == 4 and sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("kind", ["drop", "refuse"])
def test_cut_connections_are_retried(fake: FakeJellyfin, make: Make, kind: str, sleeps: list[float]) -> None:
    adapter = make(page_size=2)
    fake.inject(Fault(kind, path_prefix="/Items"))  # type: ignore[arg-type]
    assert len(list(adapter.iter_tracks())) == 4
    assert len(sleeps) == 1


def test_a_slow_answer_times_out_and_is_retried(fake: FakeJellyfin, make: Make, sleeps: list[float]) -> None:
    fake.inject(Fault("delay", seconds=1.0, path_prefix="/Items"))
    assert len(list(make(timeout=0.2).iter_albums())) == 2
    assert len(sleeps) == 1


def test_unreachable_server(make: Make, sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    closed = LoopbackServer()
    closed.start()
    closed.stop()  # a port nobody listens on any more
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ServerUnreachable) as caught:
        list(make(closed).iter_tracks())
    assert "home" in str(caught.value) and TOKEN not in str(caught.value)
    assert TOKEN not in caplog.text


def test_token_never_reaches_logs_or_errors(fake: FakeJellyfin, make: Make, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject(Fault("status", status=503), Fault("drop"), *[Fault("status", status=500)] * 4)
    with pytest.raises(ServerUnreachable) as caught:
        list(make(retry_seconds=3.5).iter_tracks())
    assert TOKEN not in str(caught.value)
    assert TOKEN not in caplog.text
    assert "retry" in caplog.text


class BadServer(LoopbackServer):
    """Answers /Items with whatever the test sets; the rest like a minimal Jellyfin."""

    items_body = b""

    def handle(self, request: Request) -> Response:
        if request.path == "/Library/MediaFolders":
            body = {"Items": [{"Id": "lib", "Name": "Music", "CollectionType": "music"}], "TotalRecordCount": 1}
            return Response(200, json.dumps(body).encode())
        return Response(200, self.items_body)


@pytest.fixture(scope="module")
def bad_server() -> Iterator[BadServer]:
    with BadServer() as server:
        assert isinstance(server, BadServer)
        yield server


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>proxy error</html>", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"TotalRecordCount": 3}', "without an Items list"),
        (b'{"Items": [1, 2]}', "without an Items list of objects"),
    ],
)
def test_malformed_answers_are_bad_responses(bad_server: BadServer, make: Make, body: bytes, message: str) -> None:
    bad_server.items_body = body
    with pytest.raises(BadResponse, match=message):
        list(make(bad_server).iter_tracks())


def test_an_empty_page_before_the_claimed_total_fails_the_listing(library: Path, make: Make) -> None:
    with FakeJellyfin(library, token=TOKEN, lie_total=1_000_000) as liar:
        assert isinstance(liar, FakeJellyfin)
        with pytest.raises(IncompleteListing, match=r"GET /Items listed 4 of the 1000004 items it claims"):
            list(make(liar, page_size=3).iter_tracks())
        assert [r.param("StartIndex") for r in listed(liar, "/Items")] == ["0", "3", "4", "4", "4"]


def test_repeated_items_are_dropped(library: Path, make: Make) -> None:
    with FakeJellyfin(library, token=TOKEN, repeat_items=1) as shifty:
        assert isinstance(shifty, FakeJellyfin)
        ids = list(make(shifty, page_size=2).all_ids("track"))
        assert sorted(ids) == sorted(shifty.native_id("track", f"t{i}") for i in range(1, 5))


def test_a_server_that_ignores_start_index_does_not_loop(library: Path, make: Make) -> None:
    with FakeJellyfin(library, token=TOKEN, ignore_start_index=True, lie_total=10**9) as stuck:
        assert isinstance(stuck, FakeJellyfin)
        with pytest.raises(BadResponse, match="same items again at StartIndex=2"):
            list(make(stuck, page_size=2).iter_tracks())
        assert len(listed(stuck, "/Items")) == 2


# -- write-back ----------------------------------------------------------------------------------
def test_set_artist_image_uploads_base64(fake: FakeJellyfin, make: Make) -> None:
    adapter = make()
    artist = fake.native_id("artist", "ar1")
    adapter.set_artist_image(artist, b"\xff\xd8\xff\xe0 jpeg bytes", "image/jpeg")
    assert fake.images[artist] == ("image/jpeg", b"\xff\xd8\xff\xe0 jpeg bytes")
    with pytest.raises(Unsupported):
        adapter.set_artist_image(artist, b"text", "text/plain")
    with pytest.raises(NotFound):
        adapter.set_artist_image("0" * 32, b"png", "image/png")


def test_config_without_credentials_is_refused(fake: FakeJellyfin) -> None:
    with pytest.raises(ConfigError, match="needs --token or --user"):
        JellyfinServer(ServerConfig("home", "jellyfin", fake.url))
    with pytest.raises(ConfigError):
        JellyfinServer(ServerConfig("home", "plex", fake.url, token=TOKEN))


def test_totals_for_progress_come_from_empty_pages(make: Make, fake: FakeJellyfin) -> None:
    jf = make()
    listed = {kind: len(list(jf.all_ids(kind))) for kind in ("artist", "album", "track")}
    fake.reset_log()
    assert {kind: jf.total(kind) for kind in listed} == listed
    assert {r.param("Limit") for r in fake.requests if r.path in ("/Items", "/Artists")} == {"0"}

"""The Plex adapter: plexapi against real captured Plex XML and against the fake Plex server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.demo.loopback import Fault, LoopbackServer, Request, Response
from soulsync_idmap.errors import AuthError, ConfigError, ServerUnreachable
from soulsync_idmap.servers.base import ServerAlbum, ServerArtist, ServerConfig, ServerTrack
from soulsync_idmap.servers.plex import PlexServer
from soulsync_idmap.servers.retry import RetryPolicy
from tests.conftest import Invoke
from tests.support.fixtures import unlicensed_captures
from tests.support.gen_library import generate

TOKEN = "plex-t0ken-abcdef"


def _config(url: str, **extra: Any) -> ServerConfig:
    return ServerConfig("px", "plex", url, token=TOKEN, **extra)


def _adapter(url: str, **extra: Any) -> PlexServer:
    return PlexServer(_config(url, **extra), retry=RetryPolicy(total=extra.get("retry_seconds", 60.0), sleep=_no_wait))


def _no_wait(seconds: float) -> None:
    return None


class CapturedPlex(LoopbackServer):
    """Serves the real PMS 1.29 captures verbatim, whatever the paging asks."""

    def __init__(self, captures: Path) -> None:
        super().__init__()
        self.captures = captures

    def handle(self, request: Request) -> Response:
        files = {
            "/": "server_root.xml",
            "/library/sections": "library_sections.xml",
        }
        if request.path == "/library":
            body = b'<MediaContainer size="1"><Directory key="sections" title="Library Sections"/></MediaContainer>'
            return Response(200, body, "text/xml")
        name = files.get(request.path)
        if request.path == "/library/sections/1/all":
            name = {"8": "section_all_type8_artists.xml", "9": "section_all_type9_albums.xml",
                    "10": "section_all_type10_tracks.xml"}[request.param("type") or "8"]  # fmt: skip
        if name is None:
            return Response(404, b"", "text/xml")
        body = (self.captures / name).read_bytes()
        if request.path.endswith("/all"):  # excerpts of a larger library: their totalSize is the excerpt's
            body = re.sub(rb'totalSize="\d+"', lambda _: b'totalSize="%d"' % body.count(b"ratingKey="), body, count=1)
        return Response(200, body, "text/xml;charset=utf-8")  # as PMS sends it


@pytest.fixture
def captured() -> Iterator[CapturedPlex]:
    with CapturedPlex(unlicensed_captures("plex", "streammusic-docs")) as server:
        assert isinstance(server, CapturedPlex)
        yield server


def test_real_captures_parse(captured: CapturedPlex) -> None:
    plex = _adapter(captured.url)
    assert plex.instance_id()
    artists = list(plex.iter_artists())
    albums = list(plex.iter_albums())
    (track,) = list(plex.iter_tracks())
    assert artists and all(isinstance(a, ServerArtist) and a.native_id and a.name for a in artists)
    assert albums and all(isinstance(a, ServerAlbum) and a.artist_id for a in albums)
    assert track == ServerTrack(
        native_id="3609", title="可能否", album_id="3608", artist_id="3605", artist_name="木小雅", album_title="可能否",
        track_number=1, disc_number=1, duration_ms=227944, year=2018, mbid=None, isrc=None,
        path="/volume1/music/木小雅/可能否/可能否.mp3", added_at=datetime.fromtimestamp(1638002162, UTC),
        updated_at=datetime.fromtimestamp(1711289822, UTC), guid="plex://track/6344359ca5c478aa2b7a54b8",
    )  # fmt: skip
    # One request per listing page: no per-item reloads.
    listing = [r for r in captured.requests if r.path.startswith("/library/metadata")]
    assert listing == []


def test_mbid_guids_are_read() -> None:
    from xml.etree import ElementTree

    from soulsync_idmap.servers.plex import _mbid

    captures = unlicensed_captures("plex", "streammusic-docs")
    text = (captures / "metadata_track_with_mbid_guid.xml").read_text(encoding="utf-8")
    track = next(ElementTree.fromstring(text).iter("Track"))
    assert _mbid(track) and len(_mbid(track) or "") == 36


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plex") / "library.jsonl"
    generate(path, tracks=5000, albums=400, artists=90, seed=4)
    return path


@pytest.fixture
def fake(library: Path) -> Iterator[FakePlex]:
    with FakePlex(library, token=TOKEN) as server:
        assert isinstance(server, FakePlex)
        yield server


def test_full_listing_is_section_wide_and_paged(fake: FakePlex) -> None:
    plex = _adapter(fake.url, page_size=1000)
    tracks = list(plex.iter_tracks())
    assert len(tracks) == 5000 and len({t.native_id for t in tracks}) == 5000
    assert all(t.path and t.duration_ms and t.album_id and t.artist_id for t in tracks)
    listing = [r for r in fake.requests if r.path.endswith("/all")]
    assert len(listing) == 5  # 5,000 tracks in pages of 1,000
    assert all(r.header("x-plex-container-size") == "1000" for r in listing)
    assert not any(r.path.startswith("/library/metadata") for r in fake.requests)
    assert all(r.header("x-plex-token") == TOKEN for r in fake.requests)
    assert not any(TOKEN in r.raw_path for r in fake.requests)  # the token travels in a header only


def test_incremental_and_removal_detection(fake: FakePlex, library: Path) -> None:
    plex = _adapter(fake.url)
    assert list(plex.changed_since(datetime.now(UTC))) == []
    everything = list(plex.changed_since(datetime(2000, 1, 1, tzinfo=UTC)))
    assert [i.kind for i in everything[:1]] == ["artist"] and len(everything) == 5490
    assert len(set(plex.all_ids("track"))) == 5000
    assert any("track.updatedAt" in r.raw_path for r in fake.requests)


def test_library_choice(fake: FakePlex) -> None:
    assert len(list(_adapter(fake.url, library="Music").iter_artists())) == 90
    with pytest.raises(ConfigError, match="no music library 'Jazz'"):
        list(_adapter(fake.url, library="Jazz").iter_artists())


def test_bad_token_is_an_auth_error(fake: FakePlex) -> None:
    plex = PlexServer(ServerConfig("px", "plex", fake.url, token="wrong"))
    with pytest.raises(AuthError) as failure:
        plex.instance_id()
    assert "wrong" not in str(failure.value) and TOKEN not in str(failure.value)


def test_5xx_is_retried_and_then_reported(fake: FakePlex) -> None:
    plex = _adapter(fake.url)
    fake.inject(Fault("status", status=503), Fault("status", status=500))
    assert len(list(plex.iter_artists())) == 90
    fake.inject(*[Fault("status", status=500)] * 5)
    with pytest.raises(ServerUnreachable, match=r"failed 4 times in 2s \(last: HTTP 500\)"):
        list(_adapter(fake.url, retry_seconds=2.0).iter_artists())


def test_unreachable() -> None:
    plex = _adapter("http://127.0.0.1:9", timeout=1.0)
    with pytest.raises(ServerUnreachable, match=r"ConnectionError talking to http://127\.0\.0\.1:9"):
        plex.instance_id()


def test_artist_image_upload_goes_through_plexapi(fake: FakePlex) -> None:
    plex = _adapter(fake.url)
    artist = next(plex.iter_artists())
    plex.set_artist_image(artist.native_id, b"\x89PNG fake", "image/png")
    assert fake.posters == {artist.native_id: b"\x89PNG fake"}


def test_sync_through_the_cli(idmap: Invoke, fake: FakePlex, library: Path) -> None:
    assert idmap("servers", "add", "plex", "home", "--url", fake.url, "--token", TOKEN).exit_code == 0
    result = idmap("sync", "home", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)[0]
    assert summary["new"] == 5490
    uuid = idmap("lookup", "home", str(FakePlex.rating_key("track", "t42"))).output.strip()
    assert idmap("resolve", uuid).output.strip() == str(FakePlex.rating_key("track", "t42"))
    again = json.loads(idmap("sync", "home", "--json").output)[0]
    assert again["mode"] == "incremental" and again["new"] == 0 and again["gone"] == 0
    # A removed track is tombstoned by the incremental id pass.
    lines = [line for line in library.read_text().splitlines() if '"id":"t42"' not in line]
    backup = library.read_text()
    try:
        library.write_text("\n".join(lines) + "\n")
        fake.reload()
        gone = json.loads(idmap("sync", "home", "--json").output)[0]
        assert gone["gone"] == 1
    finally:
        library.write_text(backup)
        fake.reload()


def test_plex_metadata_guids_are_read_and_local_ones_are_not(fake: FakePlex) -> None:
    from xml.etree import ElementTree

    plex = _adapter(fake.url)
    tracks = list(plex.iter_tracks())
    assert all(t.guid and t.guid.startswith("plex://track/") for t in tracks)
    assert len({t.guid for t in tracks}) == len(tracks)
    local = ElementTree.fromstring('<Track ratingKey="7" guid="local://7" title="x" type="track"/>')
    assert plex._item("track", local).guid is None  # tied to this server's database, not to the item


def test_totals_for_progress_come_from_empty_pages(fake: FakePlex) -> None:
    plex = _adapter(fake.url)
    listed = {kind: len(list(plex.all_ids(kind))) for kind in ("artist", "album", "track")}
    assert {kind: plex.total(kind) for kind in listed} == listed == {"artist": 90, "album": 400, "track": 5000}


def test_a_no_op_incremental_asks_only_for_the_sections_change_counter(
    idmap: Invoke, fake: FakePlex, library: Path
) -> None:
    assert idmap("servers", "add", "plex", "px", "--url", fake.url, "--token", TOKEN).exit_code == 0
    assert idmap("sync", "px").exit_code == 0
    fake.reset_log()
    quiet = idmap("sync", "px", "--json")
    assert quiet.exit_code == 0 and json.loads(quiet.stdout)[0]["mode"] == "incremental"
    assert not [r for r in fake.requests if r.path.endswith("/all")]  # no listing, not even of ids
    lines = library.read_text(encoding="utf-8").splitlines()
    first_track = next(i for i, line in enumerate(lines) if '"kind":"track"' in line)
    removed = json.loads(lines[first_track])
    library.write_text("\n".join(lines[:first_track] + lines[first_track + 1 :]) + "\n", encoding="utf-8")
    fake.reload()  # the library changed: the counter moves, and the removal is seen
    changed = json.loads(idmap("sync", "px", "--json").stdout)[0]
    assert changed["gone"] == 1, changed
    library.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fake.reload()
    assert json.loads(idmap("sync", "px", "--json").stdout)[0]["revived"] == 1, removed

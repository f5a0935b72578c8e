"""The Subsonic adapter against the real supysonic server, and against OpenSubsonic spec payloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from soulsync_idmap import IdMap
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.loopback import LoopbackServer, Request, Response
from soulsync_idmap.errors import AuthError, ServerError
from soulsync_idmap.servers.base import ServerConfig
from soulsync_idmap.servers.subsonic import SubsonicServer
from tests.conftest import Invoke, write_jsonl
from tests.support.audio import Tagged, write_mp3
from tests.support.fixtures import FIXTURES
from tests.support.supysonic_server import SupysonicServer

SPEC = FIXTURES / "subsonic" / "opensubsonic-spec"
MBID = "6b9a509f-6907-4a6e-9345-2f12da09ba4b"

# (artist, album, year, [(title, seconds)])
MUSIC = [
    ("Radiohead", "OK Computer", 1997, ["Airbag", "Paranoid Android", "Let Down"]),
    ("Portishead", "Dummy", 1994, ["Mysterons", "Sour Times"]),
    ("Björk", "Homogenic", 1997, ["Hunter", "Jóga"]),
]


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subsonic") / "music"
    for artist, album, year, titles in MUSIC:
        for number, title in enumerate(titles, start=1):
            write_mp3(
                root / artist / album / f"{number:02d} {title}.mp3",
                Tagged(title, artist, album, artist, number, 1, year, MBID if title == "Airbag" else None),
            )
    return root


@pytest.fixture(scope="module")
def supysonic(music: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupysonicServer]:
    with SupysonicServer(music, tmp_path_factory.mktemp("supysonic-data")) as server:
        yield server


def _config(url: str, password: str = "s3cret") -> ServerConfig:
    return ServerConfig("sub", "subsonic", url, user="alice", password=password)


def test_lists_the_real_server(supysonic: SupysonicServer) -> None:
    sub = SubsonicServer(_config(supysonic.url))
    artists, albums, tracks = list(sub.iter_artists()), list(sub.iter_albums()), list(sub.iter_tracks())
    assert sorted(a.name for a in artists) == ["Björk", "Portishead", "Radiohead"]
    assert sorted(a.title for a in albums) == ["Dummy", "Homogenic", "OK Computer"]
    assert len(tracks) == 7
    airbag = next(t for t in tracks if t.title == "Airbag")
    ok = next(a for a in albums if a.title == "OK Computer")
    assert (airbag.album_id, airbag.track_number, airbag.disc_number, airbag.year) == (ok.native_id, 1, 1, 1997)
    assert airbag.duration_ms == 2000 and airbag.path == "Radiohead/OK Computer/01 Airbag.mp3"
    assert ok.artist_id == next(a.native_id for a in artists if a.name == "Radiohead")
    assert sorted(sub.all_ids("track")) == sorted(t.native_id for t in tracks)
    assert sub.instance_id().startswith("subsonic:http://127.0.0.1:")


def test_walk_fallback_lists_the_same_and_costs_more(supysonic: SupysonicServer) -> None:
    """The fallback (getArtists, getAlbumList2, getAlbum) on the real server, with request counts."""
    results, counts = {}, {}
    for mode in ("search3", "walk"):
        client = httpx.Client(event_hooks={"request": [lambda r, c=counts, m=mode: _count(c, m)]})
        sub = SubsonicServer(_config(supysonic.url), client=client, listing=mode)
        results[mode] = [sorted(i.native_id for i in items) for items in
                         (sub.iter_artists(), sub.iter_albums(), sub.iter_tracks())]  # fmt: skip
        sub.close()
    assert results["walk"] == results["search3"] and [len(ids) for ids in results["walk"]] == [3, 3, 7]
    # search3: 2 pings + 3 kinds x (1 page + the empty page twice); walk: 2 pings + getArtists + (1 + 2)
    # + (1 + 2) + 3 getAlbum (the last, empty page of a listing is asked twice before it is believed)
    assert counts == {"search3": 11, "walk": 12}


def _count(counts: dict[str, int], mode: str) -> None:
    counts[mode] = counts.get(mode, 0) + 1


def test_changed_since_reads_newest_albums(supysonic: SupysonicServer) -> None:
    sub = SubsonicServer(_config(supysonic.url))
    items = list(sub.changed_since(datetime(2000, 1, 1, tzinfo=UTC)))
    assert [i.kind for i in items] == ["artist"] * 3 + ["album"] * 3 + ["track"] * 7
    assert all(isinstance(i.added_at, datetime) for i in items if i.kind != "artist")
    assert list(sub.changed_since(datetime.now(UTC) + timedelta(days=1))) == []


def test_wrong_password_is_an_auth_error(supysonic: SupysonicServer) -> None:
    with pytest.raises(AuthError) as failure:
        list(SubsonicServer(_config(supysonic.url, "wrong-pass")).iter_artists())
    assert "wrong-pass" not in str(failure.value) and "code 40" in str(failure.value)


def test_sync_and_one_dataset_with_jellyfin(
    idmap: Invoke, supysonic: SupysonicServer, tmp_path: Path, db_url: str
) -> None:
    # The same files as a fake Jellyfin server sees them.
    records: list[dict[str, Any]] = []
    for a_index, (artist, album, year, titles) in enumerate(MUSIC):
        records.append({"kind": "artist", "id": f"a{a_index}", "name": artist})
        records.append({"kind": "album", "id": f"b{a_index}", "name": album, "artist_id": f"a{a_index}", "year": year})
        for number, title in enumerate(titles, start=1):
            records.append(
                {
                    "kind": "track",
                    "id": f"t{a_index}{number}",
                    "name": title,
                    "artist_id": f"a{a_index}",
                    "album_id": f"b{a_index}",
                    "track_number": number,
                    "disc_number": 1,
                    "year": year,
                    "duration_ms": 2040,
                    "path": f"/srv/music/{artist}/{album}/{number:02d} {title}.mp3",
                }
            )
    library = write_jsonl(tmp_path / "jf.jsonl", records)
    with FakeJellyfin(library, token="jf-token") as jelly:
        assert isinstance(jelly, FakeJellyfin)
        assert idmap("servers", "add", "jellyfin", "jf", "--url", jelly.url, "--token", "jf-token").exit_code == 0
        assert (
            idmap(
                "servers", "add", "subsonic", "sub", "--url", supysonic.url, "--user", "alice", "--password", "s3cret"
            ).exit_code
            == 0
        )
        for name in ("jf", "sub"):
            result = idmap("sync", name, "--json")
            assert result.exit_code == 0, result.output
        summary = json.loads(result.output)[0]
        assert summary["new"] == 0 and summary["merged"] == 3 + 3 + 7
        sub = SubsonicServer(_config(supysonic.url))
        with IdMap.open(db_url) as api:
            for track in sub.iter_tracks():
                snapshot_id = next(r["id"] for r in records if r["kind"] == "track" and r["name"] == track.title)
                assert api.lookup("sub", track.native_id) == api.lookup("jf", jelly.native_id("track", snapshot_id))
        again = json.loads(idmap("sync", "sub", "--json").output)[0]
        assert again["mode"] == "incremental" and again["new"] == 0 and again["gone"] == 0


class SpecServer(LoopbackServer):
    """OpenSubsonic spec example payloads; token auth expected (API 1.16.1)."""

    def handle(self, request: Request) -> Response:
        method = request.path.rsplit("/", 1)[-1]
        if "u" not in request.query:
            return Response(200, b'{"subsonic-response":{"status":"failed","version":"1.16.1","error":{"code":10}}}')
        if "t" not in request.query or "s" not in request.query or "p" in request.query:
            return Response(
                200,
                json.dumps(
                    {
                        "subsonic-response": {
                            "status": "failed",
                            "version": "1.16.1",
                            "error": {"code": 10, "message": "token auth expected"},
                        }
                    }
                ).encode(),
            )
        if method == "ping":
            return Response(
                200, b'{"subsonic-response":{"status":"ok","version":"1.16.1","type":"spec","openSubsonic":true}}'
            )
        if method == "getMusicFolders":
            return Response(200, b"{}")
        name = {
            "search3": "search3.opensubsonic.json",
            "getAlbumList2": "getalbumlist2.opensubsonic.json",
            "getAlbum": "getalbum.opensubsonic.json",
            "getArtist": "getartist.opensubsonic.json",
        }.get(method)
        if name is None:
            return Response(
                200,
                json.dumps(
                    {
                        "subsonic-response": {
                            "status": "failed",
                            "version": "1.16.1",
                            "error": {"code": 70, "message": "The requested data was not found."},
                        }
                    }
                ).encode(),
            )
        body = json.loads((SPEC / name).read_bytes())
        if method == "search3":  # the example is an excerpt: its album counts the songs it lists
            result = body["subsonic-response"]["searchResult3"]
            for album in result.get("album", []):
                album["songCount"] = sum(1 for s in result.get("song", []) if s.get("albumId") == album["id"])
        return Response(200, json.dumps(body).encode())


@pytest.fixture
def spec() -> Iterator[SpecServer]:
    with SpecServer() as server:
        assert isinstance(server, SpecServer)
        yield server


def test_opensubsonic_shapes_and_token_auth(spec: SpecServer) -> None:
    sub = SubsonicServer(_config(spec.url))
    (song,) = list(sub.iter_tracks())
    assert song.native_id == "082f435a363c32c57d5edb6a678a28d4" and song.title == '"polar expedition"'
    assert song.track_number == 4 and song.year == 2005
    (album,) = list(sub.iter_albums())
    assert album.artist_id == "91c3901ac465b9efc439e4be4270c2b6" and album.added_at is not None
    assert all("t" in r.query and "p" not in r.query for r in spec.requests if "u" in r.query)
    assert all("s3cret" not in r.raw_path for r in spec.requests)


def test_error_envelope_becomes_our_error(spec: SpecServer) -> None:
    sub = SubsonicServer(_config(spec.url))
    with pytest.raises(ServerError, match=r"The requested data was not found\. \(code 70\)"):
        sub._get("getSong", id="x")


def test_a_new_albums_guest_artist_is_linked_by_an_incremental_sync_and_its_track_points_to_it(
    idmap: Invoke, tmp_path: Path, db_url: str
) -> None:
    """The guest is a track artist only: the newest-albums changes name the album artist, not the guest."""
    from sqlalchemy import text

    root, data = tmp_path / "music", tmp_path / "supysonic-data"
    write_mp3(root / "Massive Attack" / "Mezzanine" / "01 Angel.mp3",
              Tagged("Angel", "Massive Attack", "Mezzanine", "Massive Attack", 1, 1, 1998))  # fmt: skip
    with SupysonicServer(root, data) as server:
        args = ("servers", "add", "subsonic", "sub", "--url", server.url, "--user", "alice", "--password", "s3cret")
        assert idmap(*args).exit_code == 0
        assert idmap("sync", "sub").exit_code == 0
    write_mp3(root / "Massive Attack" / "Heligoland" / "01 Pray for Rain.mp3",
              Tagged("Pray for Rain", "Tunde Adebimpe", "Heligoland", "Massive Attack", 1, 1, 2010))  # fmt: skip
    with SupysonicServer(root, data) as server:  # the same database: a rescan finds the new album
        _moved(db_url, server.url)
        sub = SubsonicServer(_config(server.url))
        song = next(t for t in sub.iter_tracks() if t.title == "Pray for Rain")
        result = idmap("sync", "sub", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[0]["mode"] == "incremental"
    assert song.artist_id is not None
    with IdMap.open(db_url) as api:
        guest = api.lookup("sub", song.artist_id, "artist")
        track = api.lookup("sub", song.native_id, "track")
        assert guest is not None and track is not None
        with api.store.engine.connect() as conn:
            artist_uuid = conn.execute(text("SELECT artist_uuid FROM track WHERE uuid = :u"), {"u": track}).scalar()
    assert artist_uuid == guest


def _moved(db_url: str, url: str) -> None:
    """Point server "sub" at the restarted server's new port (a Subsonic instance is known by its URL)."""
    from sqlalchemy import text

    with IdMap.open(db_url) as api, api.store.engine.begin() as conn:
        conn.execute(text("UPDATE server SET url = :u, instance_id = NULL WHERE name = 'sub'"), {"u": url})

"""The fake Jellyfin/Emby server answers like the real ones (StreamMusic captures): routes, auth
forms, paging, Field gating, filters, JSON conventions, and image uploads."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from tests.support.fixtures import unlicensed_captures

KEY = "fake-key-123"
AUTH = {"Authorization": f'MediaBrowser Client="t", Device="t", DeviceId="d1", Version="1", Token="{KEY}"'}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
DATE7 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
CAPTURES = unlicensed_captures("jellyfin", "streammusic-docs")

RECORDS: list[dict[str, Any]] = [
    {"kind": "artist", "id": "ar1", "name": "Björk", "mbid": "87c5dedd-371d-4a53-9f7f-80522fb7f3cb",
     "added_at": "2024-01-05T10:00:00Z"},
    {"kind": "artist", "id": "ar2", "name": "Guest", "added_at": "2024-03-01T10:00:00Z"},
    {"kind": "album", "id": "al1", "name": "Post", "artist_id": "ar1", "year": 1995,
     "added_at": "2024-01-05T10:00:00Z", "updated_at": "2024-06-01T00:00:00Z"},
    {"kind": "track", "id": "t1", "name": "Army of Me", "artist_id": "ar1", "album_id": "al1", "track_number": 1,
     "disc_number": 1, "duration_ms": 234500, "mbid": "0b2b6f4a-3d87-4a5e-9c39-3f1e0a1f2b3c",
     "path": "/music/Björk/Post/01 Army of Me.flac", "added_at": "2024-01-05T10:00:00.123456Z"},
    {"kind": "track", "id": "t2", "name": "Hyperballad", "artist_id": "ar1", "album_id": "al1", "track_number": 2,
     "disc_number": 1, "duration_ms": 321000, "path": "/music/Björk/Post/02 Hyperballad.flac",
     "added_at": "2024-01-04T10:00:00Z"},
    {"kind": "track", "id": "t3", "name": "Duet", "artist_id": "ar2", "album_id": "al1", "track_number": 3,
     "added_at": "2024-03-01T10:00:00Z"},
]  # fmt: skip


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fake") / "lib.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(library: Path) -> Iterator[FakeJellyfin]:
    with FakeJellyfin(library, token=KEY, user=("ann", "pw")) as fake:
        assert isinstance(fake, FakeJellyfin)
        yield fake


@pytest.fixture(scope="module")
def emby(library: Path) -> Iterator[FakeJellyfin]:
    with FakeJellyfin(library, token=KEY, user=("ann", "pw"), flavor="emby", user_admin=False) as fake:
        assert isinstance(fake, FakeJellyfin)
        yield fake


def get(fake: FakeJellyfin, path: str, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    return httpx.get(fake.url + path, params=params, headers=AUTH if headers is None else headers)


def items(fake: FakeJellyfin, **params: Any) -> dict[str, Any]:
    response = get(fake, "/Items", ParentId=fake.library_id(), Recursive="true", **params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return True


# -- auth ----------------------------------------------------------------------------------------
def test_public_routes_need_no_token(server: FakeJellyfin) -> None:
    info = get(server, "/System/Info/Public", headers={}).json()
    assert info["Id"] == server.server_id and info["ProductName"] == "Jellyfin Server"
    assert get(server, "/Items", headers={}).status_code == 401


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        (AUTH, {}, 200),
        ({"authorization": f'mediabrowser token="{KEY}"'}, {}, 200),  # scheme and names in any case
        ({}, {"ApiKey": KEY}, 200),
        ({"X-Emby-Token": KEY}, {}, 401),  # legacy forms are off, as on Jellyfin 12
        ({}, {"api_key": KEY}, 401),
        ({"Authorization": 'MediaBrowser Token="wrong"'}, {}, 401),
    ],
)
def test_jellyfin_token_forms(
    server: FakeJellyfin, headers: dict[str, str], params: dict[str, str], status: int
) -> None:
    assert get(server, "/Library/MediaFolders", headers=headers, **params).status_code == status


def test_emby_takes_legacy_forms_and_the_emby_prefix(emby: FakeJellyfin) -> None:
    assert get(emby, "/emby/Library/MediaFolders", headers={"X-Emby-Token": KEY}).status_code == 200
    assert get(emby, "/Library/MediaFolders", headers={}, api_key=KEY).status_code == 200


def test_login_issues_a_session_token(server: FakeJellyfin) -> None:
    ident = {"Authorization": 'MediaBrowser Client="t", Device="t", DeviceId="d1", Version="1"'}
    url = server.url + "/Users/AuthenticateByName"
    assert httpx.post(url, json={"Username": "ann", "Pw": "no"}, headers=ident).status_code == 401
    assert httpx.post(url, json={"Username": "ann", "Pw": "pw"}).status_code == 400  # no Client/DeviceId
    answer = httpx.post(url, json={"Username": "ann", "Pw": "pw"}, headers=ident).json()
    assert set(answer) == {"User", "SessionInfo", "AccessToken", "ServerId"}
    assert answer["User"]["Id"] == server.user_id and HEX32.match(answer["AccessToken"])
    session = {"Authorization": f'MediaBrowser Client="t", Token="{answer["AccessToken"]}"'}
    assert get(server, "/Users/Me", headers=session).json()["Name"] == "ann"
    views = get(server, "/UserViews", headers=session).json()["Items"]
    assert [(v["Name"], v["Type"], v["CollectionType"]) for v in views] == [("Music", "CollectionFolder", "music")]
    assert get(server, "/UserViews").status_code == 400  # an API key has no user: userId is required
    assert get(server, f"/Users/{server.user_id}/Items", headers=session, IncludeItemTypes="Audio",
               Recursive="true").json()["TotalRecordCount"] == 3  # fmt: skip


# -- shapes ----------------------------------------------------------------------------------------
def test_list_items_look_like_the_real_capture(server: FakeJellyfin) -> None:
    fields = "SortName,MediaSources,DateCreated"
    data = items(server, IncludeItemTypes="Audio", Fields=fields, SortBy="SortName")
    assert set(data) == {"Items", "TotalRecordCount", "StartIndex"}
    track = next(i for i in data["Items"] if i["Name"] == "Army of Me")
    real = json.loads((CAPTURES / "users_items_audio_list.json").read_text(encoding="utf-8"))["Items"][0]
    assert set(track) <= set(real), set(track) - set(real)
    assert {k: type(v) for k, v in track.items()} == {k: type(real[k]) for k in track}
    assert no_nulls(data)
    assert HEX32.match(track["Id"]) and HEX32.match(track["AlbumId"]) and DATE7.match(track["DateCreated"])
    assert track["MediaSources"][0]["Path"].startswith("/music/Björk/Post/")
    assert (track["RunTimeTicks"], track["SortName"]) == (2_345_000_000, "0001 - 0001 - Army of Me")


def test_gated_fields_appear_only_when_asked(server: FakeJellyfin) -> None:
    bare = items(server, IncludeItemTypes="Audio")["Items"][0]
    assert not {"DateCreated", "Path", "ProviderIds", "SortName", "ParentId", "MediaSources"} & set(bare)
    full = items(server, IncludeItemTypes="Audio", Fields="ProviderIds,Path,DateCreated,ParentId", SortBy="SortName")
    army = next(i for i in full["Items"] if i["Name"] == "Army of Me")
    assert army["DateCreated"] == "2024-01-05T10:00:00.1234560Z"
    assert army["Path"] == "/music/Björk/Post/01 Army of Me.flac"
    assert army["ParentId"] == army["AlbumId"] == server.native_id("album", "al1")
    ids = army["ProviderIds"]
    assert ids["MusicBrainzRecording"] == "0b2b6f4a-3d87-4a5e-9c39-3f1e0a1f2b3c"
    assert ids["MusicBrainzTrack"] != ids["MusicBrainzRecording"]  # a release-track id, another entity


def test_emby_shapes(emby: FakeJellyfin) -> None:
    data = get(emby, "/Items", headers={"X-Emby-Token": KEY}, IncludeItemTypes="MusicAlbum", Recursive="true").json()
    assert set(data) == {"Items", "TotalRecordCount"}  # no StartIndex
    album = data["Items"][0]
    assert album["Id"].isdigit() and album["AlbumArtists"][0]["Id"] == emby.native_id("artist", "ar1")
    real = json.loads((CAPTURES / "emby" / "users_items_musicalbum_list.json").read_text(encoding="utf-8"))
    assert set(album) <= set(real["Items"][0])


def test_single_item_is_a_full_dto_and_takes_dashed_ids(server: FakeJellyfin) -> None:
    native = server.native_id("track", "t1")
    dashed = f"{native[:8]}-{native[8:12]}-{native[12:16]}-{native[16:20]}-{native[20:]}".upper()
    item = get(server, f"/Items/{dashed}").json()
    assert item["Id"] == native and {"ProviderIds", "Path", "DateCreated", "ParentId"} <= set(item)
    assert get(server, f"/Items/{'0' * 32}").status_code == 404


# -- queries ---------------------------------------------------------------------------------------
def test_paging_and_sorting(server: FakeJellyfin) -> None:
    newest = items(server, IncludeItemTypes="Audio", SortBy="DateCreated,SortName", SortOrder="Descending")
    assert [i["Name"] for i in newest["Items"]] == ["Duet", "Army of Me", "Hyperballad"]
    page = items(server, IncludeItemTypes="Audio", SortBy="DateCreated", StartIndex=1, Limit=1)
    assert (page["StartIndex"], page["TotalRecordCount"], [i["Name"] for i in page["Items"]]) == (1, 3, ["Army of Me"])
    assert get(server, "/Items", SortBy="DateLastMediaAdded").status_code == 400  # a Field, not a sort


def test_min_date_last_saved_filters_items_but_not_artists(server: FakeJellyfin) -> None:
    since = "2024-02-01T00:00:00.0000000Z"
    changed = items(server, IncludeItemTypes="MusicAlbum,Audio", MinDateLastSaved=since, SortBy="SortName")
    assert [i["Name"] for i in changed["Items"]] == ["Duet", "Post"]  # "0000 - 0003 - Duet" < "post"
    artists = get(server, "/Artists", ParentId=server.library_id(), MinDateLastSaved=since).json()
    assert artists["TotalRecordCount"] == 2


def test_artists_include_track_artists_album_artists_do_not(server: FakeJellyfin) -> None:
    every = get(server, "/Artists", ParentId=server.library_id(), Fields="ProviderIds").json()["Items"]
    assert sorted(a["Name"] for a in every) == ["Björk", "Guest"]
    assert next(a for a in every if a["Name"] == "Björk")["ProviderIds"] == {
        "MusicBrainzArtist": "87c5dedd-371d-4a53-9f7f-80522fb7f3cb"
    }
    album_artists = get(server, "/Artists/AlbumArtists", ParentId=server.library_id()).json()["Items"]
    assert [a["Name"] for a in album_artists] == ["Björk"]


def test_native_ids_are_stable_and_distinct(server: FakeJellyfin, emby: FakeJellyfin) -> None:
    jelly = {server.native_id(r["kind"], r["id"]) for r in RECORDS}
    numeric = {emby.native_id(r["kind"], r["id"]) for r in RECORDS}
    assert len(jelly) == len(numeric) == len(RECORDS)
    assert all(HEX32.match(i) for i in jelly) and all(i.isdigit() for i in numeric)
    assert server.native_id("track", "t1") == FakeJellyfin.native_id(server, "track", "t1")


def test_lies_on_request(library: Path) -> None:
    with FakeJellyfin(library, token=KEY, lie_total=5, repeat_items=1) as liar:
        assert isinstance(liar, FakeJellyfin)
        first = items(liar, IncludeItemTypes="Audio", SortBy="SortName", Limit=2)
        second = items(liar, IncludeItemTypes="Audio", SortBy="SortName", StartIndex=2, Limit=2)
        assert first["TotalRecordCount"] == 8
        assert second["Items"][0]["Id"] == first["Items"][1]["Id"]  # the window starts one item early


# -- images ----------------------------------------------------------------------------------------
def test_image_upload(server: FakeJellyfin, emby: FakeJellyfin) -> None:
    artist = server.native_id("artist", "ar1")
    url = f"{server.url}/Items/{artist}/Images/Primary"
    body = base64.b64encode(b"\x89PNG data")
    assert httpx.post(url, content=body, headers={**AUTH, "Content-Type": "image/png"}).status_code == 204
    assert server.images[artist] == ("image/png", b"\x89PNG data")
    wrong = httpx.post(url, content=body, headers={**AUTH, "Content-Type": "application/octet-stream"})
    assert (wrong.status_code, wrong.text) == (400, "Incorrect ContentType.")
    assert httpx.post(url, content=b"%%%", headers={**AUTH, "Content-Type": "image/png"}).status_code == 400
    missing = f"{server.url}/Items/{'1' * 32}/Images/Primary"
    assert httpx.post(missing, content=body, headers={**AUTH, "Content-Type": "image/png"}).status_code == 404
    # Uploads need an admin: Emby's user here is not one.
    ident = {"X-Emby-Authorization": 'MediaBrowser Client="t", DeviceId="d"'}
    login = httpx.post(emby.url + "/Users/AuthenticateByName", json={"Username": "ann", "Pw": "pw"}, headers=ident)
    user_token = {"X-Emby-Token": login.json()["AccessToken"], "Content-Type": "image/png"}
    emby_url = f"{emby.url}/Items/{emby.native_id('artist', 'ar1')}/Images/Primary"
    assert httpx.post(emby_url, content=body, headers=user_token).status_code == 403
    assert get(emby, "/Library/MediaFolders", headers={"X-Emby-Token": user_token["X-Emby-Token"]}).status_code == 403

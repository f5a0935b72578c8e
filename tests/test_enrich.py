"""Artist images via spotipy against a fake Spotify Web API on loopback, uploaded to a fake Jellyfin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap.config import Config
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.loopback import Fault
from soulsync_idmap.enrich import SpotifyArtists, choose, enrich_artist_images
from soulsync_idmap.errors import Unsupported
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.sync import sync_servers
from tests.conftest import write_jsonl
from tests.support.fake_spotify import FakeSpotify, SpotifyArtist

TOKEN = "jf-token-0123"
LIBRARY = [
    {"kind": "artist", "id": "a1", "name": "Radiohead"},
    {"kind": "artist", "id": "a2", "name": "Genesis"},  # two Spotify artists share the name
    {"kind": "artist", "id": "a3", "name": "Nobody Knows These People"},
    {"kind": "artist", "id": "a4", "name": "Portishead"},
]
SPOTIFY = [
    SpotifyArtist("4Z8W4fKeB5YxbusRsdQVPb", "Radiohead", 80, ("alternative rock",), b"radiohead-jpeg"),
    SpotifyArtist("3CkvROUTQ6nRi9yQOcsB50", "Genesis", 70, ("progressive rock",)),
    SpotifyArtist("0Genesis0000000000000X", "Genesis", 60, ("worship",)),
    SpotifyArtist("6liAMWkVf5LH7YR9yfFy1Y", "Portishead", 65, ("trip hop",), b"portishead-jpeg"),
]


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> Iterator[tuple[Store, Config, FakeJellyfin, FakeSpotify]]:
    library = write_jsonl(tmp_path / "lib.jsonl", LIBRARY)
    with FakeJellyfin(library, token=TOKEN) as jelly, FakeSpotify(artists=list(SPOTIFY)) as spotify:
        assert isinstance(jelly, FakeJellyfin)
        store = Store.open(db_url)
        config = Config(tmp_path / "config.json")
        store.add_server("jf", "jellyfin", jelly.url, {})
        config.set_secrets("jf", token=TOKEN)
        sync_servers(store, ["jf"], config)
        yield store, config, jelly, spotify
        store.close()


def _client(spotify: FakeSpotify) -> SpotifyArtists:
    return SpotifyArtists("client-id", "client-secret", api_base=spotify.api, token_url=spotify.token_url,
                          sleep=lambda s: None)  # fmt: skip


def test_images_uploaded_unsure_skipped_ids_remembered(setup: tuple[Store, Config, FakeJellyfin, FakeSpotify]) -> None:
    store, config, jelly, spotify = setup
    report = enrich_artist_images(store, config, "jf", _client(spotify))
    assert sorted(report.uploaded) == ["Portishead", "Radiohead"]
    assert [name for name, _ in report.unsure] == ["Genesis", "Nobody Knows These People"]
    assert dict(report.unsure)["Genesis"] == "2 artists named 'Genesis'"
    uploaded = {native: body for native, (_, body) in jelly.images.items()}
    assert uploaded[jelly.native_id("artist", "a1")] == b"radiohead-jpeg"
    engine = create_engine(store.url)
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT value, source FROM external_id")).all())
    engine.dispose()
    assert stored == {"4Z8W4fKeB5YxbusRsdQVPb": "enrich", "6liAMWkVf5LH7YR9yfFy1Y": "enrich"}
    # A second run reuses what it found: nothing new is searched or uploaded.
    searches = len([r for r in spotify.requests if r.path == "/v1/search"])
    again = enrich_artist_images(store, config, "jf", _client(spotify))
    assert again.uploaded == []
    assert len([r for r in spotify.requests if r.path == "/v1/search"]) == searches + 2  # only the two unsure


def test_dry_run_changes_nothing(setup: tuple[Store, Config, FakeJellyfin, FakeSpotify]) -> None:
    store, config, jelly, spotify = setup
    report = enrich_artist_images(store, config, "jf", _client(spotify), dry_run=True)
    assert "Radiohead -> Radiohead (4Z8W4fKeB5YxbusRsdQVPb, exact name)" in report.planned
    assert len(report.planned) == 2 and report.uploaded == []
    assert jelly.images == {}
    limited = enrich_artist_images(store, config, "jf", _client(spotify), dry_run=True, limit=1)
    assert len(limited.planned) + len(limited.unsure) == 1


def test_rate_limit_is_waited_out(setup: tuple[Store, Config, FakeJellyfin, FakeSpotify]) -> None:
    store, config, _, spotify = setup
    waits: list[float] = []
    client = SpotifyArtists("client-id", "client-secret", api_base=spotify.api, token_url=spotify.token_url,
                            sleep=waits.append)  # fmt: skip
    spotify.inject(Fault("status", status=429, path_prefix="/v1/search", headers=(("Retry-After", "2"),)))
    report = enrich_artist_images(store, config, "jf", client)
    assert sorted(report.uploaded) == ["Portishead", "Radiohead"] and waits == [2.0]


def test_subsonic_and_snapshot_have_no_upload(tmp_path: Path, db_url: str) -> None:
    store = Store.open(db_url)
    store.add_server("snap", "snapshot", str(write_jsonl(tmp_path / "s.jsonl", LIBRARY)), {})
    with pytest.raises(Unsupported, match="snapshot files hold no images"):
        enrich_artist_images(
            store, Config(tmp_path / "c.json"), "snap", SpotifyArtists("a", "b", api_base="http://127.0.0.1:9/")
        )
    store.close()


def test_choose() -> None:
    candidates = [{"name": "The Beatles", "id": "1", "popularity": 90}, {"name": "Beatles Tribute", "id": "2"}]
    assert choose("Beatles, The", candidates)[0] == candidates[0]
    assert choose("Beetles", candidates)[0] is None
    twins = [{"name": "Nirvana", "id": "a", "popularity": 85}, {"name": "Nirvana", "id": "b", "popularity": 20}]
    assert choose("Nirvana", twins)[1] == "exact name, far more popular"
    genres = [dict(twins[0], genres=["grunge"]), dict(twins[1], popularity=80, genres=["house"])]
    assert choose("Nirvana", genres, {"grunge"}) == (genres[0], "exact name, genres")
    assert choose("Nirvana", genres)[0] is None  # same name, popularity too close


def test_cli_needs_credentials(tmp_path: Path, db_url: str) -> None:
    from click.testing import CliRunner

    from soulsync_idmap.cli import cli

    write_jsonl(tmp_path / "s.jsonl", LIBRARY)
    runner = CliRunner()
    base = ["--db", db_url, "--config", str(tmp_path / "c.json")]
    runner.invoke(cli, [*base, "servers", "add", "snapshot", "s", "--url", str(tmp_path / "s.jsonl")])
    result = runner.invoke(
        cli, [*base, "enrich", "artist-images"], env={"SPOTIPY_CLIENT_ID": "", "SPOTIPY_CLIENT_SECRET": ""}
    )
    assert result.exit_code == 1 and "Spotify credentials missing" in result.output

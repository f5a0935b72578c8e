"""A listing is complete or it fails: an empty page before the end is asked again, then raises.

Real sockets: the ``empty`` fault makes a fake server answer one page with no items while
its total still counts them, as a server that lost its place (or a proxy) does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap.config import Config
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.demo.loopback import Fault
from soulsync_idmap.errors import IncompleteListing
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers.base import ServerConfig
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.plex import PlexServer
from soulsync_idmap.servers.retry import RetryPolicy
from soulsync_idmap.servers.subsonic import SubsonicServer
from soulsync_idmap.sync import SyncOptions, sync_server
from soulsync_idmap.sync.adapters import server_config
from tests.support.fake_subsonic import FakeSubsonic
from tests.support.gen_library import generate

TOKEN = "c0mp1e7e" * 4
NO_WAIT = RetryPolicy(sleep=lambda _: None)
TRACKS = 2_000


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("listing") / "library.jsonl"
    generate(path, tracks=TRACKS, albums=200, artists=36, seed=8)
    return path


def _jellyfin(fake: FakeJellyfin) -> JellyfinServer:
    return JellyfinServer(ServerConfig("jf", "jellyfin", fake.url, token=TOKEN, page_size=400), retry=NO_WAIT)


def _empty_track_page(start: str, times: int) -> list[Fault]:
    return [Fault("empty", path_prefix="/Items", query=(("StartIndex", start),))] * times


@pytest.mark.parametrize("times", [1, 2])
def test_jellyfin_an_empty_page_asked_again_completes_the_listing(library: Path, times: int) -> None:
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        fake.inject(*_empty_track_page("400", times))
        adapter = _jellyfin(fake)
        assert len({t.native_id for t in adapter.iter_tracks()}) == TRACKS
        asked = [r.param("StartIndex") for r in fake.requests if r.path == "/Items"]
        assert asked == ["0", *["400"] * (times + 1), "800", "1200", "1600"]
        assert adapter.skipped == []


def test_jellyfin_an_empty_page_that_stays_empty_fails_the_listing(library: Path) -> None:
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        fake.inject(*_empty_track_page("400", 3))
        with pytest.raises(IncompleteListing, match=r"^jf: GET /Items listed 400 of the 2000 items it claims"):
            list(_jellyfin(fake).iter_tracks())
        fake.inject(*_empty_track_page("0", 3))  # the cheap id pass too: removal detection never sees half
        with pytest.raises(IncompleteListing, match="listed 0 of the 2000 items"):
            list(_jellyfin(fake).all_ids("track"))


def test_jellyfin_a_duplicate_id_is_reported_where_it_is_dropped(library: Path) -> None:
    with FakeJellyfin(library, token=TOKEN) as plain:
        assert isinstance(plain, FakeJellyfin)
        twin = plain.native_id("track", "t1234")
    with FakeJellyfin(library, token=TOKEN, duplicates=frozenset({twin})) as fake:
        assert isinstance(fake, FakeJellyfin)
        adapter = _jellyfin(fake)
        ids = [t.native_id for t in adapter.iter_tracks()]
        assert len(ids) == len(set(ids)) == TRACKS
        assert [(s.kind, s.native_id, s.reason) for s in adapter.skipped] == [("track", twin, "duplicate id")]
        assert sorted(adapter.all_ids("track")) == sorted(set(ids))


def test_jellyfin_a_duplicate_pair_across_a_page_boundary_is_reported_not_taken_for_a_shift(library: Path) -> None:
    with FakeJellyfin(library, token=TOKEN) as plain:
        assert isinstance(plain, FakeJellyfin)
        last_of_first_page = [t.native_id for t in _jellyfin(plain).iter_tracks()][399]
    with FakeJellyfin(library, token=TOKEN, duplicates=frozenset({last_of_first_page})) as fake:
        assert isinstance(fake, FakeJellyfin)
        adapter = _jellyfin(fake)
        ids = [t.native_id for t in adapter.iter_tracks()]
        assert len(ids) == len(set(ids)) == TRACKS
        assert [(s.native_id, s.reason) for s in adapter.skipped] == [(last_of_first_page, "duplicate id")]


def _linked(db_url: str) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM link WHERE gone_at IS NULL")).scalar_one()
    engine.dispose()
    return int(count)


def test_a_sync_over_an_incomplete_listing_fails_and_marks_nothing_gone(
    store: Store, db_url: str, library: Path, tmp_path: Path
) -> None:
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        store.add_server("jf", "jellyfin", fake.url, {"page_size": 400})

        def sync() -> object:
            adapter = JellyfinServer(server_config(store.server("jf"), {"token": TOKEN}), retry=NO_WAIT)
            return sync_server(store, "jf", Config(tmp_path / "c.json"), SyncOptions(full=True), adapter=adapter)

        sync()
        linked = _linked(db_url)
        assert linked == TRACKS + 200 + 36
        fake.inject(*[Fault("empty", path_prefix="/Items", query=(("StartIndex", "800"),))] * 6)
        with pytest.raises(IncompleteListing):
            sync()
        assert _linked(db_url) == linked


def test_plex_empty_page_before_total_size(library: Path) -> None:
    with FakePlex(library, token=TOKEN) as fake:
        assert isinstance(fake, FakePlex)

        def plex() -> PlexServer:
            return PlexServer(ServerConfig("px", "plex", fake.url, token=TOKEN, page_size=500), retry=NO_WAIT)

        page = Fault("empty", path_prefix="/library/sections/3/all", query=(("X-Plex-Container-Start", "500"),))
        fake.inject(page)
        assert len({t.native_id for t in plex().iter_tracks()}) == TRACKS
        fake.inject(page, page, page)
        with pytest.raises(IncompleteListing, match=r"^px: GET /library/sections/3/all listed 500 of the 2000 items"):
            list(plex().iter_tracks())


def test_subsonic_empty_page_before_the_albums_song_count(library: Path) -> None:
    with FakeSubsonic(library) as fake:
        assert isinstance(fake, FakeSubsonic)

        def sub() -> SubsonicServer:
            config = ServerConfig("nd", "subsonic", fake.url, user="alice", password="s3cret", page_size=500)
            return SubsonicServer(config, retry=NO_WAIT, listing="search3")

        page = Fault("empty", path_prefix="/rest/search3", query=(("songOffset", "1000"),))
        fake.inject(page)  # once: the empty page is asked again before it is believed
        assert len({t.native_id for t in sub().iter_tracks()}) == TRACKS
        fake.inject(page, page)
        with pytest.raises(IncompleteListing, match=r"^nd: search3 listed 1000 songs, but the albums count 2000"):
            list(sub().iter_tracks())
        fake.inject(page, page)
        with pytest.raises(IncompleteListing):
            list(sub().all_ids("track"))

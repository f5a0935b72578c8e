"""Retries over a bounded time, for every adapter, over real sockets.

A server restarting (stopped, every connection dropped, started again on the same port)
is waited out; cut or unreadable bodies are asked again; ``Retry-After`` is honoured;
and a server that stays down fails the request after ``retry_seconds``, not sooner.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.demo.loopback import Fault, LoopbackServer
from soulsync_idmap.errors import ServerUnreachable
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers import open_server
from soulsync_idmap.servers.base import ServerConfig, ServerItem
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.plex import PlexServer
from soulsync_idmap.servers.retry import RetryPolicy
from soulsync_idmap.servers.subsonic import SubsonicServer
from soulsync_idmap.sync.adapters import server_config
from tests.support.fake_subsonic import FakeSubsonic
from tests.support.gen_library import generate

TOKEN = "r35t4r7s" * 4
TRACKS = 1_200


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("retries") / "library.jsonl"
    generate(path, tracks=TRACKS, albums=120, artists=30, seed=12)
    return path


def _read_through_outage(items: Iterator[ServerItem], server: LoopbackServer, seconds: float) -> tuple[int, float]:
    """Read the first item, take the server down for ``seconds`` before the next request, read the rest."""
    ids = {next(items).native_id}
    server.inject(Fault("outage", seconds=seconds))
    started = time.monotonic()
    ids.update(item.native_id for item in items)
    return len(ids), time.monotonic() - started


def test_jellyfin_reads_through_a_ten_second_restart(library: Path) -> None:
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        port = fake.port
        adapter = JellyfinServer(ServerConfig("jf", "jellyfin", fake.url, token=TOKEN, page_size=300))
        count, took = _read_through_outage(adapter.iter_tracks(), fake, 10.0)
        assert count == TRACKS and took >= 10.0
        assert fake.port == port  # the same server, back on its port
        adapter.close()


def test_plex_reads_through_a_restart(library: Path) -> None:
    with FakePlex(library, token=TOKEN) as fake:
        assert isinstance(fake, FakePlex)
        plex = PlexServer(ServerConfig("px", "plex", fake.url, token=TOKEN, page_size=300))
        count, took = _read_through_outage(plex.iter_tracks(), fake, 3.0)
        assert count == TRACKS and took >= 3.0


def test_subsonic_reads_through_a_restart(library: Path) -> None:
    with FakeSubsonic(library) as fake:
        assert isinstance(fake, FakeSubsonic)
        sub = SubsonicServer(ServerConfig("nd", "subsonic", fake.url, user="alice", password="s3cret", page_size=300))
        count, took = _read_through_outage(sub.iter_tracks(), fake, 3.0)
        assert count == TRACKS and took >= 3.0


def _recording() -> tuple[list[float], RetryPolicy]:
    waits: list[float] = []
    return waits, RetryPolicy(sleep=waits.append, jitter=lambda: 1.0)


def test_cut_bodies_are_asked_again_on_every_adapter(library: Path) -> None:
    with FakeJellyfin(library, token=TOKEN) as jelly, FakePlex(library, token=TOKEN) as plex_fake, \
            FakeSubsonic(library) as sonic:  # fmt: skip
        assert isinstance(jelly, FakeJellyfin) and isinstance(plex_fake, FakePlex)
        assert isinstance(sonic, FakeSubsonic)
        jelly.inject(Fault("truncate", path_prefix="/Items"))
        waits, retry = _recording()
        jf = JellyfinServer(ServerConfig("jf", "jellyfin", jelly.url, token=TOKEN, page_size=500), retry=retry)
        assert len(list(jf.iter_tracks())) == TRACKS and waits == [0.5]
        plex_fake.inject(Fault("truncate", path_prefix="/library/sections/3/all"))
        waits, retry = _recording()
        plex = PlexServer(ServerConfig("px", "plex", plex_fake.url, token=TOKEN, page_size=500), retry=retry)
        assert len(list(plex.iter_tracks())) == TRACKS and waits == [0.5]
        sonic.inject(Fault("truncate", path_prefix="/rest/search3", query=(("songOffset", "500"),)))
        waits, retry = _recording()
        config = ServerConfig("nd", "subsonic", sonic.url, user="alice", password="s3cret", page_size=500)
        assert len(list(SubsonicServer(config, retry=retry).iter_tracks())) == TRACKS and waits == [0.5]


def test_retry_after_is_honoured_by_plex_and_subsonic(library: Path) -> None:
    busy = Fault("status", status=429, headers=(("Retry-After", "7"),))
    with FakePlex(library, token=TOKEN) as plex_fake, FakeSubsonic(library) as sonic:
        assert isinstance(plex_fake, FakePlex) and isinstance(sonic, FakeSubsonic)
        plex_fake.inject(Fault("status", status=429, path_prefix="/library/sections/3/all", headers=busy.headers))
        waits, retry = _recording()
        plex = PlexServer(ServerConfig("px", "plex", plex_fake.url, token=TOKEN), retry=retry)
        assert len(list(plex.iter_albums())) == 120 and waits == [7.0]
        sonic.inject(Fault("status", status=503, path_prefix="/rest/search3", headers=(("Retry-After", "3"),)))
        waits, retry = _recording()
        config = ServerConfig("nd", "subsonic", sonic.url, user="alice", password="s3cret")
        assert len(list(SubsonicServer(config, retry=retry).iter_albums())) == 120 and waits == [3.0]


def test_backoff_doubles_with_jitter_and_stops_at_the_total(library: Path) -> None:
    draws = iter([0.0, 1.0, 0.5, 0.0, 1.0, 0.5, 0.0, 1.0] * 4)
    waits: list[float] = []
    retry = RetryPolicy(total=20.0, base=1.0, cap=8.0, sleep=waits.append, jitter=lambda: next(draws))
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        fake.inject(*[Fault("status", status=503, path_prefix="/Items")] * 50)
        adapter = JellyfinServer(ServerConfig("jf", "jellyfin", fake.url, token=TOKEN), retry=retry)
        with pytest.raises(ServerUnreachable, match=r"^jf: GET /Items failed 7 times in 20s \(last: HTTP 503\)$"):
            list(adapter.iter_tracks())
    # Each wait lies between half and all of 1, 2, 4, 8 (the cap), 8...; the last one fills the total.
    assert waits == [0.5, 2.0, 3.0, 4.0, 8.0, 2.5]
    assert sum(waits) == 20.0


def test_retry_seconds_comes_from_the_server_settings(store: Store) -> None:
    closed = LoopbackServer().start()
    url = closed.url
    closed.stop()  # a port nobody listens on: every try is refused at once
    store.add_server("gone", "jellyfin", url, {"retry_seconds": 1.5})
    config = server_config(store.server("gone"), {"token": TOKEN})
    assert config.retry_seconds == 1.5
    adapter = open_server(config)
    started = time.monotonic()
    with pytest.raises(ServerUnreachable, match=r"^gone: GET /Library/MediaFolders failed \d+ times in 2s"):
        list(adapter.iter_tracks())
    assert 1.5 <= time.monotonic() - started < 5.0
    adapter.close()

"""Fault injection through the fake Jellyfin server: real sockets, real HTTP, real failures.

After every fault: a clear one-line error (or a recovered run), a consistent database,
and a next sync that completes with every item linked exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap.config import Config
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.loopback import Fault
from soulsync_idmap.errors import BadResponse, IncompleteListing, ServerError, ServerUnreachable
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.retry import RetryPolicy
from soulsync_idmap.sync import SyncOptions, sync_server
from soulsync_idmap.sync.adapters import server_config
from tests.support.gen_library import generate
from tests.sync.test_crash_and_lock import check_invariants

TOKEN = "f00dfeed" * 4
TRACKS, ALBUMS, ARTISTS = 600, 60, 20


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lib") / "library.jsonl"
    generate(path, tracks=TRACKS, albums=ALBUMS, artists=ARTISTS, seed=21)
    return path


def _run(store: Store, fake: FakeJellyfin, tmp_path: Path, *, timeout: float = 5.0, full: bool = True) -> object:
    if not any(s.name == "jf" for s in store.servers()):
        store.add_server("jf", "jellyfin", fake.url, {"page_size": 100, "timeout": timeout})
    config = server_config(store.server("jf"), {"token": TOKEN})
    adapter = JellyfinServer(config, retry=RetryPolicy(total=5.0, base=0.01, max_retry_after=2.0))
    return sync_server(store, "jf", Config(tmp_path / "c.json"), SyncOptions(full=full), adapter=adapter)


def _linked(db_url: str) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM link WHERE gone_at IS NULL")).scalar_one()
    engine.dispose()
    return int(count)


def _complete(store: Store, db_url: str, fake: FakeJellyfin, tmp_path: Path) -> None:
    fake.clear_faults()
    _run(store, fake, tmp_path)
    counts = check_invariants(db_url)
    assert counts == {"artist": ARTISTS, "album": ALBUMS, "track": TRACKS}
    assert _linked(db_url) == TRACKS + ALBUMS + ARTISTS


@pytest.mark.parametrize(
    ("faults", "recovers"),
    [
        ([Fault("status", status=503)] * 3, True),  # a 5xx burst shorter than the retries
        ([Fault("status", status=500)] * 12, False),  # a 5xx burst longer than the retries
        ([Fault("status", status=429, headers=(("Retry-After", "1"),))], True),
        ([Fault("drop", path_prefix="/Items")], True),  # connection dropped mid-page
        ([Fault("refuse", path_prefix="/Items")] * 2, True),
        ([Fault("delay", seconds=2.0, path_prefix="/Items")], True),  # slower than the 1 s timeout
    ],
    ids=["5xx-burst", "5xx-storm", "429", "drop-mid-page", "reset", "timeout"],
)
def test_fault_then_resume(
    store: Store, db_url: str, library: Path, tmp_path: Path, faults: list[Fault], recovers: bool
) -> None:
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        fake.inject(*faults)
        if recovers:
            _run(store, fake, tmp_path, timeout=1.0)
        else:
            with pytest.raises(ServerUnreachable) as failure:
                _run(store, fake, tmp_path, timeout=1.0)
            assert TOKEN not in str(failure.value)
            assert "\n" not in str(failure.value)
            check_invariants(db_url)
        _complete(store, db_url, fake, tmp_path)


def test_connection_refused_then_server_comes_back(store: Store, db_url: str, library: Path, tmp_path: Path) -> None:
    fake = FakeJellyfin(library, token=TOKEN).start()
    assert isinstance(fake, FakeJellyfin)
    port = fake.port
    fake.stop()
    store.add_server("jf", "jellyfin", f"http://127.0.0.1:{port}", {"page_size": 100, "timeout": 1.0})
    with pytest.raises(ServerUnreachable, match="jf"):
        _run(store, fake, tmp_path)
    with FakeJellyfin(library, token=TOKEN, port=port) as back:
        assert isinstance(back, FakeJellyfin)
        _complete(store, db_url, back, tmp_path)


def test_a_server_repeating_items_neither_loops_nor_duplicates(
    store: Store, db_url: str, library: Path, tmp_path: Path
) -> None:
    with FakeJellyfin(library, token=TOKEN, repeat_items=7) as fake:
        assert isinstance(fake, FakeJellyfin)
        _run(store, fake, tmp_path)
        assert check_invariants(db_url) == {"artist": ARTISTS, "album": ALBUMS, "track": TRACKS}


def test_a_total_the_listing_never_reaches_fails_the_run(
    store: Store, db_url: str, library: Path, tmp_path: Path
) -> None:
    with FakeJellyfin(library, token=TOKEN, lie_total=5000) as fake:
        assert isinstance(fake, FakeJellyfin)
        with pytest.raises(IncompleteListing, match=r"jf: GET /Artists listed 20 of the 5020 items it claims"):
            _run(store, fake, tmp_path)
        check_invariants(db_url)
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        store.update_server(store.server("jf").id or 0, url=fake.url)
        _complete(store, db_url, fake, tmp_path)


def test_a_server_stuck_on_one_page_is_a_clear_error(store: Store, db_url: str, library: Path, tmp_path: Path) -> None:
    with FakeJellyfin(library, token=TOKEN, ignore_start_index=True) as fake:
        assert isinstance(fake, FakeJellyfin)
        with pytest.raises((BadResponse, ServerError)) as failure:
            _run(store, fake, tmp_path)
        assert "jf" in str(failure.value)
        check_invariants(db_url)
    with FakeJellyfin(library, token=TOKEN) as fake:
        assert isinstance(fake, FakeJellyfin)
        store.update_server(store.server("jf").id or 0, url=fake.url)
        _complete(store, db_url, fake, tmp_path)

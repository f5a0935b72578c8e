"""Secondary indexes set aside during a first sync into an empty database, and always restored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.config import Config
from soulsync_idmap.mapping.indexes import DEFERRABLE, drop_deferrable, missing_indexes
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers.base import ServerTrack
from soulsync_idmap.servers.snapshot import SnapshotServer
from soulsync_idmap.sync import SyncOptions, sync_server
from soulsync_idmap.sync.adapters import server_config
from tests.support.gen_library import generate
from tests.sync.test_crash_and_lock import check_invariants


class _Watched(SnapshotServer):
    """A snapshot server that notes the missing indexes while its tracks are read, and can fail there."""

    forkable = False  # read in the writer's process, where the notes are kept

    def __init__(self, store: Store, name: str, fail: bool = False) -> None:
        super().__init__(server_config(store.server(name), {}))
        self.store, self.fail = store, fail
        self.missing_during: list[str] = []

    def iter_tracks(self) -> Iterator[ServerTrack]:
        for number, track in enumerate(super().iter_tracks()):
            if number == 50:
                with self.store.engine.connect() as conn:
                    self.missing_during = [str(i.name) for i in missing_indexes(conn)]
                if self.fail:
                    raise OSError("disk went away")
            yield track


def _sync(store: Store, name: str, tmp_path: Path, **kwargs: Any) -> _Watched:
    adapter = _Watched(store, name, **kwargs)
    sync_server(store, name, Config(tmp_path / "c.json"), SyncOptions(batch_size=20), adapter=adapter)
    return adapter


def _missing(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return [str(i.name) for i in missing_indexes(conn)]


def _library(tmp_path: Path, name: str, seed: int) -> Path:
    path = tmp_path / f"{name}.jsonl"
    generate(path, tracks=200, albums=20, artists=5, seed=seed)
    return path


def test_first_sync_defers_indexes_and_builds_them_at_the_end(store: Store, tmp_path: Path) -> None:
    assert _missing(store) == []
    store.add_server("one", "snapshot", str(_library(tmp_path, "one", 1)), {})
    adapter = _sync(store, "one", tmp_path)
    assert adapter.missing_during == [str(i.name) for i in DEFERRABLE]  # set aside while loading
    assert _missing(store) == []
    # A second server meets a database with links: its sync keeps every index (it matches).
    store.add_server("two", "snapshot", str(_library(tmp_path, "two", 2)), {})
    assert _sync(store, "two", tmp_path).missing_during == []
    assert _missing(store) == []
    check_invariants(store.url)


def test_failed_first_sync_builds_the_indexes_again(store: Store, tmp_path: Path) -> None:
    store.add_server("one", "snapshot", str(_library(tmp_path, "one", 1)), {})
    with pytest.raises(OSError, match="disk went away"):
        _sync(store, "one", tmp_path, fail=True)
    assert _missing(store) == []
    # The next sync is no longer into an empty database: indexes stay, the work completes.
    adapter = _sync(store, "one", tmp_path)
    assert adapter.missing_during == []
    check_invariants(store.url)


def test_the_next_sync_builds_indexes_a_killed_first_sync_left_out_and_readers_do_not(
    db_url: str, tmp_path: Path
) -> None:
    # A first sync killed while loading leaves the indexes dropped (the kill tests in
    # tests/reliability kill real processes; here the state is made directly).
    store = Store.open(db_url)
    store.add_server("one", "snapshot", str(_library(tmp_path, "one", seed=3)), {})
    with store.begin() as conn:
        assert len(drop_deferrable(conn)) == len(DEFERRABLE)
    store.close()
    reader = Store.open(db_url)  # a command that only reads (resolve, export, IdMap.open): nothing is built
    assert len(_missing(reader)) == len(DEFERRABLE)
    reader.close()
    store = Store.open(db_url)
    _sync(store, "one", tmp_path)
    assert _missing(store) == []
    store.close()

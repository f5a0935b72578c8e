"""The read-ahead: every adapter is read in one thread, a couple of batches ahead of the writer."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from soulsync_idmap.config import Config
from soulsync_idmap.errors import SnapshotError
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.servers.base import ServerConfig, ServerTrack
from soulsync_idmap.servers.snapshot import SnapshotServer
from soulsync_idmap.sync import SyncOptions, sync_server
from soulsync_idmap.sync.adapters import server_config
from soulsync_idmap.sync.reader import read_ahead
from tests.support.gen_library import generate
from tests.sync.test_crash_and_lock import check_invariants


class _Probe(SnapshotServer):
    """Notes the process that reads its tracks in a file; can die or fail there."""

    def __init__(self, store: Store, notes: Path, how: str = "") -> None:
        super().__init__(server_config(store.server("home"), {}))
        self.notes, self.how = notes, how

    def iter_tracks(self) -> Iterator[ServerTrack]:
        for number, track in enumerate(super().iter_tracks()):
            if number == 100:
                self.notes.write_text(str(threading.get_ident()))
                logging.getLogger("soulsync_idmap.servers.snapshot").warning("probe says hello")
                if self.how == "fail":
                    raise SnapshotError("line went bad", path="home.jsonl", line=101)
            yield track


@pytest.fixture
def store(store: Store, tmp_path: Path) -> Store:
    """The shared store, with a server "home" reading a generated library."""
    library = tmp_path / "home.jsonl"
    generate(library, tracks=500, albums=40, artists=10, seed=4)
    store.add_server("home", "snapshot", str(library), {})
    return store


def _sync(store: Store, tmp_path: Path, how: str = "") -> Path:
    notes = tmp_path / "reader.pid"
    adapter = _Probe(store, notes, how)
    sync_server(store, "home", Config(tmp_path / "c.json"), SyncOptions(batch_size=50), adapter=adapter)
    return notes


def test_a_reader_error_arrives_as_itself_and_the_next_sync_completes(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"home\.jsonl:101: line went bad"):
        _sync(store, tmp_path, how="fail")
    check_invariants(store.url)
    _sync(store, tmp_path)
    assert check_invariants(store.url) == {"artist": 10, "album": 40, "track": 500}


def test_the_reader_runs_ahead_in_a_thread_and_its_log_arrives(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = _sync(store, tmp_path)
    assert notes.read_text() != str(threading.get_ident())  # read in the reader thread, not the writer's
    assert "probe says hello" in caplog.text


def test_a_writer_that_stops_early_ends_the_reader(tmp_path: Path) -> None:
    library = tmp_path / "lib.jsonl"
    generate(library, tracks=5_000, albums=100, artists=20, seed=5)
    adapter = SnapshotServer(ServerConfig(name="lib", kind="snapshot", url=str(library)))
    before = threading.active_count()
    batches = read_ahead(adapter.iter_tracks(), 100, (), keys=True)
    first = next(batches)
    assert len(first) == 100 and first[0].keys  # prepared, keys worked out by the reader
    assert threading.active_count() == before + 1
    batches.close()  # type: ignore[attr-defined]  # a generator: its cleanup ends the reader
    assert threading.active_count() == before


class _Repeats(SnapshotServer):
    """Lists track t3 once more at the end, retitled (a server paging over a changing library)."""

    def iter_tracks(self) -> Iterator[ServerTrack]:
        tracks = list(super().iter_tracks())
        yield from tracks
        yield dataclasses.replace(next(t for t in tracks if t.native_id == "t3"), title="Song 3 (Live)")


def test_an_id_repeated_in_a_later_batch_of_a_first_sync_is_one_link(store: Store, tmp_path: Path) -> None:
    # A first sync looks up only the ids it has written itself: the repeat must still be found.
    path = tmp_path / "repeat.jsonl"
    path.write_text(
        "".join(json.dumps({"kind": "track", "id": f"t{i}", "name": f"Song {i}"}) + "\n" for i in range(30))
    )
    store.add_server("repeat", "snapshot", str(path), {})
    adapter = _Repeats(server_config(store.server("repeat"), {}))
    result = sync_server(store, "repeat", Config(tmp_path / "c.json"), SyncOptions(batch_size=10), adapter=adapter)
    assert (result.counts.new, result.counts.updated) == (30, 1)
    with store.engine.connect() as conn:
        titles = conn.execute(
            text("SELECT t.title FROM track t JOIN link l ON l.uuid = t.uuid WHERE l.native_id = 't3'")
        ).scalars()
        assert list(titles) == ["Song 3 (Live)"]

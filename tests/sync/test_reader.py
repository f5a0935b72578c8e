"""The read-ahead: local snapshot files are read in a forked process, network adapters in a thread."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from soulsync_idmap.config import Config
from soulsync_idmap.errors import IdmapError, SnapshotError
from soulsync_idmap.mapping.store import Store, server_config
from soulsync_idmap.servers import snapshot
from soulsync_idmap.servers.base import ServerConfig, ServerTrack
from soulsync_idmap.servers.snapshot import SnapshotServer
from soulsync_idmap.sync import SyncOptions, reader, sync_server
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
                self.notes.write_text(str(os.getpid()))
                logging.getLogger("soulsync_idmap.servers.snapshot").warning("probe says hello")
                if self.how == "die":
                    os._exit(3)
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


def test_snapshot_is_read_in_another_process_and_its_log_arrives(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notes = _sync(store, tmp_path)
    assert int(notes.read_text()) != os.getpid()
    assert "probe says hello" in caplog.text
    assert check_invariants(store.url) == {"artist": 10, "album": 40, "track": 500}


def test_a_reader_that_dies_is_a_clear_error_and_the_next_sync_completes(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IdmapError, match=r"reader process ended unexpectedly \(exit code 3\)"):
        _sync(store, tmp_path, how="die")
    check_invariants(store.url)
    _sync(store, tmp_path)
    assert check_invariants(store.url) == {"artist": 10, "album": 40, "track": 500}


def test_a_reader_error_arrives_as_itself(store: Store, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match=r"home\.jsonl:101: line went bad"):
        _sync(store, tmp_path, how="fail")
    check_invariants(store.url)


def test_a_writer_that_stops_early_ends_the_reader(tmp_path: Path) -> None:
    library = tmp_path / "lib.jsonl"
    generate(library, tracks=5_000, albums=100, artists=20, seed=5)
    adapter = SnapshotServer(ServerConfig(name="lib", kind="snapshot", url=str(library)))
    batches = read_ahead(adapter.iter_tracks, 100, (), keys=True, forkable=True)
    part, first, decided = next(batches)
    assert part == 0 and len(first) == 100 and first[0].keys  # prepared, keys worked out by the reader
    assert decided is None  # nothing is matched ahead unless asked
    assert len(multiprocessing.active_children()) == 1
    batches.close()  # type: ignore[attr-defined]  # a generator: its cleanup ends the reader
    assert multiprocessing.active_children() == []


class _Parts(SnapshotServer):
    """Reads its tracks in two parts; the second part's reader can die."""

    def __init__(self, store: Store, how: str = "") -> None:
        super().__init__(server_config(store.server("home"), {}))
        self.how = how

    def track_parts(self, count: int) -> list[Callable[[], Iterator[ServerTrack]]]:
        first, second = super().track_parts(count)

        def dying() -> Iterator[ServerTrack]:
            for number, track in enumerate(second()):
                if number == 100:
                    os._exit(3)
                yield track

        return [first, dying if self.how == "die" else second]


def _digest(ids: list[str]) -> str:
    return hashlib.blake2b("\n".join(ids).encode(), digest_size=16).hexdigest()


def test_a_large_files_tracks_are_read_in_two_processes_at_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)
    started: list[str] = []
    real_start = reader.start

    def noting_start(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs["name"])
        return real_start(*args, **kwargs)

    monkeypatch.setattr(reader, "start", noting_start)
    sync_server(store, "home", Config(tmp_path / "c.json"), SyncOptions(batch_size=50), adapter=_Parts(store))
    assert started == ["idmap-reader"]  # the part reader is started by the reader, not here
    assert check_invariants(store.url) == {"artist": 10, "album": 40, "track": 500}
    # the listing is kept in the file's order, whichever part's batches came first
    library = Path(store.server("home").url)
    in_file = [json.loads(line)["id"] for line in library.read_text().splitlines() if '"track"' in line]
    with store.begin() as conn:
        stored = json.loads(conn.execute(text("SELECT listing_digest FROM server WHERE name = 'home'")).scalar_one())
    assert stored["track"] == [_digest(in_file), 500]


def test_a_part_reader_that_dies_is_a_clear_error_and_the_next_sync_completes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)
    config = Config(tmp_path / "c.json")
    with pytest.raises(IdmapError, match=r"reader process ended unexpectedly \(exit code 3\)"):
        sync_server(store, "home", config, SyncOptions(batch_size=50), adapter=_Parts(store, how="die"))
    check_invariants(store.url)
    assert multiprocessing.active_children() == []
    sync_server(store, "home", config, SyncOptions(batch_size=50), adapter=_Parts(store))
    assert check_invariants(store.url) == {"artist": 10, "album": 40, "track": 500}


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

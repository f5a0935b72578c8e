"""Tracks matched ahead by the readers: the same decisions as the writer's own, or matched again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from soulsync_idmap.config import Config
from soulsync_idmap.mapping.store import Store, server_config
from soulsync_idmap.servers import snapshot
from soulsync_idmap.servers.base import ServerTrack
from soulsync_idmap.servers.snapshot import SnapshotServer
from soulsync_idmap.sync import SyncOptions, engine, sync_server
from soulsync_idmap.sync.ahead import WINDOW, Claims, Decided, Shared
from soulsync_idmap.sync.batch import BatchWriter
from tests.conftest import write_jsonl
from tests.support.gen_library import generate
from tests.support.twin import make_twin


def _decided(snapshot: int, considered: set[str], targets: list[str | None]) -> Decided:
    return Decided(snapshot, ("n1",), targets, [], frozenset(considered), {})


def test_decisions_stand_unless_a_later_batch_touched_their_candidates_unforeseen() -> None:
    claims = Claims(Shared(2))
    claims.committed(0, set(), {"u1"})  # commit 1: part 0, matched by the writer
    assert (claims.shared.committed.value, list(claims.shared.done)) == (1, [1, 0])
    # made after commit 1: it saw u1 linked already
    assert claims.stands(_decided(1, {"u1", "u2"}, ["u2"]), part=1)
    # made before commit 1, which linked one of its candidates: matched again
    assert not claims.stands(_decided(0, {"u1", "u2"}, ["u2"]), part=1)
    assert claims.stands(_decided(0, {"u2", "u3"}, ["u2"]), part=1)
    # a batch of the same part, linked as its reader held it: foreseen
    claims.committed(1, {"u5"}, {"u5"})
    assert claims.stands(_decided(1, {"u5", "u6"}, ["u6"]), part=1)
    # ...but not by another part's reader
    assert not claims.stands(_decided(1, {"u5", "u6"}, ["u6"]), part=0)
    # a batch whose reader held one entity and the writer linked another (it was matched again)
    claims.committed(1, {"u7"}, {"u8"})
    assert not claims.stands(_decided(2, {"u7"}, [None]), part=1)  # held u7 in vain
    assert not claims.stands(_decided(2, {"u8"}, ["u8"]), part=1)  # did not know u8 was taken
    assert claims.stands(_decided(3, {"u7", "u8"}, [None]), part=1)  # made after it: the database knew
    # older than the batches remembered: no way to tell
    for _ in range(WINDOW):
        claims.committed(0, set(), set())
    assert claims.shared.committed.value == 3 + WINDOW  # commits 4.. are remembered
    assert not claims.stands(_decided(2, {"u9"}, ["u9"]), part=1)
    assert claims.stands(_decided(3, {"u9"}, ["u9"]), part=1)


class _Paced(SnapshotServer):
    """Reads its tracks in two parts, slowly: the readers do not finish before the writer reaches the tracks."""

    delay = 0.01

    def track_parts(self, count: int) -> list[Callable[[], Iterator[ServerTrack]]]:
        def paced(part: Callable[[], Iterator[ServerTrack]]) -> Callable[[], Iterator[ServerTrack]]:
            def read() -> Iterator[ServerTrack]:
                for track in part():
                    time.sleep(self.delay)
                    yield track

            return read

        return [paced(part) for part in super().track_parts(count)]


def _mapping(url: str) -> tuple[list[Any], list[Any]]:
    """Per twin item, the base item it was merged with (or none); the review queue, by native ids."""
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            links = conn.execute(
                text(
                    "SELECT t.kind, t.native_id, b.native_id FROM link t "
                    "JOIN server st ON st.id = t.server_id AND st.name = 'twin' "
                    "LEFT JOIN link b ON b.uuid = t.uuid AND b.server_id = (SELECT id FROM server WHERE name = 'base') "
                    "ORDER BY t.kind, t.native_id"
                )
            ).all()
            reviews = conn.execute(
                text(
                    "SELECT r.kind, a.native_id, b.native_id, r.score FROM review_item r "
                    "JOIN link a ON a.uuid = r.uuid_a JOIN link b ON b.uuid = r.uuid_b ORDER BY 1, 2, 3"
                )
            ).all()
    finally:
        store.close()
    return [tuple(r) for r in links], [tuple(r) for r in reviews]


def _sync_twin(url: str, base: Path, twin: Path, config: Config) -> None:
    store = Store.open(url)
    try:
        store.add_server("base", "snapshot", str(base), {})
        store.add_server("twin", "snapshot", str(twin), {})
        sync_server(store, "base", config, SyncOptions(batch_size=100))
        twin_adapter = _Paced(server_config(store.server("twin"), {}))
        twin_adapter.delay = 0.001
        sync_server(store, "twin", config, SyncOptions(batch_size=100), adapter=twin_adapter)
    finally:
        store.close()


def test_a_noisy_twin_matched_ahead_is_matched_as_by_the_writer_alone(
    db_url: str, other_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)  # the twin's tracks in two parts, two readers
    base, twin = tmp_path / "base.jsonl", tmp_path / "twin.jsonl"
    generate(base, tracks=3000, albums=300, artists=80, seed=11)
    make_twin(base, twin, seed=12)
    config = Config(tmp_path / "c.json")
    with caplog.at_level(logging.DEBUG, logger="soulsync_idmap.sync.engine"):
        _sync_twin(db_url, base, twin, config)
    ahead = [r.getMessage() for r in caplog.records if "matched ahead" in r.getMessage()]
    assert len(ahead) == 1 and int(ahead[0].split()[1]) >= 20  # of 30 track batches
    with monkeypatch.context() as patch:
        patch.setattr(engine._Run, "_ahead", lambda self, forkable: None)
        _sync_twin(other_db_url, base, twin, config)
    links, reviews = _mapping(db_url)
    assert sum(1 for *_, merged in links if merged) > 3000  # most of the twin merged
    assert (links, reviews) == _mapping(other_db_url)


def test_the_same_recording_in_many_batches_and_both_parts_is_merged_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Readers decide batches before the writer has written the ones before them (their own
    # part's: held; the other part's: checked by the writer); the entity is linked once.
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)
    song = {"kind": "track", "name": "Airbag", "mbid": "0b0e0f0a-1111-4222-8333-944455556666", "duration_ms": 284000}
    first = write_jsonl(tmp_path / "a.jsonl", [{**song, "id": "a1"}])
    lines: list[dict[str, object]] = []
    for i in range(60):
        lines.append({"kind": "track", "id": f"x{i}", "name": f"Filler {i}", "duration_ms": 1000 * i})
        if i % 5 == 4 and i % 30 >= 10:  # a copy in batches after each part's first ones
            lines.append({**song, "id": f"b{i}"})
    second = write_jsonl(tmp_path / "b.jsonl", lines)
    store.add_server("a", "snapshot", str(first), {})
    store.add_server("b", "snapshot", str(second), {})
    config = Config(tmp_path / "c.json")
    sync_server(store, "a", config, SyncOptions(batch_size=5))
    adapter = _Paced(server_config(store.server("b"), {}))
    write = BatchWriter.write

    def slow_write(self: BatchWriter, *args: Any, **kwargs: Any) -> set[str]:
        time.sleep(0.1)  # slower than the readers: they decide batches the writer has not written yet
        return write(self, *args, **kwargs)

    monkeypatch.setattr(BatchWriter, "write", slow_write)
    with caplog.at_level(logging.DEBUG, logger="soulsync_idmap.sync.engine"):
        result = sync_server(store, "b", config, SyncOptions(batch_size=5), adapter=adapter)
    assert any("batches matched ahead" in r.getMessage() for r in caplog.records)
    with store.engine.connect() as conn:
        twice = conn.execute(text("SELECT uuid FROM link WHERE server_id = 2 GROUP BY uuid HAVING COUNT(*) > 1")).all()
    assert twice == []
    assert result.counts.merged == 1  # one of the copies

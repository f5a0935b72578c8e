"""The review loop, merges, splits and undo through the CLI; decisions survive re-syncs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap import IdMap
from tests.conftest import Invoke, write_jsonl

PLEX = [
    {"kind": "artist", "id": "a1", "name": "Radiohead"},
    {"kind": "album", "id": "b1", "name": "OK Computer", "artist_id": "a1", "year": 1997},
    {"kind": "track", "id": "t1", "name": "Airbag", "artist_id": "a1", "album_id": "b1", "track_number": 1,
     "duration_ms": 284000, "year": 1997},
    {"kind": "track", "id": "t2", "name": "Let Down", "artist_id": "a1", "album_id": "b1", "track_number": 5,
     "duration_ms": 299000, "year": 1997},
    {"kind": "track", "id": "t3", "name": "Lucky", "artist_id": "a1", "album_id": "b1", "track_number": 11,
     "duration_ms": 259000, "year": 1997},
]  # fmt: skip
# The other server: same album, but durations far apart on two tracks (re-encoded): review material.
JELLY = [
    {"kind": "artist", "id": "A1", "name": "Radiohead"},
    {"kind": "album", "id": "B1", "name": "OK Computer", "artist_id": "A1", "year": 1997},
    {"kind": "track", "id": "T1", "name": "Airbag", "artist_id": "A1", "album_id": "B1", "track_number": 1,
     "duration_ms": 300000, "year": 1997},
    {"kind": "track", "id": "T2", "name": "Let Down", "artist_id": "A1", "album_id": "B1", "track_number": 5,
     "duration_ms": 320000, "year": 1997},
    {"kind": "track", "id": "T3", "name": "Lucky", "artist_id": "A1", "album_id": "B1", "track_number": 11,
     "duration_ms": 259500, "year": 1997},
]  # fmt: skip


@pytest.fixture
def two(idmap: Invoke, tmp_path: Path) -> dict[str, Path]:
    paths = {"plex": write_jsonl(tmp_path / "plex.jsonl", PLEX), "jelly": write_jsonl(tmp_path / "jelly.jsonl", JELLY)}
    for name, path in paths.items():
        assert idmap("servers", "add", "snapshot", name, "--url", str(path)).exit_code == 0
    return paths


def _pending(idmap: Invoke) -> list[dict[str, Any]]:
    result = idmap("review", "list", "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.output))


def _sync(idmap: Invoke, *names: str, full: bool = False) -> None:
    for name in names:
        result = idmap("sync", name, *(["--full"] if full else []))
        assert result.exit_code == 0, result.output


def test_sync_queues_uncertain_pairs(idmap: Invoke, two: dict[str, Path], db_url: str) -> None:
    _sync(idmap, "plex", "jelly")
    pending = _pending(idmap)
    assert sorted(p["a"]["name"] for p in pending) == ["Airbag", "Let Down"]
    assert all(p["reasons"]["duration"] < 0.4 for p in pending)
    with IdMap.open(db_url) as api:
        assert api.lookup("plex", "t3") == api.lookup("jelly", "T3")  # the sure one merged
        assert api.lookup("plex", "t1") != api.lookup("jelly", "T1")


def test_interactive_accept_reject_undo_quit(idmap: Invoke, two: dict[str, Path], db_url: str) -> None:
    _sync(idmap, "plex", "jelly")
    first = _pending(idmap)[0]
    # accept the first proposal, undo that, reject it instead, then quit before the second
    result = idmap("review", input="a\nu\nr\nq\n")
    assert result.exit_code == 0, result.output
    assert "accepted 1, rejected 1, skipped 0, undone 1" in result.output
    pending = _pending(idmap)
    assert len(pending) == 1 and pending[0]["id"] != first["id"]
    with IdMap.open(db_url) as api:
        merged = [n for n, m in (("t1", "T1"), ("t2", "T2")) if api.lookup("plex", n) == api.lookup("jelly", m)]
        decisions = api.store.engine.connect().exec_driver_sql("SELECT action, undone_at IS NULL FROM decision").all()
    assert merged == []
    assert [tuple(d) for d in decisions] == [("accept", 0), ("reject", 1)]


def test_scripted_accept_survives_resyncs_in_both_orders(idmap: Invoke, two: dict[str, Path], db_url: str) -> None:
    _sync(idmap, "plex", "jelly")
    pending = _pending(idmap)
    airbag = next(p for p in pending if p["a"]["name"] == "Airbag")
    let_down = next(p for p in pending if p["a"]["name"] == "Let Down")
    assert idmap("review", "accept", str(airbag["id"])).exit_code == 0
    assert idmap("review", "reject", str(let_down["id"])).exit_code == 0
    with IdMap.open(db_url) as api:
        survivor = api.lookup("plex", "t1")
        assert api.lookup("jelly", "T1") == survivor
        assert api.resolve(airbag["uuid_b"], "jelly") == "T1"  # the merged-away UUID redirects
    for order in (("plex", "jelly"), ("jelly", "plex")):
        _sync(idmap, *order, full=True)
        _sync(idmap, *order)
        with IdMap.open(db_url) as api:
            assert api.lookup("plex", "t1") == api.lookup("jelly", "T1") == survivor
            assert api.lookup("plex", "t2") != api.lookup("jelly", "T2")
        assert _pending(idmap) == []  # the rejected pair is never proposed again


def test_merge_split_undo_and_errors(idmap: Invoke, two: dict[str, Path], db_url: str) -> None:
    _sync(idmap, "plex", "jelly")
    with IdMap.open(db_url) as api:
        t2, T2 = api.lookup("plex", "t2"), api.lookup("jelly", "T2")
        album = api.lookup("plex", "b1")
    assert t2 and T2 and album
    assert idmap("merge", t2, T2).exit_code == 0
    with IdMap.open(db_url) as api:
        assert api.lookup("jelly", "T2") == t2 and api.resolve(T2, "plex") == "t2"
    split = idmap("split", t2, "--server", "jelly")
    assert split.exit_code == 0, split.output
    fresh = split.output.split()[0]
    with IdMap.open(db_url) as api:
        assert api.lookup("jelly", "T2") == fresh != t2
    _sync(idmap, "jelly", "plex", full=True)
    with IdMap.open(db_url) as api:
        assert api.lookup("jelly", "T2") == fresh  # a split is not re-merged by sync
    assert idmap("undo").exit_code == 0  # undo the split
    with IdMap.open(db_url) as api:
        assert api.lookup("jelly", "T2") == t2
    assert idmap("undo").exit_code == 0  # undo the merge
    with IdMap.open(db_url) as api:
        assert api.lookup("jelly", "T2") == T2 and api.resolve(T2, "jelly") == "T2"

    def error(*args: str) -> str:
        result = idmap(*args)
        assert result.exit_code == 1 and "Traceback" not in result.output
        return result.output

    assert "cannot merge a track with a album" in error("merge", t2, album)
    assert "itself" in error("merge", t2, t2)
    assert "no artist, album or track" in error("merge", t2, "00000000-0000-0000-0000-000000000000")
    assert "not a UUID" in error("merge", t2, "nope")
    assert "no review proposal 999" in error("review", "accept", "999")


def test_stale_proposal(idmap: Invoke, two: dict[str, Path], db_url: str) -> None:
    _sync(idmap, "plex", "jelly")
    pending = _pending(idmap)
    first = pending[0]
    with IdMap.open(db_url) as api:
        other = api.lookup("plex", "t3")
    assert other
    assert idmap("merge", first["uuid_b"], other).exit_code == 0
    result = idmap("review", "accept", str(first["id"]))
    assert result.exit_code == 1
    assert f"proposal {first['id']} is stale, not pending" in result.output


def test_album_merge_merges_matching_tracks(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    # Two albums the matcher kept apart (different titles), with the same tracks.
    plex = [dict(r) for r in PLEX]
    jelly = [dict(r, name="OKNOTOK") if r["id"] == "B1" else dict(r) for r in JELLY]
    write_jsonl(tmp_path / "p.jsonl", plex)
    write_jsonl(tmp_path / "j.jsonl", [dict(r, duration_ms=r.get("duration_ms") and 259000) if r["id"] == "T3" else r
                                       for r in jelly])  # fmt: skip
    idmap("servers", "add", "snapshot", "p", "--url", str(tmp_path / "p.jsonl"))
    idmap("servers", "add", "snapshot", "j", "--url", str(tmp_path / "j.jsonl"))
    _sync(idmap, "p", "j")
    with IdMap.open(db_url) as api:
        b1, B1 = api.lookup("p", "b1"), api.lookup("j", "B1")
    assert b1 and B1 and b1 != B1
    assert idmap("merge", b1, B1).exit_code == 0
    with IdMap.open(db_url) as api:
        assert api.lookup("j", "B1") == b1
        assert api.lookup("p", "t3") == api.lookup("j", "T3")
    assert idmap("undo").exit_code == 0
    with IdMap.open(db_url) as api:
        assert api.lookup("j", "B1") == B1

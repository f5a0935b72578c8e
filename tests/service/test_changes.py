"""The change feed: over HTTP, in Python and on the command line, across restarts."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap import IdMap
from tests.conftest import Invoke
from tests.service.conftest import Running, add_snapshot, cli_sync, running_service, uuid_of, write_library


def feed(serve: Running, since: int = 0, **params: Any) -> dict[str, Any]:
    answer = serve.get("/api/v1/changes", params={"since": since, **params})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def types(changes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["type"], c["kind"]) for c in changes]


@pytest.fixture
def two(idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> Invoke:
    """Servers a and b: b has a's artist Radiohead under another id, nothing else."""
    add_snapshot(idmap, "a", write_library(tmp_path / "a.jsonl", small_library))
    add_snapshot(idmap, "b", write_library(tmp_path / "b.jsonl", [{"kind": "artist", "id": "x1", "name": "Radiohead"}]))
    cli_sync(idmap, "a", "b")
    return idmap


def test_merge_split_undo_and_reject_are_in_the_feed_in_order(serve: Running, two: Invoke) -> None:
    start = feed(serve)["next"]  # (after the syncs' own changes, if any)
    ar1, ar2 = uuid_of(two, "a", "ar1"), uuid_of(two, "a", "ar2")
    assert two("merge", ar1, ar2).exit_code == 0
    survivor = uuid_of(two, "a", "ar1")  # the older of the two (created in one sync: either)
    assert uuid_of(two, "a", "ar2") == survivor
    dropped = ar2 if survivor == ar1 else ar1
    merged = feed(serve, start)["changes"]
    assert [(c["type"], c["kind"], c["uuid"], c["old_uuid"]) for c in merged] == [
        ("merged", "artist", survivor, dropped)
    ]
    assert merged[0]["decision"] and merged[0]["cursor"] > start

    assert two("undo").exit_code == 0
    undone = feed(serve, merged[-1]["cursor"])["changes"]
    assert [(c["type"], c["uuid"], c["old_uuid"]) for c in undone] == [("undone", dropped, survivor)]
    assert undone[0]["decision"] == merged[0]["decision"]

    radiohead = uuid_of(two, "b", "x1")
    assert radiohead == ar1  # matched across servers
    assert two("split", ar1, "--server", "b").exit_code == 0
    split = feed(serve, undone[-1]["cursor"])["changes"]
    fresh = uuid_of(two, "b", "x1")
    assert [(c["type"], c["uuid"], c["old_uuid"], c["server"], c["native_id"]) for c in split] == [
        ("split", fresh, ar1, "b", "x1")
    ]
    assert two("undo").exit_code == 0
    back = feed(serve, split[-1]["cursor"])["changes"]
    assert [(c["type"], c["uuid"], c["old_uuid"]) for c in back] == [("undone", ar1, fresh)]

    everything = feed(serve, start)
    assert [c["type"] for c in everything["changes"]] == ["merged", "undone", "split", "undone"]
    cursors = [c["cursor"] for c in everything["changes"]]
    assert cursors == sorted(cursors) and everything["next"] == cursors[-1]
    assert feed(serve, everything["next"]) == {"changes": [], "next": everything["next"]}


def test_a_merged_album_brings_its_tracks_into_the_feed(idmap: Invoke, tmp_path: Path, serve: Running) -> None:
    tracks = [{"kind": "track", "id": f"t{i}", "name": f"Song {i}", "album_id": "al", "artist_id": "ar",
               "track_number": i, "duration_ms": 200_000 + i} for i in (1, 2)]  # fmt: skip
    lib = [
        {"kind": "artist", "id": "ar", "name": "Band"},
        {"kind": "album", "id": "al", "name": "One", "artist_id": "ar"},
    ]
    add_snapshot(idmap, "a", write_library(tmp_path / "a.jsonl", [*lib, *tracks]))
    other = [dict(r, album_id="al2") if r["kind"] == "track" else r for r in tracks]
    second = {"kind": "album", "id": "al2", "name": "Two", "artist_id": "ar"}
    add_snapshot(idmap, "c", write_library(tmp_path / "c.jsonl", [*lib, second, *other]))
    cli_sync(idmap, "a")
    start = feed(serve)["next"]
    cli_sync(idmap, "c")
    one, two = uuid_of(idmap, "a", "al"), uuid_of(idmap, "c", "al2")
    before = feed(serve, start)["next"]
    assert idmap("merge", one, two).exit_code == 0
    changes = feed(serve, before)["changes"]
    assert types(changes) == [("merged", "album"), ("merged", "track"), ("merged", "track")]
    assert {c["decision"] for c in changes} == {changes[0]["decision"]}


def test_accept_and_reject_from_the_review_queue(idmap: Invoke, tmp_path: Path, serve: Running) -> None:
    base = {"kind": "track", "artist_id": "ar", "album_id": "al", "track_number": 1}
    lib = [
        {"kind": "artist", "id": "ar", "name": "Band"},
        {"kind": "album", "id": "al", "name": "One", "artist_id": "ar"},
    ]
    studio = dict(base, id="t1", name="Paranoid Android", duration_ms=383000)
    live = dict(base, id="t1", name="Paranoid Android (Live)", duration_ms=391000)
    add_snapshot(idmap, "a", write_library(tmp_path / "a.jsonl", [*lib, studio]))
    add_snapshot(idmap, "b", write_library(tmp_path / "b.jsonl", [*lib, live]))
    cli_sync(idmap, "a", "b")
    listed = idmap("review", "list", "--json")
    assert listed.exit_code == 0, listed.output
    proposals = [p for p in json.loads(listed.output) if p["kind"] == "track"]
    if not proposals:
        pytest.fail(f"the scorer proposed nothing to review: {listed.output}")
    start = feed(serve)["next"]
    assert idmap("review", "reject", str(proposals[0]["id"])).exit_code == 0
    rejected = feed(serve, start)["changes"]
    assert types(rejected) == [("rejected", "track")]
    assert {rejected[0]["uuid"], rejected[0]["old_uuid"]} == {proposals[0]["uuid_a"], proposals[0]["uuid_b"]}
    assert idmap("undo").exit_code == 0
    assert idmap("review", "accept", str(proposals[0]["id"])).exit_code == 0
    after = feed(serve, rejected[-1]["cursor"])["changes"]
    assert types(after) == [("undone", "track"), ("merged", "track")]


def test_sync_links_gone_and_revived_are_in_the_feed(idmap: Invoke, tmp_path: Path, serve: Running,
                                                     small_library: list[dict[str, Any]]) -> None:  # fmt: skip
    path = write_library(tmp_path / "a.jsonl", small_library)
    add_snapshot(idmap, "a", path)
    cli_sync(idmap, "a")
    linked = feed(serve)["changes"]
    assert sorted((c["kind"], c["native_id"]) for c in linked if c["type"] == "linked") == sorted(
        (r["kind"], r["id"]) for r in small_library
    )
    assert {c["server"] for c in linked} == {"a"}
    t3 = uuid_of(idmap, "a", "t3")
    write_library(path, [r for r in small_library if r["id"] != "t3"])
    cli_sync(idmap, "a")
    gone = feed(serve, linked[-1]["cursor"])["changes"]
    assert [(c["type"], c["uuid"], c["native_id"]) for c in gone] == [("gone", t3, "t3")]
    write_library(path, small_library)
    assert idmap("sync", "a", "--full").exit_code == 0
    back = feed(serve, gone[-1]["cursor"])["changes"]
    assert [(c["type"], c["uuid"], c["native_id"]) for c in back] == [("revived", t3, "t3")]


def test_a_rekeyed_item_is_relinked_in_the_feed(idmap: Invoke, tmp_path: Path, serve: Running,
                                                small_library: list[dict[str, Any]]) -> None:  # fmt: skip
    path = write_library(tmp_path / "a.jsonl", small_library)
    add_snapshot(idmap, "a", path)
    cli_sync(idmap, "a")
    t1 = uuid_of(idmap, "a", "t1")
    start = feed(serve)["next"]
    write_library(path, [dict(r, id="t1-new") if r["id"] == "t1" else r for r in small_library])
    cli_sync(idmap, "a")
    changes = feed(serve, start)["changes"]
    assert [(c["type"], c["uuid"], c["old_native_id"], c["native_id"]) for c in changes] == [
        ("relinked", t1, "t1", "t1-new")
    ]


def test_long_poll_returns_as_soon_as_a_change_is_committed(serve: Running, two: Invoke) -> None:
    start = feed(serve)["next"]
    ar1, ar2 = uuid_of(two, "a", "ar1"), uuid_of(two, "a", "ar2")
    timer = threading.Timer(0.5, lambda: two("merge", ar1, ar2))
    began = time.monotonic()
    timer.start()
    answer = feed(serve, start, wait=20)
    timer.join()
    assert types(answer["changes"]) == [("merged", "artist")]
    assert time.monotonic() - began < 10
    began = time.monotonic()
    assert feed(serve, answer["next"], wait=0.5)["changes"] == []
    assert time.monotonic() - began >= 0.5


def test_without_since_the_feed_starts_now(serve: Running, two: Invoke) -> None:
    now = serve.get("/api/v1/changes").json()
    assert now["changes"] == [] and now["next"] == feed(serve)["changes"][-1]["cursor"]


def test_bad_cursor_and_limit_are_400(serve: Running) -> None:
    for params in ({"since": -1}, {"since": "x"}, {"limit": 0}, {"limit": 10_001}, {"wait": 61}):
        answer = serve.get("/api/v1/changes", params=params)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request", params


def test_the_feed_survives_a_restart_and_reads_the_same_in_python_and_on_the_cli(
    db_url: str, config_path: Path, two: Invoke
) -> None:
    ar1, ar2 = uuid_of(two, "a", "ar1"), uuid_of(two, "a", "ar2")
    with running_service(db_url, config_path) as first:
        assert two("merge", ar1, ar2).exit_code == 0
        before = feed(first)
    with running_service(db_url, config_path) as second:
        assert feed(second) == before
        limited = feed(second, limit=1)
        assert limited["changes"] == before["changes"][:1] and limited["next"] == before["changes"][0]["cursor"]
    with IdMap.open(db_url) as idmap:
        assert [c.as_json() for c in idmap.changes()] == before["changes"]
        assert [c.cursor for c in idmap.changes(since=before["changes"][0]["cursor"])] == [
            c["cursor"] for c in before["changes"][1:]
        ]
    result = two("changes", "--json")
    assert result.exit_code == 0 and json.loads(result.output) == before
    text = two("changes", "--since", str(before["next"] - 1))
    assert text.exit_code == 0 and "merged" in text.output and ar2 in text.output
    assert two("changes", "--since", "-3").exit_code == 2

"""When a sync is full and when it is incremental, and what incremental sees."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time

from soulsync_idmap.errors import SnapshotError
from soulsync_idmap.servers.snapshot import SnapshotServer
from tests.conftest import Invoke, write_jsonl


def _sync(idmap: Invoke, *args: str) -> dict[str, Any]:
    result = idmap("sync", "home", "--json", *args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output)[0])


def _synced_stamped_library(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], Path]:
    """The small library stamped 2024-01-01 as server "home", after its first (full) sync."""
    base = [dict(r, updated_at="2024-01-01T00:00:00Z") for r in small_library]
    snap = write_jsonl(tmp_path / "home.jsonl", base)
    idmap("servers", "add", "snapshot", "home", "--url", str(snap))
    assert _sync(idmap)["new"] == 7
    return base, snap


def test_first_run_full_then_incremental_then_weekly_full(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]
) -> None:
    snap = write_jsonl(tmp_path / "home.jsonl", small_library)
    os.utime(snap, (time.time() - 3600, time.time() - 3600))
    idmap("servers", "add", "snapshot", "home", "--url", str(snap))
    start = datetime.now(UTC)
    with freeze_time(start) as clock:
        assert _sync(idmap)["mode"] == "full"
        clock.tick(timedelta(hours=1))
        assert _sync(idmap)["mode"] == "incremental"
        assert _sync(idmap, "--full")["mode"] == "full"
        clock.tick(timedelta(days=8))
        assert _sync(idmap)["mode"] == "full"  # the removal check is due


def test_incremental_sees_changes_additions_and_removals(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]
) -> None:
    base, snap = _synced_stamped_library(idmap, tmp_path, small_library)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    changed = [dict(r, name="Airbag (Live)", updated_at=now) if r["id"] == "t1" else r for r in base if r["id"] != "t3"]
    changed.append({"kind": "track", "id": "t4", "name": "Exit Music", "album_id": "al1", "artist_id": "ar1",
                    "updated_at": now})  # fmt: skip
    write_jsonl(snap, changed)
    summary = _sync(idmap)
    assert summary["mode"] == "incremental"
    assert (summary["updated"], summary["new"], summary["gone"]) == (1, 1, 1)
    assert summary["seen"] == 2  # only what changed since the watermark was read
    lookup = idmap("lookup", "home", "t3")
    assert lookup.exit_code == 0  # the removed track keeps its UUID


def test_stats_shows_the_runs(idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> None:
    snap = write_jsonl(tmp_path / "home.jsonl", small_library)
    idmap("servers", "add", "snapshot", "home", "--url", str(snap))
    _sync(idmap)
    _sync(idmap, "--full")
    runs = json.loads(idmap("stats", "--json").output)["runs"]
    assert [(r["mode"], r["status"], r["new"]) for r in runs] == [("full", "ok", 0), ("full", "ok", 7)]


def test_an_unchanged_listing_skips_the_comparison_but_not_a_tombstone_to_undo(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]], db_url: str
) -> None:
    """The listing digest only stands for "nothing left or came back" while the live links add up."""
    from sqlalchemy import text

    from soulsync_idmap import IdMap

    base, snap = _synced_stamped_library(idmap, tmp_path, small_library)
    write_jsonl(snap, base)  # rewritten, same listing
    again = _sync(idmap)
    assert (again["mode"], again["gone"], again["revived"]) == ("incremental", 0, 0)
    with IdMap.open(db_url) as api, api.store.engine.begin() as conn:
        # A tombstone the listing contradicts (as a crash between two statements could leave).
        conn.execute(text("UPDATE link SET gone_at = last_seen WHERE native_id = 't2'"))
    write_jsonl(snap, base)
    assert _sync(idmap)["revived"] == 1
    write_jsonl(snap, [r for r in base if r["id"] != "t2"])
    assert _sync(idmap)["gone"] == 1


def test_a_run_that_fails_is_redone_by_the_next(
    idmap: Invoke,
    tmp_path: Path,
    small_library: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    config_path: Path,
) -> None:
    config_path.write_text(json.dumps({"sync": {"batch_size": 1}}))  # every item its own transaction
    snap = write_jsonl(tmp_path / "home.jsonl", small_library)
    idmap("servers", "add", "snapshot", "home", "--url", str(snap))
    assert _sync(idmap)["new"] == 7
    write_jsonl(snap, [dict(r, name="Airbag (Live)") if r["id"] == "t1" else r for r in small_library])

    def lost(self: SnapshotServer) -> None:  # the changes are written, then the run fails
        raise SnapshotError("the disk went away", path=str(snap))

    with monkeypatch.context() as patch:
        patch.setattr(SnapshotServer, "close", lost)
        failed = idmap("sync", "home")
        assert json.loads(idmap("stats", "--json").stdout)["runs"][0]["updated"] == 1  # the change was written
        assert failed.exit_code != 0 and "the disk went away" in failed.output
    write_jsonl(snap, small_library)  # back to the bytes of the last completed run
    summary = _sync(idmap)
    assert summary["updated"] == 1  # the failed run's change is undone


def test_a_hand_edited_listing_record_is_not_trusted(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]], db_url: str
) -> None:
    from sqlalchemy import text

    from soulsync_idmap import IdMap

    base, snap = _synced_stamped_library(idmap, tmp_path, small_library)
    with IdMap.open(db_url) as api, api.store.engine.begin() as conn:
        stored = json.loads(conn.execute(text("SELECT listing_digest FROM server WHERE name = 'home'")).scalar_one())
        stored["track"] = 7  # not a [digest, live links] pair
        conn.execute(text("UPDATE server SET listing_digest = :d WHERE name = 'home'"), {"d": json.dumps(stored)})
    write_jsonl(snap, base)  # the same bytes: only the record could vouch for them
    summary = _sync(idmap)
    assert (summary["mode"], summary["gone"], summary["revived"]) == ("incremental", 0, 0)

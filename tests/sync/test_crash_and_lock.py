"""A sync killed at any point leaves a consistent database; two syncs never interleave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap import IdMap
from tests.support.gen_library import generate

IDMAP = [sys.executable, "-m", "soulsync_idmap.cli"]


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "IDMAP_DB": db_url, "IDMAP_CONFIG": str(tmp_path / "config.json")}


def _links(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM link")).scalar_one())
    except Exception:
        return 0
    finally:
        engine.dispose()


def check_invariants(db_url: str) -> dict[str, int]:
    """Every link points at an existing entity; one live link per native id; one hop redirects."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).all()  # noqa: E731
        for kind in ("artist", "album", "track"):
            dangling = q(f"SELECT l.uuid FROM link l LEFT JOIN {kind} e ON e.uuid = l.uuid "
                         f"WHERE l.kind = '{kind}' AND e.uuid IS NULL")  # fmt: skip
            assert dangling == [], f"{kind} links without an entity"
        dupes = q("SELECT server_id, kind, native_id FROM link GROUP BY server_id, kind, native_id HAVING count(*) > 1")
        assert dupes == []
        chains = q("SELECT a.old_uuid FROM redirect a JOIN redirect b ON b.old_uuid = a.new_uuid")
        assert chains == []
        orphans = q("SELECT t.uuid FROM track t LEFT JOIN link l ON l.uuid = t.uuid WHERE l.uuid IS NULL")
        assert orphans == [], "entities without any link"
        counts = {
            k: int(conn.execute(text(f"SELECT count(*) FROM {k}")).scalar_one()) for k in ("artist", "album", "track")
        }
    engine.dispose()
    return counts


@pytest.fixture
def big_library(tmp_path: Path) -> Path:
    path = tmp_path / "lib.jsonl"
    generate(path, tracks=30_000, albums=3_000, artists=600, seed=7)
    return path


def _add(db_url: str, tmp_path: Path, library: Path) -> None:
    subprocess.run([*IDMAP, "servers", "add", "snapshot", "home", "--url", str(library)],
                   env=_env(db_url, tmp_path), check=True, capture_output=True)  # fmt: skip


@pytest.mark.parametrize("kill_after_links", [1, 12_000, 31_000])
def test_killed_sync_resumes_without_duplicates(
    db_url: str, tmp_path: Path, big_library: Path, kill_after_links: int
) -> None:
    _add(db_url, tmp_path, big_library)
    env = _env(db_url, tmp_path)
    proc = subprocess.Popen([*IDMAP, "sync", "home", "--json"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while proc.poll() is None and _links(db_url) < kill_after_links and time.monotonic() < deadline:
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = check_invariants(db_url)
    with IdMap.open(db_url) as idmap:
        early = {n: idmap.lookup("home", n) for n in ("ar0", "al0", "t0")}

    done = subprocess.run([*IDMAP, "sync", "home", "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = check_invariants(db_url)
    assert after == {"artist": 600, "album": 3_000, "track": 30_000}
    assert before["track"] <= after["track"]
    with IdMap.open(db_url) as idmap:
        for native, uuid in early.items():
            if uuid is not None:
                assert idmap.lookup("home", native) == uuid
    summary = json.loads(done.stdout)[0]
    assert summary["mode"] == "full"  # the killed run never completed, so no watermark yet
    if killed:
        assert summary["new"] == 33_600 - before["artist"] - before["album"] - before["track"]


def test_second_sync_is_refused_while_one_runs(db_url: str, tmp_path: Path, big_library: Path) -> None:
    _add(db_url, tmp_path, big_library)
    env = _env(db_url, tmp_path)
    first = subprocess.Popen([*IDMAP, "sync", "home"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _links(db_url) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    second = subprocess.run([*IDMAP, "sync", "home"], env=env, capture_output=True, text=True)
    first_rc = first.wait()
    assert first_rc == 0
    assert second.returncode == 1
    assert "another sync is running" in second.stderr
    assert "Traceback" not in second.stderr
    third = subprocess.Popen([*IDMAP, "sync", "home", "--full", "--wait", "120"], env=env, stdout=subprocess.DEVNULL)
    waiting = subprocess.run([*IDMAP, "sync", "home", "--wait", "120", "--json"], env=env, capture_output=True,
                             text=True)  # fmt: skip
    assert third.wait() == 0
    assert waiting.returncode == 0, waiting.stderr
    assert check_invariants(db_url)["track"] == 30_000

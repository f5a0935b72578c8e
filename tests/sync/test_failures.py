"""A failing server does not stop the others; a run whose process died is marked interrupted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from soulsync_idmap.mapping.store import Store
from tests.conftest import Invoke, write_jsonl


def test_every_named_server_is_synced_even_when_one_fails(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]
) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", small_library)
    idmap("servers", "add", "snapshot", "bad", "--url", str(bad))
    bad.unlink()  # the server is gone when the sync runs
    idmap("servers", "add", "snapshot", "good", "--url", str(write_jsonl(tmp_path / "good.jsonl", small_library)))
    result = idmap("sync", "bad", "good", "--json")
    assert result.exit_code == 1
    summary = {entry["server"]: entry for entry in json.loads(result.stdout)}
    assert (summary["bad"]["status"], summary["good"]["status"]) == ("failed", "ok")
    assert "file not found" in summary["bad"]["error"] and summary["good"]["new"] == 7
    assert "1 of 2 servers failed: bad" in result.output

    table = idmap("sync", "bad", "good")
    assert table.exit_code == 1
    assert "bad: failed:" in table.output and "file not found" in table.output  # the error under the table
    assert [line.split()[:3] for line in table.stdout.splitlines() if line.strip().startswith("good")] == [
        ["good", "incremental", "ok"]
    ]


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(
    idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]], db_url: str
) -> None:
    idmap("servers", "add", "snapshot", "home", "--url", str(write_jsonl(tmp_path / "home.jsonl", small_library)))
    assert idmap("sync").exit_code == 0
    store = Store.open(db_url)
    with store.begin() as conn:  # what a sync killed with SIGKILL leaves behind (the kill tests do it for real)
        conn.execute(text("UPDATE sync_run SET status = 'running', finished_at = NULL"))
    stats = json.loads(idmap("stats", "--json").stdout)
    assert [run["status"] for run in stats["runs"]] == ["running"]  # nobody holds the lock yet: shown as it is
    assert idmap("sync").exit_code == 0  # takes the lock: the dead run was not running any more
    with store.engine.connect() as conn:
        statuses = list(conn.execute(text("SELECT status FROM sync_run ORDER BY id")).scalars())
    store.close()
    assert statuses == ["interrupted", "ok"]

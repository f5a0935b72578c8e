"""``idmap serve`` as a process: its one line, its key, SIGTERM mid-sync, two processes on one database."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Invoke
from tests.service.conftest import add_snapshot, wait_for
from tests.support.gen_library import generate

IDMAP = str(Path(sys.executable).parent / "idmap")


class Process:
    def __init__(self, db_url: str, config_path: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [IDMAP, "--db", db_url, "--config", str(config_path), "serve", "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline().strip()
        assert self.line.startswith("serving on http://127.0.0.1:"), (
            self.line,
            self.proc.stderr and self.proc.stderr.read(),
        )
        self.url = self.line.removeprefix("serving on ")
        key = json.loads(config_path.read_text())["serve"]["api_key"]
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def sync(self, *servers: str) -> str:
        answer = self.client.post("/api/v1/sync", json={"servers": list(servers)})
        assert answer.status_code == 202, answer.text
        return str(answer.json()["run_id"])

    def status(self, run_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/api/v1/sync/{run_id}").json())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def keyed(idmap: Invoke, config_path: Path) -> str:
    result = idmap("serve", "--init-key")
    assert result.exit_code == 0
    return result.output.strip()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(10)


def test_init_key_prints_the_key_once_kept_0600(idmap: Invoke, config_path: Path, keyed: str) -> None:
    assert len(keyed) >= 32 and "\n" not in keyed
    again = idmap("serve", "--init-key")
    assert again.output.strip() == keyed
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600


def test_serve_without_a_key_is_a_one_line_error(idmap: Invoke) -> None:
    result = idmap("serve", "--port", "0")
    assert result.exit_code == 1 and "--init-key" in result.output and len(result.output.strip().splitlines()) == 1


def test_serve_prints_one_line_and_stops_on_sigterm(db_url: str, config_path: Path, keyed: str,
                                                    processes: list[Process]) -> None:  # fmt: skip
    process = Process(db_url, config_path)
    processes.append(process)
    assert httpx.get(f"{process.url}/api/v1/health").json()["status"] == "ok"
    assert process.client.get("/api/v1/changes").status_code == 200
    assert process.stop() == 0
    assert process.proc.stdout is not None and process.proc.stdout.read() == ""
    assert process.proc.stderr is not None and keyed not in process.proc.stderr.read()


def test_sigterm_mid_sync_stops_cleanly_and_the_next_sync_completes(
    db_url: str, config_path: Path, keyed: str, idmap: Invoke, tmp_path: Path, processes: list[Process]
) -> None:
    generate(tmp_path / "big.jsonl", tracks=30_000, albums=2_500, artists=400, seed=2)
    add_snapshot(idmap, "big", tmp_path / "big.jsonl")
    process = Process(db_url, config_path)
    processes.append(process)
    run = process.sync("big")
    wait_for(lambda: process.status(run)["progress"].get("big"), timeout=60, what="the sync to write batches")
    assert process.stop(timeout=60) == 0
    result = idmap("sync", "big", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["ok"]
    export = idmap("stats", "--json")
    assert json.loads(export.output)["entities"]["track"] == 30_000


def test_two_processes_share_one_database_and_one_sync_lock(
    db_url: str, config_path: Path, keyed: str, idmap: Invoke, tmp_path: Path, processes: list[Process]
) -> None:
    generate(tmp_path / "big.jsonl", tracks=30_000, albums=2_500, artists=400, seed=4)
    add_snapshot(idmap, "big", tmp_path / "big.jsonl")
    first, second = Process(db_url, config_path), Process(db_url, config_path)
    processes.extend([first, second])
    run = first.sync("big")
    wait_for(lambda: first.status(run)["progress"].get("big"), timeout=60, what="the first process to sync")
    waiting = second.sync("big")
    wait_for(lambda: second.status(waiting)["status"] == "waiting", timeout=30, what="the second to wait for the lock")
    first.stop(signal.SIGKILL)  # dies mid-sync: its lock goes with it
    done = wait_for(lambda: (s := second.status(waiting))["status"] in ("ok", "failed") and s, timeout=180,
                    what="the second process's sync")  # fmt: skip
    assert done["status"] == "ok", done
    uuid = second.client.get("/api/v1/lookup/big/t1").json()["uuid"]
    assert second.client.get(f"/api/v1/resolve/{uuid}", params={"server": "big"}).json()["native_id"] == "t1"
    assert second.stop() == 0
    stats = json.loads(idmap("stats", "--json").output)
    assert stats["entities"]["track"] == 30_000


def test_serve_refuses_a_port_in_use(db_url: str, config_path: Path, keyed: str, idmap: Invoke,
                                     processes: list[Process]) -> None:  # fmt: skip
    process = Process(db_url, config_path)
    processes.append(process)
    port = process.url.rsplit(":", 1)[1]
    result = idmap("serve", "--port", port)
    assert result.exit_code == 1 and "cannot listen" in result.output

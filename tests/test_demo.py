"""`idmap demo` runs end to end on loopback, and what it prints can be run again afterwards."""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from soulsync_idmap.cli import cli


def _demo(tmp_path: Path) -> tuple[str, Path]:
    result = CliRunner(env={"IDMAP_DB": None, "IDMAP_CONFIG": None}).invoke(
        cli, ["--config", str(tmp_path / "c.json"), "demo", "--workdir", str(tmp_path / "w")]
    )
    assert result.exit_code == 0, result.output
    return result.output, tmp_path / "w"


def test_demo(tmp_path: Path) -> None:
    out, _ = _demo(tmp_path)
    assert "fake Plex on http://127.0.0.1:" in out and "fake Jellyfin on http://127.0.0.1:" in out
    assert "one track, two servers, one UUID" in out
    lines = [line for line in out.splitlines() if "idmap resolve" in line and "->" in line]
    assert len(lines) == 2 and all(line.split("->")[1].strip() not in ("", "None") for line in lines)
    assert "review queue: 1 pending" in out
    assert "fake servers stopped" in out


def test_the_printed_commands_work_after_the_demo(tmp_path: Path) -> None:
    out, workdir = _demo(tmp_path)
    db, config = workdir / "demo.db", workdir / "config.json"
    assert f"the demo's database: {db} (secrets in {config})" in out
    assert db.is_file() and not (tmp_path / "c.json").exists()  # the user's own config is left alone
    export = next(line.strip() for line in out.splitlines() if line.strip().startswith("export IDMAP_DB="))
    env = dict(word.split("=", 1) for word in shlex.split(export)[1:])
    assert env == {"IDMAP_DB": str(db), "IDMAP_CONFIG": str(config)}
    uuid, jelly_id = re.search(r"idmap resolve (\S+) --server demo-jellyfin  ->  (\S+)", out).groups()  # type: ignore[union-attr]
    try_it = out.split("try it in another shell", 1)[1].splitlines()
    commands = [shlex.split(line.split("|")[0]) for line in try_it if line.startswith("  idmap ")]
    assert ["idmap", "resolve", uuid, "--server", "demo-jellyfin"] in commands and len(commands) >= 6
    runner = CliRunner(env=env)
    for command in commands:
        result = runner.invoke(cli, command[1:])
        assert result.exit_code == 0, (command, result.output)
        if command[1] == "resolve":
            assert result.stdout == f"{jelly_id}\n"


def _line(stream: int, needle: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        if select.select([stream], [], [], 0.2)[0]:
            chunk = os.read(stream, 4096)
            if not chunk:
                break
            seen += chunk
    return seen


def test_the_fake_servers_run_from_their_printed_command_lines(tmp_path: Path) -> None:
    out, _ = _demo(tmp_path)
    printed = [line.strip() for line in out.splitlines() if "-m soulsync_idmap.demo.fake_" in line]
    assert len(printed) == 2
    for line in printed:
        args = shlex.split(line)
        assert args[0] == sys.executable
        args[args.index("--port") + 1] = "0"  # the printed ports may be taken on this machine
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            first = _line(proc.stdout.fileno(), b"\n")
            found = re.match(rb"(fake Plex|jellyfin) on (http://127\.0\.0\.1:\d+) ", first)
            assert found, first
            token = args[args.index("--token") + 1]
            path = "/" if found.group(1) == b"fake Plex" else "/System/Info/Public"
            answer = httpx.get(found.group(2).decode() + path, headers={"X-Plex-Token": token}, timeout=10)
            assert answer.status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _first_uuid(workdir: Path) -> str:
    import sqlite3

    with sqlite3.connect(workdir / "demo.db") as conn:
        return str(conn.execute("SELECT uuid FROM link WHERE kind = 'track' ORDER BY id LIMIT 1").fetchone()[0])


def test_serve_keeps_the_fake_servers_up_for_the_whole_tour(tmp_path: Path) -> None:
    workdir = tmp_path / "w"
    env = {k: v for k, v in os.environ.items() if k not in ("IDMAP_DB", "IDMAP_CONFIG")}
    proc = subprocess.Popen([sys.executable, "-m", "soulsync_idmap.cli", "demo", "--workdir", str(workdir), "--serve"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "COLUMNS": "200"})  # fmt: skip
    try:
        assert proc.stdout is not None
        shown = _line(proc.stdout.fileno(), b"Ctrl-C stops them")
        assert b"the fake servers and the dashboard keep running" in shown, shown
        found = re.search(rb"the dashboard\S*: (http://127\.0\.0\.1:\d+)/\s+\(sign in with the API key (\S+)\)", shown)
        assert found is not None, shown
        url, key = found.group(1).decode(), found.group(2).decode()
        import httpx

        assert httpx.get(f"{url}/api/v1/health").json()["status"] == "ok"
        login = httpx.get(f"{url}/login")
        assert login.status_code == 200 and key not in login.text  # the page asks for the key, never shows it
        resolved = httpx.get(f"{url}/api/v1/resolve/{_first_uuid(workdir)}", headers={"X-Api-Key": key})
        assert resolved.status_code == 200 and resolved.json()["server"] == "demo-plex"
        runner = CliRunner(env={"IDMAP_DB": str(workdir / "demo.db"), "IDMAP_CONFIG": str(workdir / "config.json")})
        tested = runner.invoke(cli, ["servers", "test", "demo-plex"])
        assert tested.exit_code == 0 and tested.stdout.startswith("demo-plex: ok, plex at http://127.0.0.1:")
        synced = runner.invoke(cli, ["sync", "--json"])
        assert synced.exit_code == 0, synced.output
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0
    assert b"fake servers stopped" in rest

"""Conventions every command keeps: -h, -v anywhere, tables that fit, one timestamp style, one
exit rule for answers, one naming of JSON keys, a silent broken pipe, Ctrl-C, completion.

They check the command line, not the database behind it: SQLite only (``local``)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from soulsync_idmap import IdMap
from soulsync_idmap.cli import cli
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.loopback import Fault
from tests.cli.test_review import JELLY, PLEX
from tests.conftest import Invoke, write_jsonl
from tests.support.gen_library import generate

TOKEN = "c0ffee00c0ffee00c0ffee00c0ffee00"
LOCAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d [A-Z+\-0-9]+")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_minus_h_is_help_everywhere() -> None:
    runner = CliRunner()
    for path, _ in [((), cli), *_commands(cli)]:
        result = runner.invoke(cli, [*path, "-h"])
        assert result.exit_code == 0 and result.output.startswith("Usage: "), (path, result.output)


def test_every_json_option_says_what_it_prints() -> None:
    for path, command in _commands(cli):
        for param in command.params:
            if isinstance(param, click.Option) and "--json" in param.opts:
                assert (param.help or "").strip(), f"idmap {' '.join(path)} --json has no help"


@pytest.fixture
def two(local: Invoke, tmp_path: Path) -> dict[str, Path]:
    """Two snapshot servers, long names and paths, synced: one pending proposal or more."""
    folder = tmp_path / ("a-rather-long-folder-name-for-the-library-files" * 2)
    folder.mkdir()
    paths = {}
    for name, records in (("plex-living-room-server", PLEX), ("jellyfin-in-the-basement", JELLY)):
        paths[name] = write_jsonl(folder / f"{name}.jsonl", records)
        assert local("servers", "add", "snapshot", name, "--url", str(paths[name])).exit_code == 0
        assert local("sync", name).exit_code == 0
    return paths


@pytest.mark.parametrize("width", [80, 120])
def test_tables_fit_the_terminal(local: Invoke, two: dict[str, Path], local_db: str, config_path: Path,
                                 width: int) -> None:  # fmt: skip
    runner = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1"})
    outputs = {}
    for args in (("servers", "list"), ("stats",), ("review", "list"), ("sync", "plex-living-room-server")):
        result = runner.invoke(cli, ["--db", local_db, "--config", str(config_path), *args])
        assert result.exit_code == 0, result.output
        outputs[args[0]] = result.stdout
        # the database's path stays one line, whatever its length: the terminal wraps it, a copy pastes it whole
        too_long = [
            line for line in result.stdout.splitlines() if len(line) > width and not line.startswith("database: ")
        ]
        assert too_long == [], (args, too_long)
    for name in ("servers", "stats"):  # whole timestamps, local time with its zone
        stamps = LOCAL_TIME.findall(outputs[name])
        assert stamps and all("…" not in s for s in stamps), outputs[name]
    assert re.search(r"plex-living-room-server\s+snapshot\s+" + LOCAL_TIME.pattern, outputs["servers"])


def test_json_times_carry_their_zone(local: Invoke, two: dict[str, Path]) -> None:
    listed = json.loads(local("servers", "list", "--json").stdout)
    stats = json.loads(local("stats", "--json").stdout)
    synced = json.loads(local("sync", "--json").stdout)
    stamps = [s["watermark"] for s in listed] + [r["started_at"] for r in stats["runs"]]
    stamps += [r[k] for r in synced for k in ("started_at", "finished_at")]
    assert stamps and all(s.endswith("+00:00") for s in stamps), stamps


def test_numbers_have_one_format(local: Invoke, tmp_path: Path) -> None:
    library = tmp_path / "big.jsonl"
    generate(library, tracks=1200, albums=100, artists=40, seed=5)
    assert local("servers", "add", "snapshot", "big", "--url", str(library)).exit_code == 0
    synced = local("sync")
    assert re.search(r"big\s+full\s+ok\s+1,340\s+1,340\s", synced.stdout), synced.stdout
    stats = local("stats").stdout
    assert "1,200 tracks" in stats and re.search(r"big\s+40\s+100\s+1,200\s+0", stats), stats
    assert re.search(r"big\s+full\s+ok\s+" + LOCAL_TIME.pattern + r"\s+1,340\s+1,340\s", stats), stats


def test_verbose_anywhere_logs_phases(local: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> None:
    snap = write_jsonl(tmp_path / "home.jsonl", small_library)
    assert local("servers", "add", "snapshot", "home", "--url", str(snap)).exit_code == 0
    quiet = local("sync", "home")
    assert quiet.stderr == ""
    loud = local("sync", "home", "--full", "-v")
    assert loud.exit_code == 0, loud.output
    lines = loud.stderr.splitlines()
    assert lines[0].startswith("info: database: ")
    assert "info: home: sync starts" in lines
    assert any(re.fullmatch(r"info: home: \S.* done: [\d,]+ in \d+\.\d s", line) for line in lines), lines
    assert any(line.startswith("info: home: full sync finished: seen 7") for line in lines), lines
    assert local("--verbose", "stats").exit_code == 0


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeJellyfin]:
    library = tmp_path / "library.jsonl"
    generate(library, tracks=60, albums=6, artists=4, seed=3)
    with FakeJellyfin(library, token=TOKEN) as server:
        assert isinstance(server, FakeJellyfin)
        yield server


def test_very_verbose_logs_every_request_without_secrets(local: Invoke, fake: FakeJellyfin) -> None:
    assert local("servers", "add", "jellyfin", "jf", "--url", fake.url, "--token", TOKEN).exit_code == 0
    fake.reset_log()
    result = local("sync", "jf", "-vv")
    assert result.exit_code == 0, result.output
    requests = [
        line for line in result.stderr.splitlines() if re.fullmatch(r"debug: (GET|POST) /\S* \d{3} \d+ ms", line)
    ]
    assert len(requests) == len(fake.requests) and any(" /Items 200 " in line for line in requests)
    assert TOKEN not in result.output and "?" not in "".join(requests)


def test_resolve_lookup_translate_share_one_exit_rule(local: Invoke, two: dict[str, Path], local_db: str) -> None:
    plex, jelly = "plex-living-room-server", "jellyfin-in-the-basement"
    with IdMap.open(local_db) as api:
        lucky = api.lookup(plex, "t3")
        airbag_plex = api.lookup(plex, "t1")
    assert lucky and airbag_plex
    unknown = "00000000-0000-4000-8000-000000000000"
    for args in ((), ("--json",)):
        found = local("resolve", lucky, "--server", jelly, *args)
        assert found.exit_code == 0 and "T3" in found.stdout
        missing = local("resolve", unknown, "--server", jelly, *args)
        assert (missing.exit_code, missing.stdout) == (1, "")
        assert missing.stderr == f"Error: unknown UUID {unknown}\n"
        not_there = local("resolve", airbag_plex, "--server", jelly, *args)  # Airbag waits in review
        assert (not_there.exit_code, not_there.stdout) == (1, "")
        assert f"{airbag_plex} has no live item on {jelly}" in not_there.stderr
        no_id = local("lookup", plex, "nope", *args)
        assert (no_id.exit_code, no_id.stdout, no_id.stderr) == (
            1,
            "",
            f"Error: {plex} has no item with native id 'nope'\n",
        )
        no_twin = local("translate", plex, "t1", "--to", jelly, *args)
        assert (no_twin.exit_code, no_twin.stdout) == (1, "") and "has no live item on" in no_twin.stderr
    assert json.loads(local("resolve", lucky, "--server", jelly, "--json").stdout) == {
        "uuid": lucky, "server": jelly, "native_id": "T3"}  # fmt: skip


def test_json_keys_name_fields_as_export_does(local: Invoke, two: dict[str, Path]) -> None:
    exported = [json.loads(line) for line in local("export", "--kind", "track").stdout.splitlines()]
    proposal = json.loads(local("review", "list", "--json").stdout)[0]
    assert proposal["kind"] == "track"
    for side in (proposal["a"], proposal["b"]):
        assert set(side) <= set(exported[0]), set(side) - set(exported[0])
        assert {"name", "artist_name", "album_name"} <= set(side)


def test_shell_completion_names_servers(local: Invoke, two: dict[str, Path], local_db: str) -> None:
    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {"_IDMAP_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
        result = CliRunner(env=env).invoke(cli, [], prog_name="idmap")
        return [row.split(",", 1)[1] for row in result.stdout.splitlines() if row]

    assert complete(f"idmap --db {local_db} servers test ") == ["jellyfin-in-the-basement", "plex-living-room-server"]
    assert complete(f"idmap --db {local_db} sync pl") == ["plex-living-room-server"]
    assert complete(f"idmap --db {local_db} resolve x --server j") == ["jellyfin-in-the-basement"]
    assert complete("idmap --db /nonexistent/x.db servers activate ") == []
    assert "activate" in complete("idmap servers ")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "_IDMAP_COMPLETE=bash_source idmap" in readme


def _idmap(db: str, config: Path, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IDMAP_DB": db, "IDMAP_CONFIG": str(config)}
    return subprocess.Popen([sys.executable, "-m", "soulsync_idmap.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)  # fmt: skip


def test_a_closed_pipe_ends_export_silently(local: Invoke, tmp_path: Path, local_db: str, config_path: Path) -> None:
    library = tmp_path / "big.jsonl"
    generate(library, tracks=3000, albums=200, artists=60, seed=9)
    assert local("servers", "add", "snapshot", "big", "--url", str(library)).exit_code == 0
    assert local("sync").exit_code == 0
    proc = _idmap(local_db, config_path, "export")  # like `idmap export | head -1`
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    assert json.loads(first)["kind"] == "artist"
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b""


def test_ctrl_c_during_a_sync_exits_130_and_records_the_run_as_interrupted(
    local: Invoke, fake: FakeJellyfin, local_db: str, config_path: Path
) -> None:
    assert local("servers", "add", "jellyfin", "jf", "--url", fake.url, "--token", TOKEN).exit_code == 0
    fake.inject(*[Fault("delay", seconds=0.3) for _ in range(200)])
    fake.reset_log()
    proc = _idmap(local_db, config_path, "sync", "jf")
    deadline = time.monotonic() + 30
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert err == "interrupted\n", err
    fake.clear_faults()
    engine = create_engine(local_db)
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT status, error FROM sync_run ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in runs] == [("interrupted", "interrupted (Ctrl-C)")]
    stats = local("stats").stdout
    assert re.search(r"jf\s+full\s+interrupted\s", stats), stats


def test_very_verbose_logs_each_matching_decision(
    local: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]
) -> None:
    snap = write_jsonl(tmp_path / "home.jsonl", small_library)
    assert local("servers", "add", "snapshot", "home", "--url", str(snap)).exit_code == 0
    assert local("sync", "home").exit_code == 0
    write_jsonl(snap, [dict(r, id="t1-new") if r["id"] == "t1" else r for r in small_library])
    loud = local("-vv", "sync", "home", "--full")
    assert loud.exit_code == 0, loud.output
    assert re.search(r"track t1-new: relinked to \S+ \(was t1 here\)", loud.stderr), loud.stderr

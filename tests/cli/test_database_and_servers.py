"""Which database a command opens (``--db``), and fixing a server: ``servers add`` checks,
``servers set`` changes, ``servers test`` answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from soulsync_idmap import IdMap
from soulsync_idmap.cli import cli
from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from tests.conftest import Invoke, write_jsonl
from tests.support.gen_library import generate

TOKEN = "c0ffee00c0ffee00c0ffee00c0ffee00"


def run(*args: str) -> Result:
    """The CLI with nothing from the environment deciding the database."""
    return CliRunner(env={"IDMAP_DB": None, "IDMAP_CONFIG": None}).invoke(cli, list(args))


# -- --db ------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["stats"], ["servers", "list"], ["export"], ["review", "list"],
                                     ["resolve", "01a234f9-2770-7c26-a446-5b672e001179"]])  # fmt: skip
def test_reading_commands_never_create_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = str(tmp_path / "c.json")
    for db in ("sqlite:///tmp/x.db", str(tmp_path / "typo.db"), f"sqlite:///{tmp_path}/nowhere/x.db"):
        result = run("--db", db, "--config", config, *command)
        assert result.exit_code == 1, result.output
        assert "no database at" in result.stderr and "Traceback" not in result.output
        assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*") if p.suffix == ".db" or p.name in ("tmp", "nowhere")) == []
    relative = run("--db", "sqlite:///tmp/x.db", "--config", config, *command)
    assert "sqlite:/// takes a relative path, sqlite://// an absolute one" in relative.stderr


def test_a_missing_folder_is_never_created(tmp_path: Path, small_library: list[dict[str, Any]]) -> None:
    snap = write_jsonl(tmp_path / "s.jsonl", small_library)
    target = tmp_path / "nonexistent" / "x.db"
    result = run("--db", f"sqlite:///{target}", "--config", str(tmp_path / "c.json"),
                 "servers", "add", "snapshot", "home", "--url", str(snap))  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: cannot open database {target}: folder {target.parent} does not exist"
    assert not target.parent.exists()


def test_writing_commands_create_a_database_and_say_so(tmp_path: Path, small_library: list[dict[str, Any]]) -> None:
    snap = write_jsonl(tmp_path / "s.jsonl", small_library)
    db = tmp_path / "music.idmap.db"
    base = ("--db", str(db), "--config", str(tmp_path / "c.json"))  # a plain file path is a SQLite database
    added = run(*base, "servers", "add", "snapshot", "home", "--url", str(snap))
    assert added.exit_code == 0, added.output
    assert added.stderr == f"created a new database at {db}\n"
    again = run(*base, "sync")
    assert again.exit_code == 0 and "created" not in again.stderr
    shown = run(*base, "stats")
    assert shown.stdout.splitlines()[0] == f"database: {db}"
    assert json.loads(run(*base, "stats", "--json").stdout)["database"] == str(db)
    verbose = run(*base, "stats", "-v")
    assert f"info: database: {db}" in verbose.stderr.splitlines()
    with IdMap.open(str(db)) as api:  # the library takes the same plain path
        assert api.lookup("home", "t1") is not None


def test_sync_and_import_on_a_missing_database_create_nothing(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    base = ("--db", str(db), "--config", str(tmp_path / "c.json"))
    for command in (["sync"], ["import-soulsync", str(tmp_path / "x.db"), "--server", "home"]):
        result = run(*base, *command)
        assert result.exit_code == 1 and f"no database at {db}" in result.stderr, result.output
    assert not db.exists()


# -- servers add / set / test ----------------------------------------------------------------
@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeJellyfin]:
    library = tmp_path / "library.jsonl"
    generate(library, tracks=40, albums=4, artists=3, seed=11)
    with FakeJellyfin(library, token=TOKEN) as server:
        assert isinstance(server, FakeJellyfin)
        yield server


def test_servers_add_checks_the_connection(idmap: Invoke, fake: FakeJellyfin, tmp_path: Path,
                                           small_library: list[dict[str, Any]]) -> None:  # fmt: skip
    refused = idmap("servers", "add", "jellyfin", "jf", "--url", fake.url, "--token", "wrong-token")
    assert refused.exit_code == 1
    assert "jf not added (fix the options, or add it anyway with --no-check)" in refused.stderr
    assert "wrong-token" not in refused.output
    # a server that stays down is refused once --retry-seconds is over (by default after a minute)
    dead = idmap("servers", "add", "jellyfin", "gone", "--url", "http://127.0.0.1:9", "--token", "t",
                 "--retry-seconds", "1")  # fmt: skip
    assert dead.exit_code == 1 and "not added" in dead.stderr
    unchecked = idmap("servers", "add", "jellyfin", "jf", "--url", fake.url, "--token", "wrong-token", "--no-check")
    assert unchecked.stdout == "added jellyfin server jf (active, connection not checked)\n"
    good = idmap("servers", "add", "jellyfin", "jf2", "--url", fake.url, "--token", TOKEN)
    assert good.exit_code == 0, good.output
    assert good.stdout.splitlines() == [
        "added jellyfin server jf2; it answers (3 artists)",
        "the active server stays; 'idmap servers activate jf2' switches to it",
    ]


def test_a_wrong_token_is_fixed_with_servers_set(idmap: Invoke, fake: FakeJellyfin, db_url: str) -> None:
    assert idmap("servers", "add", "jellyfin", "jf", "--url", fake.url, "--token", "wrong", "--no-check").exit_code == 0
    failed = idmap("sync", "jf")
    assert failed.exit_code == 1
    assert "fix it with 'idmap servers set jf --token ...'" in failed.stderr
    tested = idmap("servers", "test", "jf")
    assert tested.exit_code == 1 and "idmap servers set jf" in tested.stderr and "Traceback" not in tested.output
    changed = idmap("servers", "set", "jf", "--token", TOKEN, "--library", "Music")
    assert changed.stdout == "jf: changed library, token; 'idmap servers test jf' checks it\n"
    tested = idmap("servers", "test", "jf")
    assert tested.exit_code == 0, tested.output
    assert tested.stdout.startswith(f"jf: ok, jellyfin at {fake.url} (3 artists, 4 albums, 40 tracks; ")
    as_json = json.loads(idmap("servers", "test", "jf", "--json").stdout)
    assert as_json["ok"] and as_json["counts"] == {"artist": 3, "album": 4, "track": 40}
    assert idmap("sync", "jf").exit_code == 0
    with IdMap.open(db_url) as api:
        before = {n: api.lookup("jf", n) for n in [fake.native_id("track", "t1")]}
    # another URL for the same server keeps every link and UUID
    assert idmap("servers", "set", "jf", "--url", fake.url + "/", "--timeout", "12").exit_code == 0
    listed = json.loads(idmap("servers", "list", "--json").stdout)
    assert [(s["name"], s["url"], s["library"]) for s in listed] == [("jf", fake.url, "Music")]
    assert idmap("sync", "jf").exit_code == 0
    with IdMap.open(db_url) as api:
        assert {n: api.lookup("jf", n) for n in before} == before


def test_servers_set_needs_something_to_change(idmap: Invoke, tmp_path: Path,
                                               small_library: list[dict[str, Any]]) -> None:  # fmt: skip
    snap = write_jsonl(tmp_path / "s.jsonl", small_library)
    assert idmap("servers", "add", "snapshot", "home", "--url", str(snap)).exit_code == 0
    nothing = idmap("servers", "set", "home")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output
    unknown = idmap("servers", "set", "nope", "--token", "x")
    assert unknown.exit_code == 1 and "unknown server 'nope'" in unknown.stderr
    missing = idmap("servers", "set", "home", "--url", str(tmp_path / "moved.jsonl"))
    assert missing.exit_code == 1 and "snapshot file not found" in missing.stderr

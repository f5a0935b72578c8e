"""The review prompt as a person meets it: labels, the position in the queue, what a key did,
version conflicts named and never accepted in bulk, Ctrl-C on a real terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap import IdMap
from tests.cli.test_review import JELLY, PLEX
from tests.conftest import Invoke, write_jsonl


def _queue(idmap: Invoke, folder: Path) -> list[dict[str, Any]]:
    """Two servers synced: two pending proposals (Airbag, Let Down), best score first."""
    for name, records in (("plex", PLEX), ("jelly", JELLY)):
        path = write_jsonl(folder / f"{name}.jsonl", records)
        assert idmap("servers", "add", "snapshot", name, "--url", str(path)).exit_code == 0
        assert idmap("sync", name).exit_code == 0
    pending = json.loads(idmap("review", "list", "--json").stdout)
    assert len(pending) == 2
    return list(pending)


@pytest.fixture
def queued(local: Invoke, tmp_path: Path) -> list[dict[str, Any]]:
    """The queue on SQLite: the prompt's behaviour does not depend on the database."""
    return _queue(local, tmp_path)


def _conflict(db_url: str, review_id: int) -> None:
    """What the scorer records for "Karma Police (Live)" against "(Remix)": the conflict as a reason."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        query = text("SELECT reasons FROM review_item WHERE id = :i")
        reasons = json.loads(conn.execute(query, {"i": review_id}).scalar_one())
        reasons["version_conflict"] = 1.0
        conn.execute(text("UPDATE review_item SET reasons = :r, score = 0.97 WHERE id = :i"),
                     {"r": json.dumps(reasons), "i": review_id})  # fmt: skip
    engine.dispose()


def test_the_proposal_reads_like_a_person_would_say_it(local: Invoke, queued: list[dict[str, Any]]) -> None:
    result = local("review", input="s\nq\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    first = queued[0]
    assert f"1 of 2 · track proposal #{first['id']} · score {first['score']:.2f}" in out
    lines = out.splitlines()
    duration = next(line for line in lines if line.startswith("duration "))
    assert re.fullmatch(r"duration\s+\d:\d\d\s+\d:\d\d\s*", duration), duration
    assert "duration_ms" not in out and "album_title" not in out and "artist_name" not in out
    assert not any(line.split()[:1] in (["mbid"], ["isrc"], ["MusicBrainz"], ["ISRC"]) for line in lines)
    # each server's native id stands under the side that holds it
    plex_row = next(line for line in lines if line.startswith("on plex"))
    jelly_row = next(line for line in lines if line.startswith("on jelly"))
    header = next(line for line in lines if "A (kept)" in line)
    column_b = header.index("B (merged into A)")
    assert plex_row.rstrip()[column_b - 1 :].strip() == "" and plex_row.split()[2] in ("t1", "t2")
    assert jelly_row[:column_b].split() == ["on", "jelly"] and jelly_row[column_b:].strip() in ("T1", "T2")
    assert "why: duration 0." in out
    assert "2 of 2 · track proposal" in out
    assert "[o]ther" not in out  # no other candidate for either proposal
    assert "[u]ndo" not in out.split("2 of 2")[0]  # nothing to undo yet


def test_a_bad_key_shows_the_choices_with_their_brackets(local: Invoke, queued: list[dict[str, Any]]) -> None:
    result = local("review", input="x\nq\n")
    assert "choose one of: [a]ccept [r]eject [s]kip [q]uit" in result.stdout


def test_accepting_names_what_was_merged(local: Invoke, queued: list[dict[str, Any]], local_db: str) -> None:
    result = local("review", input="a\nq\n")
    assert result.exit_code == 0, result.output
    with IdMap.open(local_db) as api:
        survivor = api.lookup("plex", "t1") if queued[0]["a"]["name"] == "Airbag" else api.lookup("plex", "t2")
    name = queued[0]["a"]["name"]
    assert f"merged {name!r} into {name!r}: both are now {survivor}" in result.stdout
    assert "[u]ndo" in result.stdout.split("2 of 2")[1]
    assert result.stdout.rstrip().endswith("accepted 1, rejected 0, skipped 0, undone 0")


def test_an_empty_queue_says_so(local: Invoke, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", PLEX)
    assert local("servers", "add", "snapshot", "plex", "--url", str(path)).exit_code == 0
    result = local("review")
    assert result.stdout.splitlines()[0] == "nothing to review: no pending proposals"


def test_version_conflicts_are_named_and_never_accepted_in_bulk(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    queued = _queue(idmap, tmp_path)  # on every backend: bulk acceptance reads the stored reasons
    conflicted, plain = queued[0]["id"], queued[1]["id"]
    _conflict(db_url, conflicted)
    listed = idmap("review", "list")
    row = next(line for line in listed.stdout.splitlines() if line.split()[:1] == [str(conflicted)])
    assert "versions differ" in row
    bulk = idmap("review", "accept", "--above", "0.0", "-vv")
    assert bulk.exit_code == 0, bulk.output
    assert bulk.stdout == "accepted 1\n"
    assert f"held back 1 whose versions differ ({conflicted})" in bulk.stderr
    assert f"debug: proposal {conflicted} (score 0.97) held back: versions differ" in bulk.stderr  # the decision
    pending = json.loads(idmap("review", "list", "--json").stdout)
    assert [p["id"] for p in pending] == [conflicted] and plain not in [p["id"] for p in pending]
    assert pending[0]["reasons"]["version_conflict"] == 1.0
    # the interactive prompt asks before merging two versions, and "n" keeps it pending
    result = idmap("review", input="a\nn\nq\n")
    assert "versions differ (live, remix, edit...): never accepted in bulk" in result.stdout
    assert "accept anyway? [y]es [n]o" in result.stdout
    assert [p["id"] for p in json.loads(idmap("review", "list", "--json").stdout)] == [conflicted]
    # a person naming the proposal decides it
    single = idmap("review", "accept", str(conflicted))
    assert single.exit_code == 0 and "versions differ" in single.stderr
    assert json.loads(idmap("review", "list", "--json").stdout) == []


COLOUR = re.compile(rb"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7]|4[0-8]|10[0-7])(?:;[0-9;]*)?m")


def _read_until(fd: int, needle: bytes, timeout: float = 20.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    return seen


def _own_terminal() -> None:
    """In the child: a session of its own with the pty as controlling terminal, so Ctrl-C is SIGINT."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _terminal(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "soulsync_idmap.cli", *args], stdin=child, stdout=child,
                            stderr=child, env=env, preexec_fn=_own_terminal)  # fmt: skip
    os.close(child)
    return proc, main


def _env(db: str, config_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "IDMAP_DB": db, "IDMAP_CONFIG": str(config_path), "COLUMNS": "100", **extra}


def test_single_keys_and_ctrl_c_on_a_terminal(queued: list[dict[str, Any]], local_db: str, config_path: Path) -> None:
    proc, fd = _terminal(["review"], _env(local_db, config_path, NO_COLOR="1"))
    try:
        screen = _read_until(fd, b"[q]uit ")
        assert b"1 of 2" in screen and not COLOUR.search(screen)  # NO_COLOR: bold at most, no colour
        os.write(fd, b"x")  # one key, no Enter
        again = b"choose one of: [a]ccept [r]eject [s]kip [q]uit\r\n[a]ccept [r]eject [s]kip [q]uit "
        assert again in _read_until(fd, again)  # a key is only sent once the prompt waits for it
        os.write(fd, b"s")
        assert b"2 of 2" in _read_until(fd, b"2 of 2")
        _read_until(fd, b"[q]uit ")
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT
        screen = _read_until(fd, b"undone 0")
        assert proc.wait(timeout=20) == 130
        assert b"interrupted: accepted 0, rejected 0, skipped 1, undone 0" in screen
        assert b"Aborted" not in screen and b"Traceback" not in screen
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(fd)

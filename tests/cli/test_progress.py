"""Sync progress on a real terminal: each phase with its total, percent, rate and time left."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.support.gen_library import generate


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with a pseudo-terminal as stdout and stderr; everything it drew."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "soulsync_idmap.cli", *args], stdout=follower, stderr=follower,
                            stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))


def test_a_first_sync_shows_each_phase_with_its_total(tmp_path: Path) -> None:
    library = tmp_path / "lib.jsonl"
    generate(library, tracks=20_000, albums=1_500, artists=300, seed=3)
    (tmp_path / "config.json").write_text('{"sync": {"batch_size": 500}}')
    env = {**os.environ, "IDMAP_DB": f"sqlite:///{tmp_path / 'x.db'}", "IDMAP_CONFIG": str(tmp_path / "config.json"),
           "COLUMNS": "120", "TERM": "xterm"}  # fmt: skip
    env.pop("NO_COLOR", None)
    _on_a_terminal(["servers", "add", "snapshot", "home", "--url", str(library)], env)
    drawn = _on_a_terminal(["sync", "home"], env)
    # a phase line: "home: tracks ━━━━ 10000/20000  50% 12,345/s 0:00:01 0:00:01"
    tracks = re.findall(r"home: tracks\s.*?(\d+)/20000\s+(\d+)%", drawn)
    assert tracks, drawn[-3000:]
    assert any(int(percent) < 100 for _, percent in tracks)  # seen on its way, not only at the end
    assert re.search(r"home: artists\s.*?300/300", drawn)
    assert re.search(r"[\d,]+/s", drawn)  # the rate

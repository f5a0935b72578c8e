"""kill -9 at seeded random moments, again and again: the invariants hold after every kill."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.support.gen_library import generate
from tests.sync.test_crash_and_lock import IDMAP, _env, check_invariants

KILLS = 8


def test_many_random_kills_then_completion(db_url: str, tmp_path: Path) -> None:
    library = tmp_path / "lib.jsonl"
    generate(library, tracks=25_000, albums=2_500, artists=500, seed=99)
    env = _env(db_url, tmp_path)
    subprocess.run([*IDMAP, "servers", "add", "snapshot", "home", "--url", str(library)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    rng = random.Random(20261124)
    history = []
    for _ in range(KILLS):
        proc = subprocess.Popen([*IDMAP, "sync", "home", "--full"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        delay = rng.uniform(0.2, 2.5)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        history.append(check_invariants(db_url))  # raises on any broken invariant
    done = subprocess.run([*IDMAP, "sync", "home", "--json"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert check_invariants(db_url) == {"artist": 500, "album": 2_500, "track": 25_000}
    assert json.loads(done.stdout)[0]["ok"]
    # Work done before a kill is kept: the counts never went down between kills.
    tracks = [h["track"] for h in history]
    assert tracks == sorted(tracks)

"""Two servers, one library: the twin generator's noisy second view merges into one dataset."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.gen_library import generate
from benchmarks.twin import _other_id, make_twin
from soulsync_idmap import IdMap
from tests.conftest import Invoke


def test_noisy_twin_merges_into_the_same_uuids(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    base, twin = tmp_path / "base.jsonl", tmp_path / "twin.jsonl"
    generate(base, tracks=3000, albums=300, artists=80, seed=11)
    make_twin(base, twin, seed=12)
    assert idmap("servers", "add", "snapshot", "plex", "--url", str(base)).exit_code == 0
    assert idmap("servers", "add", "snapshot", "jelly", "--url", str(twin)).exit_code == 0
    first = json.loads(idmap("sync", "plex", "--json").output)[0]
    second = json.loads(idmap("sync", "jelly", "--json").output)[0]
    assert first["new"] == 3380
    with IdMap.open(db_url) as api:
        right = wrong = unmatched = 0
        for t in range(3000):
            mine = api.lookup("plex", f"t{t}")
            theirs = api.lookup("jelly", _other_id("track", f"t{t}"))
            assert mine and theirs
            if mine == theirs:
                right += 1
            else:
                unmatched += 1
        for a in range(80):
            assert api.lookup("plex", f"ar{a}") == api.lookup("jelly", _other_id("artist", f"ar{a}"))
        # A wrong merge would put one twin track on another track's UUID.
        uuids = [api.lookup("jelly", _other_id("track", f"t{t}")) for t in range(3000)]
        wrong = len(uuids) - len(set(uuids))
    assert wrong == 0
    assert right / 3000 >= 0.97, (right, unmatched, second)
    assert second["merged"] + second["new"] == 3380

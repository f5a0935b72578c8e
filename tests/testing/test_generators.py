"""The library generators the benchmarks and tests build their libraries with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from soulsync_idmap.servers.base import parse_datetime
from tests.support.gen_library import generate, rekey, retitle
from tests.support.twin import make_twin


def _items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_twin_without_ids_has_no_mbid_or_isrc_and_every_item(tmp_path: Path) -> None:
    base, twin, noisy = tmp_path / "base.jsonl", tmp_path / "twin.jsonl", tmp_path / "noisy.jsonl"
    generate(base, tracks=600, albums=50, artists=12, seed=3)
    assert make_twin(base, twin, seed=4, keep_ids=False) == 662
    items = _items(twin)
    assert not any("mbid" in i or "isrc" in i for i in items)
    assert all(i["path"].startswith("/data/media/music/") for i in items if i["kind"] == "track")
    make_twin(base, noisy, seed=4)  # the default keeps about two thirds of them
    assert sum("mbid" in i for i in _items(noisy)) > 200


def test_retitle_changes_and_stamps_only_the_named_tracks(tmp_path: Path) -> None:
    base, changed = tmp_path / "base.jsonl", tmp_path / "changed.jsonl"
    generate(base, tracks=500, albums=40, artists=10, seed=3)
    before = datetime.now(UTC).replace(microsecond=0)
    ids = set(retitle(base, changed, 25, seed=9))
    assert len(ids) == 25
    for old, new in zip(_items(base), _items(changed), strict=True):
        if new["id"] in ids:
            assert new["kind"] == "track" and new["name"] == old["name"] + " (Live)"
            assert parse_datetime(new["updated_at"]) >= before
        else:
            assert new == old


def test_rekey_gives_every_item_and_parent_a_new_id_and_keeps_the_rest(tmp_path: Path) -> None:
    base, keyed = tmp_path / "base.jsonl", tmp_path / "keyed.jsonl"
    generate(base, tracks=300, albums=30, artists=8, seed=3)
    assert rekey(base, keyed, prefix="k") == 338
    for old, new in zip(_items(base), _items(keyed), strict=True):
        for key in ("id", "artist_id", "album_id"):
            if key in old:
                assert new[key] == "k" + old[key]
        assert {k: v for k, v in new.items() if not k.endswith("id")} == {
            k: v for k, v in old.items() if not k.endswith("id")
        }

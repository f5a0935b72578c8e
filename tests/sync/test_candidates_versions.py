"""A live take and a remix on two servers: proposed for review below the merge line, never merged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from soulsync_idmap.mapping.store import Store, table
from soulsync_idmap.matching import Thresholds
from tests.conftest import Invoke, write_jsonl


def _library(title: str) -> list[dict[str, Any]]:
    return [
        {"kind": "artist", "id": "ar1", "name": "Radiohead"},
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1", "year": 1997},
        {"kind": "track", "id": "t1", "name": title, "artist_id": "ar1", "album_id": "al1", "track_number": 6,
         "duration_ms": 264_000, "year": 1997},
    ]  # fmt: skip


def test_a_version_conflict_is_proposed_below_same_and_named(idmap: Invoke, store: Store, tmp_path: Path) -> None:
    for name, title in (("plex", "Karma Police (Live)"), ("jelly", "Karma Police (Remix)")):
        snap = write_jsonl(tmp_path / f"{name}.jsonl", _library(title))
        assert idmap("servers", "add", "snapshot", name, "--url", str(snap)).exit_code == 0
        result = idmap("sync", name)
        assert result.exit_code == 0, result.output
    review, link = table("review_item"), table("link")
    with store.engine.connect() as conn:
        proposals = conn.execute(select(review.c.kind, review.c.score, review.c.reasons, review.c.status)).all()
        tracks = conn.execute(select(link.c.uuid).where(link.c.kind == "track")).scalars().all()
    assert len(set(tracks)) == 2  # two recordings, two UUIDs
    assert [(kind, status) for kind, _, _, status in proposals] == [("track", "pending")]
    score, reasons = proposals[0][1], json.loads(proposals[0][2])
    assert score < Thresholds().same and reasons["version_conflict"] == 1.0

"""MusicBrainz 20K through the real sync: five sources as five snapshot servers.

Each source CSV becomes a snapshot file (artist and album records derived from the
names; source 2 has no artist column and keeps its "Artist - Title" titles as they are),
all five are synced into one fresh SQLite database, and the UUID clusters are compared
with the labeled clusters, pairwise.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soulsync_idmap.config import Config
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.matching import fold
from soulsync_idmap.sync import SyncOptions, sync_servers


def parse_length(value: str) -> int | None:
    """Milliseconds from "04:04", "1m 58sec", "4.367" (minutes), "219" (s) or "321266" (ms)."""
    text = value.strip().lower()
    if match := re.fullmatch(r"(\d+):(\d{1,2})", text):
        return (int(match.group(1)) * 60 + int(match.group(2))) * 1000
    if match := re.fullmatch(r"(\d+)m\s*(\d+)\s*sec", text):
        return (int(match.group(1)) * 60 + int(match.group(2))) * 1000
    if re.fullmatch(r"\d+\.\d+", text):
        return round(float(text) * 60_000)
    if text.isdigit():
        number = int(text)
        return number if number > 20_000 else number * 1000
    return None


def parse_year(value: str) -> int | None:
    text = value.strip().lstrip("'")
    if re.fullmatch(r"\d{4}", text) and 1900 <= int(text) <= 2030:
        return int(text)
    if re.fullmatch(r"\d{2}", text):
        number = int(text)
        return 2000 + number if number <= 30 else 1900 + number
    return None


def parse_number(value: str) -> int | None:
    text = value.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _clean(value: str) -> str | None:
    text = value.strip()
    return None if not text or text.lower() in ("[unknown]", "unknown", "null") else text


def source_snapshot(csv_path: Path, out: Path) -> dict[str, str]:
    """Write one source as a snapshot; returns native track id -> true cluster id."""
    truth: dict[str, str] = {}
    artists: dict[str, dict[str, Any]] = {}
    albums: dict[str, dict[str, Any]] = {}
    tracks: list[dict[str, Any]] = []
    with open(csv_path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            artist, album = _clean(row["artist"]), _clean(row["album"])
            artist_id = album_id = None
            if artist:
                artist_id = "ar:" + fold(artist)
                artists.setdefault(artist_id, {"kind": "artist", "id": artist_id, "name": artist})
            if album:
                album_id = "al:" + fold(artist or "") + "|" + fold(album)
                albums.setdefault(album_id, {"kind": "album", "id": album_id, "name": album, "artist_id": artist_id,
                                             "year": parse_year(row["year"])})  # fmt: skip
            native = f"t{row['id']}"
            truth[native] = row["cluster_id"]
            tracks.append({
                "kind": "track", "id": native, "name": row["title"] or "(untitled)", "artist_id": artist_id,
                "album_id": album_id, "track_number": parse_number(row["number"]),
                "duration_ms": parse_length(row["length"]), "year": parse_year(row["year"]),
            })  # fmt: skip
    with open(out, "w", encoding="utf-8") as handle:
        for obj in itertools.chain(artists.values(), albums.values(), tracks):
            handle.write(json.dumps({k: v for k, v in obj.items() if v is not None}, ensure_ascii=False) + "\n")
    return truth


@dataclass
class PairScores:
    true_pairs: int
    predicted_pairs: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(groups: dict[str, list[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups.values():
        for x, y in itertools.combinations(sorted(members), 2):
            out.add((x, y))
    return out


def _score(predicted: dict[str, list[str]], truth_pairs: set[tuple[str, str]]) -> PairScores:
    pred = _pairs(predicted)
    return PairScores(len(truth_pairs), len(pred), len(pred & truth_pairs))


def evaluate(sources_dir: Path, work: Path | None = None) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory() if work is None else None
    base = Path(tmp.name) if tmp else work
    assert base is not None
    truth: dict[str, str] = {}  # record key -> cluster
    store = Store.open(f"sqlite:///{base / 'mb20k.db'}")
    names = []
    for number in range(1, 6):
        snap = base / f"source{number}.jsonl"
        for native, cluster in source_snapshot(sources_dir / f"{number}.csv", snap).items():
            truth[f"s{number}:{native}"] = cluster
        name = f"source{number}"
        store.add_server(name, "snapshot", str(snap), {})
        names.append(name)
    results = sync_servers(store, names, Config(base / "config.json"), SyncOptions())
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT s.name, l.native_id, l.uuid FROM link l JOIN server s ON s.id = l.server_id WHERE l.kind='track'"
        ).all()
        reviews = conn.exec_driver_sql(
            "SELECT uuid_a, uuid_b FROM review_item WHERE kind='track' AND status='pending'"
        ).all()
    store.close()
    by_uuid: dict[str, list[str]] = defaultdict(list)
    uuid_of: dict[str, str] = {}
    for server, native, uuid in rows:
        key = f"s{server[-1]}:{native}"
        by_uuid[uuid].append(key)
        uuid_of[key] = uuid
    true_groups: dict[str, list[str]] = defaultdict(list)
    for key, cluster in truth.items():
        true_groups[cluster].append(key)
    truth_pairs = _pairs(true_groups)
    auto = _score(by_uuid, truth_pairs)
    # With review: union-find over UUIDs joined by pending proposals (as if all were accepted).
    parent = {u: u for u in by_uuid}

    def find(u: str) -> str:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for a, b in reviews:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    joined: dict[str, list[str]] = defaultdict(list)
    for uuid, members in by_uuid.items():
        joined[find(uuid)].extend(members)
    with_review = _score(joined, truth_pairs)
    if tmp:
        tmp.cleanup()
    return {
        "records": len(truth),
        "entities": len(by_uuid),
        "review_pending": len(reviews),
        "auto": auto,
        "with_review": with_review,
        "seconds": sum(((r.finished_at or r.started_at) - r.started_at).total_seconds() for r in results),
    }

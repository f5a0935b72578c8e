"""A second server's view of a generated library: other ids, realistic tag noise.

Streams line by line, so it works on a million-track file. Per item, with a seeded RNG:
ids get the other server's scheme (hex GUIDs); paths move to another mount; about a
third of MusicBrainz ids and ISRCs are missing (the server did not read them); titles
pick up case changes, "feat." spelled otherwise, a "(Remastered)" suffix, curly quotes;
durations drift by up to a second (different decoders); album years are sometimes
missing. No item is dropped or added. With ``keep_ids=False`` the twin carries no
MusicBrainz id and no ISRC at all (a server that reads neither): matching then rests on
the fuzzy scorer and the paths.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any


def _other_id(kind: str, native: str) -> str:
    return hashlib.md5(f"twin:{kind}:{native}".encode()).hexdigest()


def _noisy_title(rng: random.Random, title: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return title.upper()
    if roll < 0.10:
        return title.lower()
    if roll < 0.13:
        return f"{title} (Remastered)"
    if roll < 0.15:
        return title.replace(" ", "  ")
    return title


def _transform(rng: random.Random, obj: dict[str, Any], keep_ids: bool = True) -> dict[str, Any]:
    kind = obj["kind"]
    out = dict(obj)
    out["id"] = _other_id(kind, obj["id"])
    for parent, parent_kind in (("artist_id", "artist"), ("album_id", "album")):
        if obj.get(parent):
            out[parent] = _other_id(parent_kind, obj[parent])
    if not keep_ids:
        out.pop("mbid", None)
        out.pop("isrc", None)
    if out.get("mbid") and rng.random() < 0.33:
        del out["mbid"]
    if out.get("isrc") and rng.random() < 0.33:
        del out["isrc"]
    if kind == "artist":
        if rng.random() < 0.05:
            out["name"] = obj["name"].lower()
    elif kind == "album":
        out["name"] = _noisy_title(rng, obj["name"])
        if rng.random() < 0.1:
            out.pop("year", None)
    else:
        out["name"] = _noisy_title(rng, obj["name"])
        if obj.get("duration_ms") is not None:
            out["duration_ms"] = max(1000, obj["duration_ms"] + rng.randint(-1000, 1000))
        if obj.get("path"):
            out["path"] = obj["path"].replace("/music/", "/data/media/music/", 1)
    return out


def make_twin(src: str | Path, dst: str | Path, seed: int = 2, *, keep_ids: bool = True) -> int:
    """Write the twin of ``src`` to ``dst``; returns the number of items."""
    rng = random.Random(seed)
    count = 0
    with open(src, encoding="utf-8") as inp, open(dst, "w", encoding="utf-8") as out:
        for line in inp:
            if line.strip():
                out.write(json.dumps(_transform(rng, json.loads(line), keep_ids), separators=(",", ":")) + "\n")
                count += 1
    return count

"""Generate a synthetic music library as a snapshot file (streamed, any size).

    python -m tests.support.gen_library OUT.jsonl --tracks 300000 --albums 25000 --artists 6000

Names are built from a fixed word list with a seeded RNG, so the same arguments always
give the same file. Every track has a path, a duration, a track/disc number and a year;
a share of items carry MusicBrainz ids and ISRCs, as tagged libraries do. ``retitle``
and ``rekey`` derive the changed copies the benchmarks sync next: some tracks edited
(with a new timestamp), or every native id new with everything else kept.
"""

from __future__ import annotations

import argparse
import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

WORDS = (
    "love night heart blue fire dream rain summer light road home gold river shadow stone wild city sky "
    "girl boy time song dance moon star black white red green ocean storm ghost angel devil paper glass "
    "silver iron velvet electric midnight morning sunday broken golden secret lonely happy crazy sweet "
    "little big last first new old young cold hot slow fast deep high low lost found free"
).split()


# Every item is stamped, as on Plex, Jellyfin and Subsonic (addedAt/updatedAt, DateCreated, created).
STAMPS = {"added_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}


def _name(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).title()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate(path: str | Path, tracks: int, albums: int, artists: int, seed: int = 1) -> int:
    """Write the library; returns the number of lines."""
    rng = random.Random(seed)
    lines = 0
    with open(path, "w", encoding="utf-8") as out:

        def write(obj: dict[str, object]) -> None:
            nonlocal lines
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
            lines += 1

        artist_names = []
        for a in range(artists):
            name = f"{_name(rng, 1, 3)} {a}"
            artist_names.append(name)
            item = {"kind": "artist", "id": f"ar{a}", "name": name, **STAMPS}
            if rng.random() < 0.6:
                item["mbid"] = _uuid(rng)
            write(item)
        album_info = []
        for b in range(albums):
            artist = b % artists
            title = f"{_name(rng, 1, 4)} {b}"
            year = rng.randint(1960, 2025)
            album_info.append((artist, title, year))
            item = {"kind": "album", "id": f"al{b}", "name": title, "artist_id": f"ar{artist}", "year": year, **STAMPS}
            if rng.random() < 0.6:
                item["mbid"] = _uuid(rng)
            write(item)
        first_track = 0
        for t in range(tracks):
            album = t * albums // tracks  # tracks spread evenly: 12 or 13 per album, never one giant album
            if album != (t - 1) * albums // tracks:
                first_track = t
            artist, title, year = album_info[album]
            number = t - first_track + 1
            song = _name(rng, 1, 5)
            item = {
                "kind": "track", "id": f"t{t}", "name": song, "artist_id": f"ar{artist}",
                "album_id": f"al{album}", "track_number": number, "disc_number": 1,
                "duration_ms": rng.randint(90_000, 420_000), "year": year,
                "path": f"/music/{artist_names[artist]}/{title}/{number:02d} {song}.flac",
                **STAMPS,
            }  # fmt: skip
            if rng.random() < 0.5:
                item["mbid"] = _uuid(rng)
            if rng.random() < 0.3:
                item["isrc"] = f"US{rng.choice('ABCDEFGH')}{rng.randint(10, 99)}{rng.randint(0, 99999):05d}"[:12]
            write(item)
    return lines


def retitle(src: str | Path, dst: str | Path, count: int, seed: int = 5) -> list[str]:
    """Copy a library with ``count`` random tracks retitled and stamped now; returns their ids."""
    rng = random.Random(seed)
    lines = Path(src).read_text(encoding="utf-8").splitlines()
    tracks = [i for i, line in enumerate(lines) if '"kind":"track"' in line]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    changed = []
    for i in rng.sample(tracks, count):
        obj = json.loads(lines[i])
        obj["name"] += " (Live)"
        obj["updated_at"] = now
        lines[i] = json.dumps(obj, separators=(",", ":"))
        changed.append(obj["id"])
    Path(dst).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def rekey(src: str | Path, dst: str | Path, prefix: str = "k") -> int:
    """Copy a library with every id (and parent id) prefixed: the same items under new ids."""
    lines = 0
    with open(src, encoding="utf-8") as inp, open(dst, "w", encoding="utf-8") as out:
        for line in inp:
            if not line.strip():
                continue
            obj = json.loads(line)
            for key in ("id", "artist_id", "album_id"):
                if obj.get(key):
                    obj[key] = prefix + obj[key]
            out.write(json.dumps(obj, separators=(",", ":")) + "\n")
            lines += 1
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--tracks", type=int, default=10_000)
    parser.add_argument("--albums", type=int, default=800)
    parser.add_argument("--artists", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(generate(args.out, args.tracks, args.albums, args.artists, args.seed), "lines written")


if __name__ == "__main__":
    main()

"""HTTP requests and seconds for full, incremental and id passes over the fake Plex and Jellyfin servers.

python benchmarks/requests_count.py --tracks 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.demo.fake_plex import FakePlex
from soulsync_idmap.servers.base import ServerConfig
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.plex import PlexServer
from tests.support.gen_library import generate


def measure(name: str, fake: FakePlex | FakeJellyfin, adapter: PlexServer | JellyfinServer) -> list[tuple[str, ...]]:
    rows = []
    passes = [
        ("full listing", lambda: sum(1 for _ in adapter.iter_artists()) + sum(1 for _ in adapter.iter_albums())
         + sum(1 for _ in adapter.iter_tracks())),
        ("incremental, nothing changed", lambda: sum(1 for _ in adapter.changed_since(datetime.now(UTC)))),
        ("id pass (all kinds)", lambda: sum(len(list(adapter.all_ids(k))) for k in ("artist", "album", "track"))),
    ]  # fmt: skip
    adapter.instance_id()
    for label, run in passes:
        fake.reset_log()
        start = time.perf_counter()
        items = run()
        rows.append((name, label, f"{items:,}", str(len(fake.requests)), f"{time.perf_counter() - start:.1f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "lib.jsonl"
        generate(lib, args.tracks, args.tracks // 12, args.tracks // 50, seed=3)
        rows: list[tuple[str, ...]] = []
        with FakePlex(lib, token="t") as plex:
            rows += measure("plex", plex, PlexServer(ServerConfig("p", "plex", plex.url, token="t")))
        with FakeJellyfin(lib, token="t") as jelly:
            rows += measure("jellyfin", jelly, JellyfinServer(ServerConfig("j", "jellyfin", jelly.url, token="t")))
    print(f"{'server':10} {'pass':30} {'items':>10} {'requests':>9} {'seconds':>8}")
    for r in rows:
        print(f"{r[0]:10} {r[1]:30} {r[2]:>10} {r[3]:>9} {r[4]:>8}")


if __name__ == "__main__":
    main()

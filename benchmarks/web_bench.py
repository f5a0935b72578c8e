"""Page loads of the web pages of ``idmap serve`` on a 300k-track database with 10,000 pending proposals.

    python benchmarks/web_bench.py                      # 300,000 tracks, SQLite and PostgreSQL
    python benchmarks/web_bench.py --tracks 30000 --no-postgres

The database is filled by a snapshot server's full sync; the 10,000 proposals are then
written straight into the review queue (pairs of random tracks with scores and reasons
as the matcher writes them, a tenth flagged as different versions): what is measured is
the page, not how the queue filled. ``idmap serve`` runs as its own process; one
logged-in keep-alive client asks each page in turn. Prints one table (median and p95 of
``--repeat`` loads of each page, full response read).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import BENCH, Table  # noqa: E402
from benchmarks.service_bench import idmap, pg_database  # noqa: E402
from tests.support.gen_library import generate  # noqa: E402

TARGET = 0.200


def fill_queue(db_url: str, proposals: int) -> tuple[str, int]:
    """Write ``proposals`` pending track pairs; returns (a track UUID, a proposal id in the middle)."""
    from sqlalchemy import create_engine, insert, select

    from soulsync_idmap.mapping.store import table, utcnow

    rng = random.Random(5)
    engine = create_engine(db_url)
    track, review = table("track"), table("review_item")
    with engine.begin() as conn:
        uuids = [r[0] for r in conn.execute(select(track.c.uuid))]
        pairs = set()
        while len(pairs) < proposals:
            a, b = rng.sample(uuids, 2)
            pairs.add((min(a, b), max(a, b)))
        rows = []
        for number, (a, b) in enumerate(sorted(pairs)):
            reasons = {"title": 1.0, "artist": 1.0, "duration": round(rng.uniform(0.2, 0.6), 3), "year": 1.0}
            if number % 10 == 0:
                reasons["version"] = 0.0
            rows.append({"kind": "track", "uuid_a": a, "uuid_b": b, "score": round(rng.uniform(0.7, 0.95), 4),
                         "reasons": json.dumps(reasons), "status": "pending", "created_at": utcnow()})  # fmt: skip
        conn.execute(insert(review), rows)
        middle = conn.execute(select(review.c.id).order_by(review.c.id).offset(proposals // 2).limit(1)).scalar_one()
    engine.dispose()
    return uuids[len(uuids) // 3], int(middle)


def timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(path)
        answer.read()
        times.append(time.perf_counter() - start)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path} answered {answer.status_code}")
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def bench_backend(backend: str, db_url: str, lib: Path, table: Table, args: argparse.Namespace) -> None:
    work = BENCH / f"web-{backend}"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.json"
    config.unlink(missing_ok=True)
    env = {**os.environ, "IDMAP_DB": db_url, "IDMAP_CONFIG": str(config)}
    idmap(env, "servers", "add", "snapshot", "base", "--url", str(lib))
    start = time.perf_counter()
    idmap(env, "sync", "base")
    table.add(f"setup: full sync of {args.tracks:,} tracks", "", backend, f"{time.perf_counter() - start:.1f} s")
    some_track, middle = fill_queue(db_url, args.proposals)
    key = idmap(env, "serve", "--init-key").strip()
    server = subprocess.Popen(
        [sys.executable, "-m", "soulsync_idmap.cli", "serve", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip().removeprefix("serving on ")
        with httpx.Client(base_url=url, timeout=60) as client:
            if client.post("/login", data={"key": key}).status_code != 303:
                raise RuntimeError("login refused")
            pages = [
                ("dashboard  /", "/"),
                ("review, first proposal  /review", "/review"),
                ("review, a proposal mid-queue", f"/review?id={middle}"),
                ("review, oldest first", "/review?order=oldest"),
                ("entity page", f"/entities/{some_track}"),
                ("entity search by name", "/entities?q=a"),
            ]
            for _label, path in pages:
                timed(client, path, 2)  # warm up
            for label, path in pages:
                median, p95 = timed(client, path, args.repeat)
                table.add(label, "<= 200 ms", backend, f"{median * 1000:.0f} ms (p95 {p95 * 1000:.0f})",
                          p95 <= TARGET)  # fmt: skip
    finally:
        server.terminate()
        server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description="idmap serve web page benchmarks")
    parser.add_argument("--tracks", type=int, default=300_000)
    parser.add_argument("--albums", type=int, default=24_000)
    parser.add_argument("--artists", type=int, default=6_000)
    parser.add_argument("--proposals", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    BENCH.mkdir(exist_ok=True)
    lib = BENCH / f"serve-lib-{args.tracks}-{args.albums}-{args.artists}.jsonl"
    if not lib.exists():
        generate(lib, args.tracks, args.albums, args.artists, seed=1)
    table = Table()
    backends: list[str] = []
    if not args.no_sqlite:
        db = BENCH / "web-sqlite.db"
        for suffix in ("", "-wal", "-shm", ".sync.lock"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        bench_backend("sqlite", f"sqlite:///{db}", lib, table, args)
        backends.append("sqlite")
    if not args.no_postgres:
        pg = pg_database()
        if pg is not None:
            url, drop = pg
            try:
                bench_backend("postgresql", url, lib, table, args)
                backends.append("postgresql")
            finally:
                drop()
    print(f"\nidmap serve web pages, {args.tracks:,} tracks, {args.proposals:,} pending proposals, "
          f"{os.cpu_count()} cores\n")  # fmt: skip
    print(table.render(backends))


if __name__ == "__main__":
    main()

"""The benchmark suite: prints one table, SQLite and PostgreSQL side by side.

    make bench                       # 1,000,000 tracks / 80,000 albums / 20,000 artists
    python benchmarks/run.py --tracks 100000 --albums 8000 --artists 2000 --no-postgres

Each sync runs as its own `idmap` process, so its wall time and peak RSS are those a
user sees. Libraries are generated once into .bench/ and reused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gen_library import generate  # noqa: E402
from tests.support.twin import make_twin  # noqa: E402

BENCH = ROOT / ".bench"
PG_ADMIN = os.environ.get("IDMAP_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Row:
    name: str
    target: str
    values: dict[str, str] = field(default_factory=dict)
    ok: dict[str, bool | None] = field(default_factory=dict)


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, name: str, target: str, backend: str, value: str, ok: bool | None = None) -> None:
        row = next((r for r in self.rows if r.name == name), None)
        if row is None:
            row = Row(name, target)
            self.rows.append(row)
        row.values[backend] = value
        row.ok[backend] = ok

    def print(self, backends: list[str]) -> None:
        widths = [max(len(r.name) for r in self.rows), 12, *([24] * len(backends))]
        header = ["measure", "target", *backends]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in self.rows:
            cells = [r.name, r.target]
            for b in backends:
                mark = {True: " ok", False: " MISS", None: ""}[r.ok.get(b)]
                cells.append(r.values.get(b, "-") + mark)
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))


def idmap(env: dict[str, str], *args: str) -> str:
    """Run the CLI (untimed); returns stdout."""
    proc = subprocess.run([sys.executable, "-m", "soulsync_idmap.cli", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"idmap {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


# The timed child is started by this small wrapper process, which reports the child's peak
# RSS from wait4. Started straight from the benchmark process, the child's ru_maxrss would
# include this process's own peak (Linux carries the high-water mark across vfork + exec),
# and this process holds a million raw rows for the executemany reference.
_WRAPPER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "sys.stderr.write(f'\\n@maxrss {usage.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_timed(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """Like idmap() but measures the child's own peak RSS."""
    start = time.perf_counter()
    command = [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "soulsync_idmap.cli", *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"idmap {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    rss_kb = int(proc.stderr.rstrip().rsplit("@maxrss ", 1)[1])
    return seconds, rss_kb / 1024, proc.stdout


def summary(out: str) -> dict[str, object]:
    return dict(json.loads(out)[0])


def raw_insert_rate(db_path: Path, rows: int) -> float:
    """Rows per second of plain sqlite3 executemany into our own tables (same pragmas)."""
    from soulsync_idmap.mapping.store import Store

    Store.open(f"sqlite:///{db_path}").close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=8192")
    now = datetime.now(UTC).isoformat()
    tracks = [
        (str(uuid.uuid4()), f"Title {i}", f"title {i}", str(uuid.uuid4()), str(uuid.uuid4()), "Album", "Artist",
         i % 20, 1, 200_000 + i % 1000, 2000, None, None, f"/music/a/b/{i}.flac", 1, now, now)
        for i in range(rows)
    ]  # fmt: skip
    links = [(1, "track", f"t{i}", t[0], "0123456789abcdef", t[1], None, t[13], t[13][-20:], now, now)
             for i, t in enumerate(tracks)]  # fmt: skip
    conn.execute(
        "INSERT INTO server (name, kind, url, settings, active, created_at) VALUES ('raw','snapshot','x','{}',1,?)",
        (now,),
    )
    start = time.perf_counter()
    for s in range(0, rows, 5000):
        conn.executemany(
            "INSERT INTO track (uuid, title, match_key, album_uuid, artist_uuid, album_title, artist_name,"
            " track_number, disc_number, duration_ms, year, mbid, isrc, path, origin_server_id, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tracks[s : s + 5000])  # fmt: skip
        conn.executemany(
            "INSERT INTO link (server_id, kind, native_id, uuid, fingerprint, name, parent_native_id, path, path_tail,"
            " first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?)", links[s : s + 5000])  # fmt: skip
        conn.commit()
    seconds = time.perf_counter() - start
    conn.close()
    return 2 * rows / seconds


def touch_changes(src: Path, dst: Path, changes: int, seed: int) -> None:
    """Copy a library, retitling ``changes`` random tracks and stamping them now."""
    rng = random.Random(seed)
    lines = src.read_text(encoding="utf-8").splitlines()
    track_lines = [i for i, line in enumerate(lines) if '"kind":"track"' in line]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for i in rng.sample(track_lines, changes):
        obj = json.loads(lines[i])
        obj["name"] += " (Live)"
        obj["updated_at"] = now
        lines[i] = json.dumps(obj, separators=(",", ":"))
    tmp = dst.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, dst)


def resolve_bench(db_url: str) -> tuple[float, float, float]:
    """resolve_many of 100,000 UUIDs in a fresh process (first call, then again), and resolve's p99."""
    from soulsync_idmap import IdMap

    with IdMap.open(db_url) as api:
        with api.store.engine.connect() as conn:
            from sqlalchemy import text

            uuids = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT l.uuid FROM link l JOIN server s ON s.id = l.server_id"
                        " WHERE s.name = 'base' AND l.kind = 'track' LIMIT 100000"
                    )
                )
            ]
        api.resolve_many(uuids[:10], server="base")
        start = time.perf_counter()
        result = api.resolve_many(uuids, server="base")
        many = time.perf_counter() - start
        assert sum(v is not None for v in result.values()) == len(uuids)
        start = time.perf_counter()
        api.resolve_many(uuids, server="base")
        again = time.perf_counter() - start
        sample = random.Random(3).sample(uuids, 2000)
        times = []
        for u in sample:
            t0 = time.perf_counter()
            api.resolve(u, server="base")
            times.append(time.perf_counter() - t0)
    p99 = statistics.quantiles(times, n=100)[98]
    return many, again, p99


def bench_backend(backend: str, db_url: str, lib: Path, twin: Path, table: Table, args: argparse.Namespace) -> None:
    work = BENCH / f"work-{backend}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    live = work / "base.jsonl"
    shutil.copy(lib, live)
    env = {**os.environ, "IDMAP_DB": db_url, "IDMAP_CONFIG": str(work / "config.json")}
    n_items = args.tracks + args.albums + args.artists
    idmap(env, "servers", "add", "snapshot", "base", "--url", str(live))

    seconds, rss, out = run_timed(env, "sync", "base", "--json")
    s = summary(out)
    assert s["new"] == n_items, s
    table.add(f"first full sync, {args.tracks:,} tracks", "<= 60 s", backend, f"{seconds:.1f} s",
              seconds <= 60 if args.tracks >= 1_000_000 else None)  # fmt: skip
    table.add("  peak RSS", "<= 1024 MB", backend, f"{rss:.0f} MB", rss <= 1024)
    ingest = 2 * n_items / seconds
    table.add("  ingest rate (entity + link rows/s)", "", backend, f"{ingest:,.0f}")
    if backend == "sqlite":
        raw = raw_insert_rate(work / "raw.db", args.tracks)
        table.add("  raw sqlite3 executemany rate", "", backend, f"{raw:,.0f}")
        table.add("  ingest / raw", ">= 0.25", backend, f"{ingest / raw:.2f}", ingest / raw >= 0.25)

    seconds, _, out = run_timed(env, "sync", "base", "--json")
    table.add("incremental, file untouched", "<= 3 s", backend, f"{seconds:.2f} s", seconds <= 3)
    os.utime(live)
    seconds, _, out = run_timed(env, "sync", "base", "--json")
    s = summary(out)
    table.add("incremental, file rewritten, nothing changed", "<= 3 s", backend,
              f"{seconds:.2f} s ({s['unchanged']:,} re-read)", seconds <= 3)  # fmt: skip
    touch_changes(lib, live, 1000, seed=5)
    seconds, _, out = run_timed(env, "sync", "base", "--json")
    s = summary(out)
    assert s["updated"] == 1000, s
    table.add("incremental, 1,000 changed tracks", "<= 5 s", backend, f"{seconds:.2f} s", seconds <= 5)

    # In a process of its own, as a host app would call it (not beside a million raw rows).
    probe = f"from benchmarks.run import resolve_bench; print(*resolve_bench({db_url!r}))"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    many, again, p99 = (float(v) for v in out.stdout.split())
    table.add("resolve_many, 100,000 UUIDs (first call)", "<= 0.5 s", backend, f"{many:.3f} s", many <= 0.5)
    table.add("resolve_many, 100,000 UUIDs (again)", "<= 0.5 s", backend, f"{again:.3f} s", again <= 0.5)
    table.add("resolve, p99 of 2,000", "<= 1 ms", backend, f"{p99 * 1000:.2f} ms", p99 <= 0.001)

    if args.no_twin:
        return
    idmap(env, "servers", "add", "snapshot", "twin", "--url", str(twin))
    seconds, rss, out = run_timed(env, "sync", "twin", "--json")
    s = summary(out)
    table.add("cross-server full sync (noisy twin)", "<= 120 s", backend, f"{seconds:.1f} s",
              seconds <= 120 if args.tracks >= 1_000_000 else None)  # fmt: skip
    table.add("  twin items merged / queued / new", "", backend, f"{s['merged']:,} / {s['queued']:,} / {s['new']:,}")
    table.add("  peak RSS (twin)", "<= 1024 MB", backend, f"{rss:.0f} MB", rss <= 1024)


def pg_database() -> tuple[str, Callable[[], None]] | None:
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"idmap_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL column skipped: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description="soulsync-idmap benchmarks")
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--albums", type=int, default=80_000)
    parser.add_argument("--artists", type=int, default=20_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-twin", action="store_true", help="leave out the cross-server sync")
    args = parser.parse_args()
    BENCH.mkdir(exist_ok=True)
    # Cached libraries are keyed by the generators' source: a changed generator makes new files.
    version = hashlib.sha1(
        b"".join((ROOT / "tests" / "support" / f).read_bytes() for f in ("gen_library.py", "twin.py"))
    ).hexdigest()[:8]
    lib = BENCH / f"lib-{args.tracks}-{args.albums}-{args.artists}-{version}.jsonl"
    twin = BENCH / f"twin-{args.tracks}-{args.albums}-{args.artists}-{version}.jsonl"
    if not lib.exists():
        generate(lib, args.tracks, args.albums, args.artists, seed=1)
    if not twin.exists():
        make_twin(lib, twin, seed=2)
    table = Table()
    backends = ["sqlite"]
    db = BENCH / "work-sqlite.db"
    for suffix in ("", "-wal", "-shm", ".sync.lock"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    if not args.no_sqlite:
        bench_backend("sqlite", f"sqlite:///{db}", lib, twin, table, args)
        print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} sqlite done", flush=True)
        table.print(backends)
    else:
        backends = []
    if not args.no_postgres:
        pg = pg_database()
        if pg is not None:
            url, drop = pg
            try:
                bench_backend("postgresql", url, lib, twin, table, args)
                backends.append("postgresql")
            finally:
                drop()
    print(f"\nsoulsync-idmap benchmarks, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores\n")
    table.print(backends)


if __name__ == "__main__":
    main()

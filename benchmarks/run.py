"""The benchmark suite: what users do, timed end to end, one table for SQLite and PostgreSQL.

    make bench                                       # 300,000 tracks / 25,000 albums / 6,000 artists
    python benchmarks/run.py --tracks 20000 --albums 1700 --artists 400 --no-postgres
    python benchmarks/run.py --idmap OTHER/.venv/bin/idmap    # the same table for another build

A generated library is served over HTTP by the bundled fake Plex, and a second server's view
of the same files (other ids, no MusicBrainz ids, no ISRCs, another mount point, tag noise)
by the bundled fake Jellyfin, each fake in a process of its own. Every sync is its own
``idmap`` process, so its wall time and peak RSS are those a user sees. Each sync is shown
beside its server's listing floor: the time the real adapter takes to merely page through
that server's listing, with no database (no client can beat it). Libraries are generated
once into .bench/ and reused. PostgreSQL: 127.0.0.1:5432, trust auth (IDMAP_BENCH_PG
overrides); --no-postgres skips it.

If ``benchmarks/service_bench.py`` exists, its ``rows(db_url, server, idmap)`` is called
after the resolve rows of each backend (the database then holds both servers' links) and
each ``(name, target, value, ok)`` it returns becomes a row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from soulsync_idmap.demo.fake_plex import FakePlex  # noqa: E402
from tests.support.gen_library import generate, rekey, retitle  # noqa: E402
from tests.support.twin import make_twin  # noqa: E402

BENCH = ROOT / ".bench"
PG_ADMIN = os.environ.get("IDMAP_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TOKEN = "bench-token"
KINDS = ("artist", "album", "track")


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
        """One cell; a row is found by its name (and target), so names must be unique."""
        row = next((r for r in self.rows if r.name == name and r.target == target), None)
        if row is None:
            row = Row(name, target)
            self.rows.append(row)
        row.values[backend] = value
        row.ok[backend] = ok

    def render(self, backends: list[str]) -> str:
        cells = [["measure", "target", *backends]]
        for r in self.rows:
            marks = [{True: " ok", False: " MISS", None: ""}[r.ok.get(b)] for b in backends]
            cells.append([r.name, r.target, *(r.values.get(b, "-") + m for b, m in zip(backends, marks, strict=True))])
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def note(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


# -- the fake servers, each in a process of its own --------------------------------------


class Fake:
    """``python -m soulsync_idmap.demo.fake_{plex,jellyfin} LIBRARY`` on 127.0.0.1, until stopped."""

    def __init__(self, kind: str, library: Path) -> None:
        self.kind = kind
        self.port = 0
        self._start(library)

    def _start(self, library: Path) -> None:
        module = "soulsync_idmap.demo.fake_plex" if self.kind == "plex" else "soulsync_idmap.demo.fake_jellyfin"
        command = [sys.executable, "-m", module, str(library), "--token", TOKEN, "--port", str(self.port)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once the library is loaded and the port bound
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found is None:
            self.stop()
            raise RuntimeError(f"fake {self.kind} did not start: {line!r}")
        self.port = int(found.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    def restart(self, library: Path) -> None:
        """Serve ``library`` at the same address (what a server shows after its library changed)."""
        self.stop()
        self._start(library)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_FLOOR = """
import sys, time
from soulsync_idmap.servers.base import ServerConfig
from soulsync_idmap.servers.jellyfin import JellyfinServer
from soulsync_idmap.servers.plex import PlexServer
kind, url, token = sys.argv[1:4]
adapter = (PlexServer if kind == "plex" else JellyfinServer)(ServerConfig("floor", kind, url, token=token))
adapter.instance_id()
start = time.perf_counter()
counts = [sum(1 for _ in adapter.iter_artists()), sum(1 for _ in adapter.iter_albums()),
          sum(1 for _ in adapter.iter_tracks())]
print(time.perf_counter() - start, *counts)
"""


def listing_floor(fake: Fake) -> tuple[float, list[int]]:
    """Seconds for the real adapter to page through the fake's whole listing, and the counts."""
    out = subprocess.run([sys.executable, "-c", _FLOOR, fake.kind, fake.url, TOKEN], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()  # fmt: skip
    return float(out[0]), [int(v) for v in out[1:]]


# -- idmap runs ------------------------------------------------------------------------

# The timed child is started by this small wrapper process, which reports the child's peak
# RSS from wait4: started straight from the benchmark process, the child's ru_maxrss could
# include this process's own peak (Linux carries the high-water mark across fork + exec).
_WRAPPER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "sys.stderr.write(f'\\n@maxrss {usage.ru_maxrss}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


@dataclass
class Cli:
    """One ``idmap`` executable against one database and config file."""

    executable: str
    db_url: str
    work: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "IDMAP_DB": self.db_url, "IDMAP_CONFIG": str(self.work / "config.json")}

    def __call__(self, *args: str) -> str:
        """Run untimed; returns stdout."""
        proc = subprocess.run([self.executable, *args], env=self.env, capture_output=True, text=True, cwd=self.work)
        if proc.returncode != 0:
            raise RuntimeError(f"idmap {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
        return proc.stdout

    def sync(self, *args: str) -> tuple[float, float, dict[str, Any]]:
        """``idmap sync ARGS --json`` timed: seconds, peak RSS in MB, the summary."""
        command = [sys.executable, "-c", _WRAPPER, self.executable, "sync", *args, "--json"]
        start = time.perf_counter()
        proc = subprocess.run(command, env=self.env, capture_output=True, text=True, cwd=self.work)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"idmap sync {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
        rss_kb = int(proc.stderr.rstrip().rsplit("@maxrss ", 1)[1])
        summary = dict(json.loads(proc.stdout)[0])
        note(f"sync {' '.join(args)}: {seconds:.1f} s, {rss_kb / 1024:.0f} MB, {summary}")
        return seconds, rss_kb / 1024, summary

    def add(self, kind: str, name: str, url: str, *extra: str) -> None:
        token = () if kind == "snapshot" else ("--token", TOKEN)
        self("servers", "add", kind, name, "--url", url, *token, *extra)


def links(db_url: str, server: str) -> dict[tuple[str, str], str]:
    """(kind, native id) -> UUID of the server's live links, read with plain SQL (any schema version)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT l.kind, l.native_id, l.uuid FROM link l JOIN server s ON s.id = l.server_id"
                     " WHERE s.name = :name AND l.gone_at IS NULL"), {"name": server},
            )  # fmt: skip
            return {(kind, native): str(u) for kind, native, u in rows}
    finally:
        engine.dispose()


# resolve_many of 100,000 UUIDs in a fresh process, as a host app calls it (first call, then
# again), and resolve's p99 over 2,000 UUIDs. Run by the measured build's own Python.
_PROBE = """
import random, statistics, sys, time
from sqlalchemy import text
from soulsync_idmap import IdMap
url, server = sys.argv[1:3]
with IdMap.open(url) as api:
    with api.store.engine.connect() as conn:
        uuids = [r[0] for r in conn.execute(text(
            "SELECT l.uuid FROM link l JOIN server s ON s.id = l.server_id"
            " WHERE s.name = :name AND l.kind = 'track' AND l.gone_at IS NULL LIMIT 100000"), {"name": server})]
    api.resolve_many(uuids[:10], server=server)
    start = time.perf_counter()
    result = api.resolve_many(uuids, server=server)
    many = time.perf_counter() - start
    assert sum(v is not None for v in result.values()) == len(uuids)
    start = time.perf_counter()
    api.resolve_many(uuids, server=server)
    again = time.perf_counter() - start
    times = []
    for u in random.Random(3).sample(uuids, min(2000, len(uuids))):
        t0 = time.perf_counter()
        api.resolve(u, server=server)
        times.append(time.perf_counter() - t0)
print(len(uuids), many, again, statistics.quantiles(times, n=100)[98])
"""


# -- databases -------------------------------------------------------------------------


@contextmanager
def databases(backend: str) -> Iterator[Callable[[str], str]]:
    """A factory of fresh, empty databases of ``backend`` (dropped afterwards)."""
    made: list[str] = []
    if backend == "sqlite":

        def fresh(label: str) -> str:
            path = BENCH / f"{label}.db"
            for suffix in ("", "-wal", "-shm", ".sync.lock"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return f"sqlite:///{path}"

        yield fresh
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")

    def fresh_pg(label: str) -> str:
        name = f"idmap_bench_{label}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    try:
        yield fresh_pg
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


# -- the measures ----------------------------------------------------------------------


@dataclass
class Setup:
    args: argparse.Namespace
    lib: Path
    twin: Path
    changed: Path
    rekey_lib: Path
    rekeyed: Path
    plex: Fake
    jellyfin: Fake
    floors: dict[str, float]


def ratio(seconds: float, floor: float) -> str:
    return f"{seconds / floor:.1f}x"


def bench_backend(backend: str, setup: Setup, table: Table) -> None:
    args = setup.args
    with databases(backend) as fresh:
        work = BENCH / f"work-{backend}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        cli = Cli(args.idmap, fresh("main"), work)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("two servers", lambda: two_servers(backend, cli, setup, table)),
            ("resolve", lambda: resolve_rows(backend, cli, table)),
            ("snapshot", lambda: snapshot_row(backend, Cli(args.idmap, fresh("snap"), work / "snap"), setup, table)),
            ("re-key", lambda: rekey_rows(backend, Cli(args.idmap, fresh("rekey"), work / "rekey"), setup, table)),
        ]  # fmt: skip
        for label, step in steps:
            note(f"{backend}: {label}")
            try:
                step()
            except Exception as exc:  # one failed measure shows in its row; the others still run
                note(f"{backend}: {label} failed: {exc}")
                table.add(f"({label} failed)", "", backend, str(exc).splitlines()[-1][:60], False)


def two_servers(backend: str, cli: Cli, setup: Setup, table: Table) -> None:
    args, floors = setup.args, setup.floors
    cli.add("plex", "plex", setup.plex.url)
    seconds, rss, s = cli.sync("plex")
    n_items = args.tracks + args.albums + args.artists
    table.add("first server (fake Plex), first full sync", "", backend, f"{seconds:.1f} s")
    table.add("  new items", f"{n_items:,}", backend, f"{s['new']:,}", s["new"] == n_items)
    table.add("  / Plex listing floor", "<= 4x", backend, ratio(seconds, floors["plex"]),
              seconds <= 4 * floors["plex"])  # fmt: skip
    table.add("  peak RSS (Plex sync)", "<= 600 MB", backend, f"{rss:.0f} MB", rss <= 600)

    cli.add("jellyfin", "jellyfin", setup.jellyfin.url, "--path-map", "/data/media/music=/music")
    seconds, rss, s = cli.sync("jellyfin")
    rate = args.tracks / seconds
    table.add("second server (fake Jellyfin, fuzzy only), first sync", "", backend, f"{seconds:.1f} s")
    table.add("  tracks/s", ">= 3,000", backend, f"{rate:,.0f}", rate >= 3000)
    table.add("  / Jellyfin listing floor", "<= 3x", backend, ratio(seconds, floors["jellyfin"]),
              seconds <= 3 * floors["jellyfin"])  # fmt: skip
    table.add("  merged / queued / new", "", backend, f"{s['merged']:,} / {s['queued']:,} / {s['new']:,}")
    table.add("  peak RSS (Jellyfin sync)", "<= 600 MB", backend, f"{rss:.0f} MB", rss <= 600)

    seconds, _, s = cli.sync("plex")
    table.add("no-op incremental (Plex)", "<= 2 s", backend, f"{seconds:.2f} s", seconds <= 2)
    retitle(setup.lib, setup.changed, args.changes, seed=5)  # stamped now, after the watermark of the syncs above
    setup.plex.restart(setup.changed)
    try:
        seconds, _, s = cli.sync("plex")
    finally:
        setup.plex.restart(setup.lib)
    table.add(f"{args.changes:,} changed tracks, incremental (Plex)", "<= 3 s", backend, f"{seconds:.2f} s",
              seconds <= 3)  # fmt: skip
    table.add("  updated", f"{args.changes:,}", backend, f"{s['updated']:,}", s["updated"] == args.changes)


def resolve_rows(backend: str, cli: Cli, table: Table) -> None:
    python = str(Path(cli.executable).parent / "python")
    proc = subprocess.run([python, "-c", _PROBE, cli.db_url, "plex"], env=cli.env, capture_output=True, text=True,
                          cwd=cli.work)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-500:])
    count, many, again, p99 = (float(v) for v in proc.stdout.split())
    label = f"{int(count):,}"
    table.add(f"resolve_many, {label} UUIDs (first call)", "<= 0.5 s", backend, f"{many:.3f} s", many <= 0.5)
    table.add(f"resolve_many, {label} UUIDs (again)", "<= 0.5 s", backend, f"{again:.3f} s", again <= 0.5)
    table.add("resolve, p99 of 2,000", "<= 1 ms", backend, f"{p99 * 1000:.2f} ms", p99 <= 0.001)
    try:
        from benchmarks import service_bench  # type: ignore[attr-defined]
    except ImportError:
        return
    rows = getattr(service_bench, "rows", None)  # the service's own table comes from its own script
    if rows is None:
        return
    for name, target, value, ok in rows(cli.db_url, "plex", cli.executable):
        table.add(name, target, backend, value, ok)


def snapshot_row(backend: str, cli: Cli, setup: Setup, table: Table) -> None:
    cli.work.mkdir(parents=True, exist_ok=True)
    cli.add("snapshot", "file", str(setup.lib))
    seconds, rss, s = cli.sync("file")
    n_items = setup.args.tracks + setup.args.albums + setup.args.artists
    table.add(f"snapshot file, {setup.args.tracks:,} tracks, first sync", "<= 30 s", backend,
              f"{seconds:.1f} s ({rss:.0f} MB)", seconds <= 30 and s["new"] == n_items)  # fmt: skip


def rekey_rows(backend: str, cli: Cli, setup: Setup, table: Table) -> None:
    """Issue 19's line: every native id of a server new, same titles, paths and durations."""
    cli.work.mkdir(parents=True, exist_ok=True)
    fake = Fake("plex", setup.rekey_lib)
    try:
        cli.add("plex", "plex", fake.url)
        cli.sync("plex")
        before = links(cli.db_url, "plex")
        fake.restart(setup.rekeyed)
        seconds, _, _ = cli.sync("plex", "--full")
        after = links(cli.db_url, "plex")
    finally:
        fake.stop()
    shares = []
    for kind in KINDS:
        old = {native: u for (k, native), u in before.items() if k == kind}
        carried = sum(after.get((kind, str(FakePlex.rating_key(kind, "k" + sid)))) == u
                      for sid, u in old_by_snapshot_id(kind, old, setup.rekey_lib).items())  # fmt: skip
        shares.append(carried / max(1, len(old)))
    tracks = setup.args.rekey_tracks
    table.add(f"{tracks:,}-track server fully re-keyed, sync --full", "", backend, f"{seconds:.1f} s")
    table.add("  UUIDs carried: tracks (albums, artists)", ">= 0.99", backend,
              f"{shares[2]:.3f} ({shares[1]:.3f}, {shares[0]:.3f})", shares[2] >= 0.99)  # fmt: skip


def old_by_snapshot_id(kind: str, old: dict[str, str], library: Path) -> dict[str, str]:
    """Snapshot id -> the UUID its first ratingKey was linked to."""
    out = {}
    with open(library, encoding="utf-8") as lines:
        for line in lines:
            obj = json.loads(line)
            if obj["kind"] == kind:
                linked = old.get(str(FakePlex.rating_key(kind, obj["id"])))
                if linked is not None:
                    out[obj["id"]] = linked
    return out


# -- main ------------------------------------------------------------------------------


def libraries(args: argparse.Namespace) -> tuple[Path, Path, Path, Path, Path]:
    """The generated files (cached in .bench/, keyed by the generators' source and the sizes)."""
    BENCH.mkdir(exist_ok=True)
    sources = [ROOT / "tests" / "support" / f for f in ("gen_library.py", "twin.py")]
    version = hashlib.sha1(b"".join(p.read_bytes() for p in sources)).hexdigest()[:8]
    size = f"{args.tracks}-{args.albums}-{args.artists}-{version}"
    lib, twin = BENCH / f"lib-{size}.jsonl", BENCH / f"twin-{size}.jsonl"
    if not lib.exists():
        note(f"generating {lib.name}")
        generate(lib, args.tracks, args.albums, args.artists, seed=1)
    if not twin.exists():
        make_twin(lib, twin, seed=2, keep_ids=False)
    changed = BENCH / f"changed-{size}.jsonl"  # written just before it is served
    rk = args.rekey_tracks
    rk_albums, rk_artists = max(1, args.albums * rk // args.tracks), max(1, args.artists * rk // args.tracks)
    rekey_lib = BENCH / f"rekey-{rk}-{rk_albums}-{rk_artists}-{version}.jsonl"
    rekeyed = BENCH / f"rekeyed-{rk}-{rk_albums}-{rk_artists}-{version}.jsonl"
    if not rekey_lib.exists():
        generate(rekey_lib, rk, rk_albums, rk_artists, seed=4)
    if not rekeyed.exists():
        rekey(rekey_lib, rekeyed, prefix="k")
    return lib, twin, changed, rekey_lib, rekeyed


def main() -> None:
    parser = argparse.ArgumentParser(description="soulsync-idmap benchmarks: one table, both backends")
    parser.add_argument("--tracks", type=int, default=300_000)
    parser.add_argument("--albums", type=int, default=25_000)
    parser.add_argument("--artists", type=int, default=6_000)
    parser.add_argument("--changes", type=int, default=1_000, help="tracks changed for the incremental row")
    parser.add_argument("--rekey-tracks", type=int, default=100_000, help="size of the re-keyed server")
    parser.add_argument("--idmap", default=str(Path(sys.executable).parent / "idmap"),
                        help="the idmap executable to measure (default: this venv's)")  # fmt: skip
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    args.idmap = str(Path(args.idmap).absolute())
    if not Path(args.idmap).exists():
        parser.error(f"no idmap executable at {args.idmap}")
    backends = [] if args.no_sqlite else ["sqlite"]
    if not args.no_postgres:
        reason = postgres_available()
        if reason is None:
            backends.append("postgresql")
        else:
            note(f"PostgreSQL column skipped: {reason}")
    started = datetime.now(UTC)
    lib, twin, changed, rekey_lib, rekeyed = libraries(args)
    plex, jellyfin = Fake("plex", lib), Fake("jellyfin", twin)
    table = Table()
    try:
        floors = {}
        for name, fake in (("plex", plex), ("jellyfin", jellyfin)):
            seconds, counts = listing_floor(fake)
            floors[name] = seconds
            for backend in backends:
                table.add(f"listing floor, fake {fake.kind.title()} ({sum(counts):,} items)", "", backend,
                          f"{seconds:.1f} s")  # fmt: skip
        setup = Setup(args, lib, twin, changed, rekey_lib, rekeyed, plex, jellyfin, floors)
        for done, backend in enumerate(backends, 1):
            bench_backend(backend, setup, table)
            note(f"{backend} done\n{table.render(backends[:done])}")
    finally:
        plex.stop()
        jellyfin.stop()
    minutes = (datetime.now(UTC) - started).total_seconds() / 60
    load = os.getloadavg()[2]  # other work on the machine slows every row alike
    print(f"\nsoulsync-idmap benchmarks, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores (load {load:.1f}),"
          f" {minutes:.0f} min; {args.tracks:,} tracks / {args.albums:,} albums / {args.artists:,} artists;"
          f" {args.idmap}\n")  # fmt: skip
    print(table.render(backends))
    (BENCH / "table.txt").write_text(table.render(backends) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

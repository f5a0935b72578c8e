"""The service benchmark: ``idmap serve`` over HTTP on a 300k-track database, both backends.

    python benchmarks/service_bench.py                 # 300,000 tracks, SQLite and PostgreSQL
    python benchmarks/service_bench.py --tracks 30000 --no-postgres

The database is filled by a snapshot server's full sync; a fake Plex server (with its
notification websocket) is registered beside it. ``idmap serve`` runs as its own process
with its default settings; the clients are plain keep-alive HTTP/1.1 sockets (a client
library would measure itself), in this process, on the same 2 cores as the server.
Prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import _PROBE, BENCH, PG_ADMIN, Table  # noqa: E402
from soulsync_idmap.demo.fake_plex import NotifyingPlex  # noqa: E402
from tests.support.gen_library import generate  # noqa: E402

PLEX_TOKEN = "bench-plex-token"


class Client:
    """One keep-alive HTTP/1.1 connection; ``request`` returns (status, body)."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.head = f"Host: {host}:{port}\r\nX-Api-Key: {key}\r\n"

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body)
        status = int(self.file.readline().split()[1])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, self.file.read(length)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def idmap(env: dict[str, str], *args: str) -> str:
    """Run the CLI (untimed); returns stdout."""
    proc = subprocess.run([sys.executable, "-m", "soulsync_idmap.cli", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"idmap {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def pg_database() -> tuple[str, Callable[[], None]] | None:
    """A new, empty PostgreSQL database and the function dropping it; None (said why) without a server."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"idmap_serve_bench_{uuidlib.uuid4().hex[:8]}"
    try:
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


def sample_uuids(db_url: str, count: int) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT l.uuid FROM link l JOIN server s ON s.id = l.server_id WHERE s.name = 'base'")
        ).all()
    engine.dispose()
    return random.Random(7).sample([r[0] for r in rows], count)


def single_latency(url: tuple[str, int], key: str, uuids: list[str], rate: float) -> tuple[float, float]:
    """p50 and p99 of single GET resolves at ``rate`` requests/s on one keep-alive connection."""
    client = Client(*url, key)
    times = []
    period = 1.0 / rate
    next_at = time.perf_counter()
    for uuid in uuids:
        next_at += period
        start = time.perf_counter()
        status, _ = client.request("GET", f"/api/v1/resolve/{uuid}?server=base")
        times.append(time.perf_counter() - start)
        assert status == 200, status
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    client.close()
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def throughput(url: tuple[str, int], key: str, uuids: list[str], clients: int, seconds: float) -> float:
    """Single GET resolves per second with ``clients`` connections in flight at once."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        client = Client(*url, key)
        rng = random.Random(index)
        while time.perf_counter() < stop:
            status, _ = client.request("GET", f"/api/v1/resolve/{rng.choice(uuids)}?server=base")
            assert status == 200, status
            done[index] += 1
        client.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - began)


def batch(url: tuple[str, int], key: str, uuids: list[str], size: int, repeat: int) -> float:
    """Median time of ``POST /api/v1/resolve`` with ``size`` UUIDs."""
    client = Client(*url, key)
    times = []
    for i in range(repeat):
        chosen = random.Random(i).sample(uuids, size)
        body = json.dumps({"uuids": chosen, "server": "base"}).encode()
        start = time.perf_counter()
        status, answer = client.request("POST", "/api/v1/resolve", body)
        times.append(time.perf_counter() - start)
        assert status == 200 and len(json.loads(answer)["results"]) == size
    client.close()
    return statistics.median(times)


def websocket_latency(url: tuple[str, int], key: str, plex: NotifyingPlex, library: Path, round: int) -> float:
    """Seconds from a new album announced on the fake Plex's websocket to its UUID resolving through the API."""
    stamp = "2030-01-01T00:00:00Z"
    ids = (f"bench-ar-{round}", f"bench-al-{round}", f"bench-t-{round}")
    records = [
        {"kind": "artist", "id": ids[0], "name": f"Bench Band {round}", "updated_at": stamp, "added_at": stamp},
        {"kind": "album", "id": ids[1], "name": f"Bench Album {round}", "artist_id": ids[0], "updated_at": stamp,
         "added_at": stamp},
        {"kind": "track", "id": ids[2], "name": "Bench Song", "artist_id": ids[0], "album_id": ids[1],
         "track_number": 1, "duration_ms": 200000, "updated_at": stamp, "added_at": stamp},
    ]  # fmt: skip
    with library.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    plex.reload()
    client = Client(*url, key)
    album = plex.rating_key("album", ids[1])
    start = time.perf_counter()
    plex.announce([plex.timeline(r["kind"], r["id"], 5) for r in records])
    while True:
        status, body = client.request("GET", f"/api/v1/lookup/px/{album}")
        if status == 200:
            uuid = json.loads(body)["uuid"]
            status, _ = client.request("GET", f"/api/v1/resolve/{uuid}?server=px")
            if status == 200:
                break
        if time.perf_counter() - start > 60:
            raise RuntimeError("the new album never became resolvable")
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def bench_backend(backend: str, db_url: str, lib: Path, table: Table, args: argparse.Namespace) -> None:
    work = BENCH / f"serve-{backend}"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.json"
    config.unlink(missing_ok=True)
    env = {**os.environ, "IDMAP_DB": db_url, "IDMAP_CONFIG": str(config)}
    idmap(env, "servers", "add", "snapshot", "base", "--url", str(lib))
    start = time.perf_counter()
    idmap(env, "sync", "base")
    table.add(f"setup: full sync of {args.tracks:,} tracks", "", backend, f"{time.perf_counter() - start:.1f} s")

    out = subprocess.run([sys.executable, "-c", _PROBE, db_url, "base"], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    count, many, again, p99 = (float(v) for v in out.stdout.split())
    table.add(f"IdMap.resolve_many, {count:,.0f} UUIDs", "<= 0.5 s", backend, f"{many:.3f} s / {again:.3f} s",
              max(many, again) <= 0.5)  # fmt: skip
    table.add("IdMap.resolve, p99 of 2,000", "<= 1 ms", backend, f"{p99 * 1000:.2f} ms", p99 <= 0.001)

    plex_lib = work / "plex.jsonl"
    generate(plex_lib, tracks=200, albums=20, artists=8, seed=9)
    with NotifyingPlex(plex_lib, token=PLEX_TOKEN) as plex:
        assert isinstance(plex, NotifyingPlex)
        idmap(env, "servers", "add", "plex", "px", "--url", plex.url, "--token", PLEX_TOKEN)
        idmap(env, "sync", "px")
        key = idmap(env, "serve", "--init-key").strip()
        server = subprocess.Popen(
            [sys.executable, "-m", "soulsync_idmap.cli", "serve", "--port", "0"], env=env, stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            line = server.stdout.readline().strip()
            host, port = line.removeprefix("serving on http://").rsplit(":", 1)
            url = (host, int(port))
            if not plex.notifications.wait_for_clients(1, timeout=30):
                raise RuntimeError("the service did not connect to the fake Plex's websocket")
            uuids = sample_uuids(db_url, 20_000)
            single_latency(url, key, uuids[:500], rate=1000)  # warm the caches and the pool
            p50, p99 = single_latency(url, key, uuids[: args.requests], rate=200)
            table.add("GET resolve p50 (keep-alive, 200 req/s)", "", backend, f"{p50 * 1000:.2f} ms")
            target = 0.003 if backend == "sqlite" else 0.005
            table.add("GET resolve p99 (keep-alive, 200 req/s)", "<= 3 / 5 ms", backend, f"{p99 * 1000:.2f} ms",
                      p99 <= target)  # fmt: skip
            rate = throughput(url, key, uuids, clients=8, seconds=args.seconds)
            table.add("GET resolve, 8 concurrent clients", ">= 1,500/s", backend, f"{rate:,.0f}/s", rate >= 1500)
            post = batch(url, key, uuids, 10_000, repeat=10)
            table.add("POST resolve, 10,000 UUIDs (median)", "<= 150 ms", backend, f"{post * 1000:.0f} ms",
                      post <= 0.150)  # fmt: skip
            latencies = [websocket_latency(url, key, plex, plex_lib, i) for i in range(3)]
            worst = max(latencies)
            table.add("new album -> resolvable via websocket (max of 3)", "<= 5 s", backend,
                      f"{worst:.2f} s ({min(latencies):.2f} min)", worst <= 5)  # fmt: skip
        finally:
            server.terminate()
            server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description="idmap serve benchmarks")
    parser.add_argument("--tracks", type=int, default=300_000)
    parser.add_argument("--albums", type=int, default=24_000)
    parser.add_argument("--artists", type=int, default=6_000)
    parser.add_argument("--requests", type=int, default=4000, help="paced single resolves for p50/p99")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the throughput run")
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
        db = BENCH / "serve-sqlite.db"
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
    print(f"\nidmap serve benchmarks, {args.tracks:,} tracks, {os.cpu_count()} cores\n")
    print(table.render(backends))


if __name__ == "__main__":
    main()

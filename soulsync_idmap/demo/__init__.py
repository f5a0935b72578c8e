"""``idmap demo``: the whole job on bundled fake servers, on loopback only.

Starts a fake Plex and a fake Jellyfin server serving two views of one small library,
registers them in a fresh database, syncs both, and shows the stats, one cross-server
merge, a resolve of one UUID on each server and the review queue. The database stays in the
work folder, and the demo ends with the commands to try on it (``--serve`` keeps the fake
servers running for the whole tour, ``sync`` and ``servers test`` included).
"""

from __future__ import annotations

import shlex
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from ..api import IdMap
from ..config import Config
from ..mapping.export import stats
from ..mapping.store import Store
from ..sync import SyncOptions, sync_servers
from .demo_library import write_demo_libraries

__all__ = ["run_demo"]

TOKEN = "demo-token-0123456789abcdef"


def _fakes(stack: ExitStack, plex_library: Path, jelly_library: Path) -> dict[str, Any]:
    from .fake_jellyfin import FakeJellyfin
    from .fake_plex import FakePlex

    plex = stack.enter_context(FakePlex(plex_library, token=TOKEN))
    jelly = stack.enter_context(FakeJellyfin(jelly_library, token=TOKEN))
    return {"plex": plex, "jellyfin": jelly}


def default_workdir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("soulsync-idmap", appauthor=False)) / "demo"


def run_demo(console: Console, workdir: Path | None = None, *, serve: bool = False) -> dict[str, Any]:
    """Run the demo; returns what it showed (for tests). ``serve`` keeps the servers up until Ctrl-C."""
    started = time.perf_counter()
    workdir = (workdir or default_workdir()).expanduser().resolve()
    with ExitStack() as stack:
        workdir.mkdir(parents=True, exist_ok=True)
        plex_library, jelly_library = write_demo_libraries(workdir / "libraries")
        db = workdir / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        fakes = _fakes(stack, plex_library, jelly_library)
        console.print(f"[bold]fake Plex[/] on {fakes['plex'].url}, [bold]fake Jellyfin[/] on {fakes['jellyfin'].url}")
        store = Store.open(f"sqlite:///{db}")
        stack.callback(store.close)
        config = Config(workdir / "config.json")
        store.add_server("demo-plex", "plex", fakes["plex"].url, {})
        store.add_server("demo-jellyfin", "jellyfin", fakes["jellyfin"].url,
                         {"path_map": [["/data/media", "/music"]]})  # fmt: skip
        for name in ("demo-plex", "demo-jellyfin"):
            config.set_secrets(name, token=TOKEN)
        config.save()
        results = sync_servers(store, ["demo-plex", "demo-jellyfin"], config, SyncOptions())
        table = Table("server", "mode", "seen", "new", "merged", "queued", box=None, title="sync")
        for r in results:
            c = r.counts
            table.add_row(r.server, r.mode, str(c.seen), str(c.new), str(c.merged), str(c.queued))
        console.print(table)
        data = stats(store)
        console.print(
            f"entities: {data['entities']['artist']} artists, {data['entities']['album']} albums, "
            f"{data['entities']['track']} tracks; review queue: {data['review']['pending']} pending"
        )
        shown = _show_merge(console, store)
        shown.update(
            stats=data, seconds=time.perf_counter() - started, db=db, config=config.path,
            results=[(r.server, r.counts.as_dict()) for r in results],
        )  # fmt: skip
        _next_steps(console, shown, fakes, (plex_library, jelly_library), serve)
        if serve:
            _serve(console, stack, store, config)
        console.print(f"demo finished in {time.perf_counter() - started:.1f} s; fake servers stopped.")
        return shown


def _next_steps(console: Console, shown: dict[str, Any], fakes: dict[str, Any], libraries: tuple[Path, Path],
                serve: bool) -> None:  # fmt: skip
    """The database, and commands that work on it after the demo, copied and pasted as they are."""
    q = shlex.quote
    console.print(f"\n[bold]the demo's database[/]: {shown['db']} (secrets in {shown['config']})")
    console.print("try it in another shell (these read the database; the servers are not needed):", markup=False)
    for line in (
        f"export IDMAP_DB={q(str(shown['db']))} IDMAP_CONFIG={q(str(shown['config']))}",
        "idmap stats",
        "idmap servers list",
        f"idmap resolve {shown['uuid']} --server demo-jellyfin",
        f"idmap lookup demo-plex {shown['plex_id']}",
        "idmap review list",
        "idmap export --kind track | head -3",
    ):
        console.print(f"  {line}", markup=False, soft_wrap=True)
    if not serve:
        console.print(
            "the fake servers stop now; 'idmap demo --serve' keeps them running for sync, servers test and the rest",
            markup=False, soft_wrap=True,
        )  # fmt: skip
    console.print("the fake servers on their own (any snapshot file works as a library):", markup=False)
    python = q(sys.executable)
    for module, library, port in (("fake_plex", libraries[0], 32400), ("fake_jellyfin", libraries[1], 8096)):
        console.print(f"  {python} -m soulsync_idmap.demo.{module} {q(str(library))} --port {port} --token {TOKEN}",
                      markup=False, soft_wrap=True)  # fmt: skip


def _serve(console: Console, stack: ExitStack, store: Store, config: Config) -> None:
    """Keep the fake servers up and serve the dashboard on the demo's database, until Ctrl-C."""
    url, key = _dashboard(stack, store, config)
    console.print(f"\n[bold]the dashboard[/]: {url}/  (sign in with the API key {key})")
    console.print("  the same service answers the JSON API (docs at /docs); 'idmap serve' runs it on its own")
    console.print("the fake servers and the dashboard keep running; Ctrl-C stops them", markup=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("")


def _dashboard(stack: ExitStack, store: Store, config: Config) -> tuple[str, str]:
    """``idmap serve`` in this process, on 127.0.0.1 (port 8765, or any free one): its URL and key."""
    import socket
    import threading

    import uvicorn

    from ..service import Service, create_app
    from ..service.keys import init_key

    key = init_key(config)  # written to the demo's config, as 'idmap serve --init-key' does
    service = Service(store, config, live=False)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.bind(("127.0.0.1", 8765))
    except OSError:
        sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="idmap-dashboard")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)

    def stop() -> None:
        service.stopping.set()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

    stack.callback(stop)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", key


def _show_merge(console: Console, store: Store) -> dict[str, Any]:
    """Pick a track linked on both servers and show its UUID, both native ids and both resolves."""
    with store.engine.connect() as conn:
        row = conn.execute(text(
            "SELECT t.uuid, t.title, p.native_id, j.native_id, j.name FROM track t"
            " JOIN link p ON p.uuid = t.uuid JOIN server ps ON ps.id = p.server_id AND ps.name = 'demo-plex'"
            " JOIN link j ON j.uuid = t.uuid JOIN server js ON js.id = j.server_id AND js.name = 'demo-jellyfin'"
            " WHERE j.name <> t.title ORDER BY t.title LIMIT 1"
        )).one()  # fmt: skip
    uuid, title, plex_id, jelly_id, jelly_title = row
    console.print(f"\n[bold]one track, two servers, one UUID[/]: {uuid}")
    console.print(f"  Plex calls it {title!r} (ratingKey {plex_id}); Jellyfin calls it {jelly_title!r} (Id {jelly_id})")
    idmap = IdMap(store)
    resolved = {name: idmap.resolve(uuid, name) for name in ("demo-plex", "demo-jellyfin")}
    for name, native in resolved.items():
        console.print(f"  idmap resolve {uuid} --server {name}  ->  {native}")
    console.print(f"  idmap translate demo-plex {plex_id} --to demo-jellyfin  ->  "
                  f"{idmap.translate('demo-plex', plex_id, to='demo-jellyfin')}")  # fmt: skip
    return {"uuid": uuid, "plex_id": plex_id, "jellyfin_id": jelly_id, "resolved": resolved}

"""Any sequence of syncs, merges, splits, decisions and undos keeps the store's invariants."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from soulsync_idmap.config import Config
from soulsync_idmap.errors import IdmapError
from soulsync_idmap.mapping import merge as decisions
from soulsync_idmap.mapping import translate
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.sync import SyncOptions, sync_servers
from tests.conftest import write_jsonl
from tests.sync.test_crash_and_lock import check_invariants


def _library(prefix: str, noise: int) -> list[dict[str, Any]]:
    rng = random.Random(noise)
    rows: list[dict[str, Any]] = [{"kind": "artist", "id": f"{prefix}a", "name": "Radiohead"}]
    rows.append({"kind": "album", "id": f"{prefix}b", "name": "OK Computer", "artist_id": f"{prefix}a", "year": 1997})
    for n, title in enumerate(["Airbag", "Paranoid Android", "Let Down", "Karma Police", "Lucky"], start=1):
        if rng.random() < 0.15:
            continue  # the item left the server this time
        rows.append({"kind": "track", "id": f"{prefix}t{n}", "name": title, "artist_id": f"{prefix}a",
                     "album_id": f"{prefix}b", "track_number": n,
                     "duration_ms": 250_000 + n * 1000 + rng.choice([0, 500, 15_000])})  # fmt: skip
    return rows


OPS = st.lists(
    st.sampled_from(["sync_a", "sync_b", "merge", "split", "accept", "reject", "undo"]), min_size=3, max_size=12
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, seed=st.integers(0, 10_000))
def test_invariants_hold_after_any_sequence(tmp_path_factory: Any, ops: list[str], seed: int) -> None:
    tmp: Path = tmp_path_factory.mktemp("props")
    url = f"sqlite:///{tmp / 'p.db'}"
    store = Store.open(url)
    config = Config(tmp / "c.json")
    rng = random.Random(seed)
    paths = {"a": tmp / "a.jsonl", "b": tmp / "b.jsonl"}
    for name, path in paths.items():
        write_jsonl(path, _library(name, seed))
        store.add_server(name, "snapshot", str(path), {})
    engine = create_engine(url)

    def uuids(kind: str) -> list[str]:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text(f"SELECT uuid FROM {kind} ORDER BY uuid"))]

    def pending() -> list[int]:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT id FROM review_item WHERE status = 'pending'"))]

    try:
        for op in ops:
            try:
                if op in ("sync_a", "sync_b"):
                    name = op[-1]
                    write_jsonl(paths[name], _library(name, rng.randrange(1000)))
                    sync_servers(store, [name], config, SyncOptions(full=True))
                elif op == "merge":
                    kind = rng.choice(["artist", "album", "track"])
                    found = uuids(kind)
                    if len(found) >= 2:
                        a, b = rng.sample(found, 2)
                        decisions.merge(store, a, b)
                elif op == "split":
                    found = uuids("track")
                    if found:
                        decisions.split(store, rng.choice(found), rng.choice(["a", "b"]))
                elif op in ("accept", "reject") and pending():
                    (decisions.accept if op == "accept" else decisions.reject)(store, rng.choice(pending()))
                elif op == "undo":
                    decisions.undo(store)
            except IdmapError:
                pass  # a refused operation (nothing to undo, nothing to split...) must change nothing
            check_invariants(url)
            with engine.connect() as conn:
                # every redirect ends on an existing entity
                for kind in ("artist", "album", "track"):
                    dangling = conn.execute(text(
                        f"SELECT r.old_uuid FROM redirect r LEFT JOIN {kind} e ON e.uuid = r.new_uuid"
                        f" WHERE r.kind = '{kind}' AND e.uuid IS NULL"
                    )).all()  # fmt: skip
                    assert dangling == [], (op, kind)
        # resolve (one statement) answers as resolve_many does, for entities and merged-away UUIDs
        with engine.connect() as conn:
            every = [r[0] for r in conn.execute(text("SELECT old_uuid FROM redirect"))]
            every += [u for kind in ("artist", "album", "track") for u in uuids(kind)]
            for server_id in (1, 2):
                many = translate.resolve_many(conn, server_id, every)
                assert {u: translate.resolve_one(conn, server_id, u) for u in every} == many
    finally:
        engine.dispose()
        store.close()

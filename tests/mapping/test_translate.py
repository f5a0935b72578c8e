"""Point reads (resolve, lookup) of IdMap: the connection they keep is invisible to a user."""

from __future__ import annotations

import random
import threading
import uuid as uuidlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from soulsync_idmap import IdMap
from tests.conftest import BACKEND, Invoke, write_jsonl


def _renamed(records: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    out = []
    for record in records:
        copy = dict(record, id=f"{prefix}{record['id']}")
        for parent in ("artist_id", "album_id"):
            if parent in copy:
                copy[parent] = f"{prefix}{copy[parent]}"
        out.append(copy)
    return out


@pytest.fixture
def tracks(idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> dict[str, str]:
    """Servers ``a`` (active) and ``b`` (ids ``b-...``) holding the small library; track id on a -> UUID."""
    for name, records in (("a", small_library), ("b", _renamed(small_library, "b-"))):
        snap = write_jsonl(tmp_path / f"{name}.jsonl", records)
        assert idmap("servers", "add", "snapshot", name, "--url", str(snap)).exit_code == 0
    assert idmap("sync", "a", "b").exit_code == 0
    return {t: idmap("lookup", "a", t).output.strip() for t in ("t1", "t2", "t3")}


def test_resolve_without_a_server_follows_the_active_one_at_once(
    idmap: Invoke, tracks: dict[str, str], db_url: str
) -> None:
    with IdMap.open(db_url) as api:
        assert api.resolve(tracks["t1"]) == "t1"
        assert idmap("servers", "activate", "b").exit_code == 0  # another process
        assert api.resolve(tracks["t1"]) == "b-t1"
        assert api.lookup("b", "b-t2") == tracks["t2"]


def test_threads_resolving_at_once_each_get_their_own_answer(tracks: dict[str, str], db_url: str) -> None:
    expected = {(uuid, server): f"{'b-' if server == 'b' else ''}{t}" for t, uuid in tracks.items() for server in "ab"}
    wrong: list[tuple[str, str, str | None]] = []
    with IdMap.open(db_url) as api:

        def work(index: int) -> None:
            for i in range(150):
                (uuid, server), native = list(expected.items())[(index + i) % len(expected)]
                got = api.resolve(uuid, server=server)
                if got != native:
                    wrong.append((uuid, server, got))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert wrong == []


def test_resolve_answers_after_the_database_server_dropped_its_connections(tracks: dict[str, str], db_url: str) -> None:
    if BACKEND != "postgresql":
        pytest.skip("a SQLite file has no server to restart")
    with IdMap.open(db_url) as api:
        assert api.resolve(tracks["t3"], server="a") == "t3"
        admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # what a restart of PostgreSQL does to every open connection
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))  # fmt: skip
        admin.dispose()
        assert api.resolve(tracks["t3"], server="a") == "t3"
        assert api.resolve(tracks["t2"], server="b") == "b-t2"


def test_resolve_many_of_a_large_mixed_batch_answers_as_resolve_does(
    idmap: Invoke, tracks: dict[str, str], db_url: str
) -> None:
    """Merged-away, upper-case, repeated and 100,000 unknown UUIDs in one call, on both servers."""
    merged = idmap("merge", tracks["t1"], tracks["t2"])  # t2's UUID redirects; its survivor has two live links
    assert merged.exit_code == 0, merged.output
    rng = random.Random(7)
    unknown = [str(uuidlib.UUID(int=rng.getrandbits(128), version=4)) for _ in range(100_000)]
    known = list(tracks.values())
    batch = [*unknown[:50_000], *known, *(u.upper() for u in known), *known, *unknown[50_000:]]
    with IdMap.open(db_url) as api:
        for server in ("a", "b"):
            answer = api.resolve_many(batch, server=server)
            assert len(answer) == 100_003
            assert {u: answer[u] for u in known} == {u: api.resolve(u, server=server) for u in known}
            assert answer[tracks["t1"]] == answer[tracks["t2"]] is not None
            assert answer[tracks["t3"]] == ("b-t3" if server == "b" else "t3")
            assert not any(answer[u] for u in unknown)

"""POST /api/v1/sync and its status: a background run, queued requests never run twice."""

from __future__ import annotations

from pathlib import Path

from soulsync_idmap.mapping.store import Store
from tests.conftest import Invoke
from tests.service.conftest import Running, add_snapshot, uuid_of
from tests.support.gen_library import generate


def runs(db_url: str) -> int:
    store = Store.open(db_url)
    try:
        from sqlalchemy import func, select

        from soulsync_idmap.mapping.store import table

        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table("sync_run"))).scalar_one())
    finally:
        store.close()


def test_a_sync_runs_in_the_background_and_reports_its_counts(serve: Running, idmap: Invoke, tmp_path: Path) -> None:
    generate(tmp_path / "lib.jsonl", tracks=200, albums=20, artists=8, seed=3)
    add_snapshot(idmap, "lib", tmp_path / "lib.jsonl")
    answer = serve.post("/api/v1/sync", json={"servers": ["lib"]})
    assert answer.status_code == 202
    status = serve.wait_run(answer.json()["run_id"])
    assert status["status"] == "ok", status
    (result,) = status["results"]
    assert result["server"] == "lib" and result["mode"] == "full"
    assert result["counts"]["linked"] == 228
    assert status["progress"]["lib"]  # phases seen with their item counts
    assert serve.get(f"/api/v1/resolve/{uuid_of(idmap, 'lib', 't1')}", params={"server": "lib"}).status_code == 200


def test_a_request_while_one_runs_is_queued_once(serve: Running, idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    generate(tmp_path / "lib.jsonl", tracks=4000, albums=300, artists=60, seed=5)
    add_snapshot(idmap, "lib", tmp_path / "lib.jsonl")
    first = serve.post("/api/v1/sync", json={}).json()["run_id"]  # every server
    second = serve.post("/api/v1/sync", json={"servers": ["lib"]}).json()["run_id"]
    third = serve.post("/api/v1/sync", json={"servers": ["lib"]}).json()["run_id"]
    assert second == third != first
    assert serve.wait_run(first)["status"] == "ok"
    done = serve.wait_run(second)
    assert done["status"] == "ok" and done["requests"] == 2
    assert runs(db_url) == 2


def test_sync_errors(serve: Running, idmap: Invoke, tmp_path: Path) -> None:
    assert serve.post("/api/v1/sync", json={}).json()["error"]["code"] == "no_server"
    (tmp_path / "missing.jsonl").write_text("")
    add_snapshot(idmap, "gone", tmp_path / "missing.jsonl")
    (tmp_path / "missing.jsonl").unlink()
    unknown = serve.post("/api/v1/sync", json={"servers": ["nope"]})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_server"
    for body in ({"servers": "gone"}, {"full": "yes"}, []):
        bad = serve.post("/api/v1/sync", json=body)
        assert bad.status_code == 400, body
    failed = serve.wait_run(serve.post("/api/v1/sync", json={"servers": ["gone"]}).json()["run_id"])
    assert failed["status"] == "failed" and "gone" in failed["error"]
    assert serve.get("/api/v1/sync/123").json()["error"]["code"] == "unknown_run"

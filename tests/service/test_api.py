"""Every route of /api/v1 and its errors, over a real socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke
from tests.service.conftest import Running, add_snapshot, cli_sync, uuid_of, write_library

UNKNOWN = "0190a0a0-0000-7000-8000-000000000000"


@pytest.fixture
def synced(idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> Invoke:
    """Servers ``a`` (active) and ``b`` holding the same small library, both synced."""
    add_snapshot(idmap, "a", write_library(tmp_path / "a.jsonl", small_library))
    add_snapshot(idmap, "b", write_library(tmp_path / "b.jsonl", _renamed(small_library)))
    cli_sync(idmap, "a", "b")
    assert idmap("servers", "activate", "a").exit_code == 0
    return idmap


def _renamed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same library with server b's own ids (b-...)."""
    out = []
    for record in records:
        copy = dict(record, id=f"b-{record['id']}")
        for parent in ("artist_id", "album_id"):
            if parent in copy:
                copy[parent] = f"b-{copy[parent]}"
        out.append(copy)
    return out


def test_health_needs_no_key_and_hides_the_password(serve: Running) -> None:
    answer = serve.anonymous.get("/api/v1/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["version"]
    assert "***" in body["database"] or ":" not in body["database"].split("//", 1)[1].split("@")[0]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"/api/v1/resolve/{UNKNOWN}"), ("POST", "/api/v1/resolve"), ("GET", "/api/v1/lookup/a/t1"),
     ("GET", "/api/v1/translate/a/t1"), ("GET", f"/api/v1/entities/{UNKNOWN}"), ("GET", "/api/v1/changes"),
     ("POST", "/api/v1/sync"), ("GET", "/api/v1/sync/x")],
)  # fmt: skip
def test_every_route_but_health_refuses_a_request_without_the_key(serve: Running, method: str, path: str) -> None:
    for headers in ({}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": serve.key}):
        answer = serve.anonymous.request(method, path, headers=headers, json={"uuids": []})
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json()["error"]["code"] == "unauthorized"
    ok = serve.anonymous.get("/api/v1/changes", headers={"Authorization": f"Bearer {serve.key}"})
    assert ok.status_code == 200


def test_resolve_one(serve: Running, synced: Invoke) -> None:
    uuid = uuid_of(synced, "a", "t1")
    assert serve.get(f"/api/v1/resolve/{uuid}").json() == {"uuid": uuid, "server": "a", "native_id": "t1"}
    assert serve.get(f"/api/v1/resolve/{uuid}", params={"server": "b"}).json()["native_id"] == "b-t1"
    assert serve.get(f"/api/v1/resolve/{uuid.upper()}").json()["native_id"] == "t1"


def test_resolve_one_errors_say_which(serve: Running, synced: Invoke) -> None:
    unknown = serve.get(f"/api/v1/resolve/{UNKNOWN}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_uuid"
    bad = serve.get("/api/v1/resolve/not-a-uuid")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_uuid"
    server = serve.get(f"/api/v1/resolve/{UNKNOWN}", params={"server": "nope"})
    assert server.status_code == 404 and server.json()["error"]["code"] == "unknown_server"
    split = synced("split", uuid_of(synced, "a", "t3"), "--server", "b")
    assert split.exit_code == 0, split.output
    only_a = uuid_of(synced, "a", "t3")
    missing = serve.get(f"/api/v1/resolve/{only_a}", params={"server": "b"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_on_server"


def test_resolve_follows_a_merge(serve: Running, synced: Invoke) -> None:
    t1, t2 = uuid_of(synced, "a", "t1"), uuid_of(synced, "a", "t2")
    assert synced("merge", t1, t2).exit_code == 0
    survivor = uuid_of(synced, "a", "t1")
    dropped = t2 if survivor == t1 else t1
    answer = serve.get(f"/api/v1/resolve/{dropped}").json()
    assert answer["uuid"] == dropped and answer["native_id"] in ("t1", "t2")


def test_resolve_many(serve: Running, synced: Invoke) -> None:
    t1, t3 = uuid_of(synced, "a", "t1"), uuid_of(synced, "a", "t3")
    answer = serve.post("/api/v1/resolve", json={"uuids": [t1, t3, UNKNOWN], "server": "b"})
    assert answer.status_code == 200
    assert answer.json() == {"server": "b", "results": {t1: "b-t1", t3: "b-t3", UNKNOWN: None}}
    active = serve.post("/api/v1/resolve", json={"uuids": [t1]}).json()
    assert active == {"server": "a", "results": {t1: "t1"}}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [(b"{", 400, "bad_json"), (b"[]", 400, "bad_request"), (b'{"uuids": "x"}', 400, "bad_request"),
     (b'{"uuids": [1]}', 400, "bad_request"), (b'{"uuids": ["nope"]}', 400, "bad_uuid"),
     (b'{"uuids": [], "server": "zz"}', 404, "unknown_server")],
)  # fmt: skip
def test_resolve_many_bad_input_is_a_4xx(serve: Running, synced: Invoke, body: bytes, status: int, code: str) -> None:
    answer = serve.post("/api/v1/resolve", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert "Traceback" not in answer.text


def test_resolve_many_caps_the_batch(serve: Running, synced: Invoke) -> None:
    answer = serve.post("/api/v1/resolve", json={"uuids": [UNKNOWN] * 100_001})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_many"
    fine = serve.post("/api/v1/resolve", json={"uuids": [UNKNOWN] * 100_000})
    assert fine.status_code == 200 and fine.json()["results"] == {UNKNOWN: None}


def test_lookup_and_translate(serve: Running, synced: Invoke) -> None:
    uuid = uuid_of(synced, "a", "al1")
    assert serve.get("/api/v1/lookup/b/b-al1").json() == {"uuid": uuid, "kind": "album"}
    assert serve.get("/api/v1/translate/b/b-al1", params={"to": "a"}).json()["native_id"] == "al1"
    assert serve.get("/api/v1/translate/a/al1").json()["native_id"] == "al1"  # to the active server
    unknown = serve.get("/api/v1/lookup/b/zzz")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_native_id"
    assert serve.get("/api/v1/translate/b/zzz").json()["error"]["code"] == "unknown_native_id"
    assert serve.get("/api/v1/lookup/nope/zzz").json()["error"]["code"] == "unknown_server"
    assert serve.get("/api/v1/translate/a/al1", params={"to": "nope"}).status_code == 404


def test_entity_is_its_export_line(serve: Running, synced: Invoke) -> None:
    uuid = uuid_of(synced, "a", "ar1")
    (line,) = [e for e in _export(synced) if e["uuid"] == uuid]
    assert serve.get(f"/api/v1/entities/{uuid}").json() == line
    assert serve.get(f"/api/v1/entities/{UNKNOWN}").json()["error"]["code"] == "unknown_uuid"
    assert serve.get("/api/v1/entities/xyz").status_code == 400


def test_unknown_route_and_method_are_json_errors(serve: Running) -> None:
    answer = serve.get("/api/v1/nothing")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    wrong = serve.client.delete("/api/v1/resolve")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_no_active_server_is_a_400(serve: Running) -> None:
    answer = serve.get(f"/api/v1/resolve/{UNKNOWN}")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "no_server"


def _export(idmap: Invoke) -> list[dict[str, Any]]:
    import json

    result = idmap("export")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]

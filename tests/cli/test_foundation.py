"""The foundation through the CLI: servers, snapshot sync, translation, export, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap import IdMap
from tests.conftest import Invoke, write_jsonl


def _export(idmap: Invoke, *args: str) -> list[dict[str, Any]]:
    result = idmap("export", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def _uuids(idmap: Invoke) -> dict[tuple[str, str], str]:
    """(kind, native id on 'home') -> uuid, for live and gone links."""
    found = {}
    for entity in _export(idmap):
        for link in entity["links"]:
            if link["server"] == "home":
                found[(entity["kind"], link["native_id"])] = entity["uuid"]
    return found


@pytest.fixture
def synced(idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> Path:
    snap = write_jsonl(tmp_path / "home.jsonl", small_library)
    assert idmap("servers", "add", "snapshot", "home", "--url", str(snap)).exit_code == 0
    result = idmap("sync", "home")
    assert result.exit_code == 0, result.output
    return snap


def test_servers_add_list_activate_remove(idmap: Invoke, tmp_path: Path, small_library: list[dict[str, Any]]) -> None:
    snap = write_jsonl(tmp_path / "a.jsonl", small_library)
    assert (
        idmap("servers", "add", "snapshot", "one", "--url", str(snap)).stdout
        == "added snapshot server one (active); it answers (2 artists)\n"
    )
    assert idmap("servers", "add", "snapshot", "two", "--url", str(snap)).exit_code == 0
    listed = json.loads(idmap("servers", "list", "--json").output)
    assert [(s["name"], s["active"]) for s in listed] == [("one", True), ("two", False)]
    assert idmap("servers", "activate", "two").exit_code == 0
    listed = json.loads(idmap("servers", "list", "--json").output)
    assert [(s["name"], s["active"]) for s in listed] == [("one", False), ("two", True)]
    assert idmap("servers", "remove", "two", "--yes").exit_code == 0
    listed = json.loads(idmap("servers", "list", "--json").output)
    assert [(s["name"], s["active"]) for s in listed] == [("one", True)]


def test_duplicate_server_name_is_an_error(idmap: Invoke, synced: Path) -> None:
    result = idmap("servers", "add", "snapshot", "home", "--url", str(synced))
    assert result.exit_code == 1
    assert "exists already" in result.output


def test_sync_links_every_item(idmap: Invoke, synced: Path) -> None:
    uuids = _uuids(idmap)
    assert sorted(uuids) == sorted(
        [("artist", "ar1"), ("artist", "ar2"), ("album", "al1"), ("album", "al2"),
         ("track", "t1"), ("track", "t2"), ("track", "t3")]
    )  # fmt: skip
    assert len(set(uuids.values())) == 7
    entities = {e["uuid"]: e for e in _export(idmap)}
    airbag = entities[uuids[("track", "t1")]]
    assert airbag["name"] == "Airbag"
    assert airbag["album_uuid"] == uuids[("album", "al1")]
    assert airbag["artist_uuid"] == uuids[("artist", "ar1")]
    assert airbag["duration_ms"] == 284000
    assert airbag["links"] == [{"server": "home", "native_id": "t1", "gone": False}]


def test_resync_is_idempotent(idmap: Invoke, synced: Path) -> None:
    before = _export(idmap)
    result = idmap("sync", "home", "--full", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)[0]
    assert summary["new"] == 0 and summary["updated"] == 0 and summary["unchanged"] == 7
    assert _export(idmap) == before


def test_removed_item_is_tombstoned_and_gets_its_uuid_back(
    idmap: Invoke, synced: Path, small_library: list[dict[str, Any]]
) -> None:
    uuids = _uuids(idmap)
    write_jsonl(synced, [r for r in small_library if r["id"] != "t2"])
    summary = json.loads(idmap("sync", "home", "--full", "--json").output)[0]
    assert summary["gone"] == 1
    entity = next(e for e in _export(idmap, "--kind", "track") if e["uuid"] == uuids[("track", "t2")])
    assert entity["links"] == [{"server": "home", "native_id": "t2", "gone": True}]
    assert idmap("resolve", uuids[("track", "t2")]).exit_code == 1
    assert idmap("lookup", "home", "t2").output.strip() == uuids[("track", "t2")]

    write_jsonl(synced, small_library)
    summary = json.loads(idmap("sync", "home", "--full", "--json").output)[0]
    assert summary["revived"] == 1 and summary["new"] == 0
    assert _uuids(idmap) == uuids
    assert idmap("resolve", uuids[("track", "t2")]).output.strip() == "t2"


def test_changed_item_updates_its_entity(idmap: Invoke, synced: Path, small_library: list[dict[str, Any]]) -> None:
    uuids = _uuids(idmap)
    edited = [dict(r, name="Airbag (Remastered)") if r["id"] == "t1" else r for r in small_library]
    write_jsonl(synced, edited)
    summary = json.loads(idmap("sync", "home", "--full", "--json").output)[0]
    assert summary["updated"] == 1 and summary["unchanged"] == 6
    entity = next(e for e in _export(idmap, "--kind", "track") if e["uuid"] == uuids[("track", "t1")])
    assert entity["name"] == "Airbag (Remastered)"


def test_resolve_lookup_translate(
    idmap: Invoke, synced: Path, small_library: list[dict[str, Any]], tmp_path: Path
) -> None:
    uuid = idmap("lookup", "home", "t3").output.strip()
    assert idmap("resolve", uuid).output.strip() == "t3"
    assert json.loads(idmap("resolve", uuid, "--server", "home", "--json").output) == {
        "uuid": uuid, "server": "home", "native_id": "t3"
    }  # fmt: skip
    assert idmap("translate", "home", "t3", "--to", "home").output.strip() == "t3"


def test_redirects_are_followed(idmap: Invoke, synced: Path, db_url: str) -> None:
    uuids = _uuids(idmap)
    survivor, merged = uuids[("track", "t1")], uuids[("track", "t2")]
    with IdMap.open(db_url) as api, api.store.begin() as conn:
        from datetime import UTC, datetime

        from soulsync_idmap.mapping.store import table

        conn.execute(table("link").update().where(table("link").c.uuid == merged).values(uuid=survivor))
        conn.execute(table("track").delete().where(table("track").c.uuid == merged))
        conn.execute(table("redirect").insert().values(old_uuid=merged, new_uuid=survivor, kind="track",
                                                       created_at=datetime.now(UTC)))  # fmt: skip
    with IdMap.open(db_url) as api:
        assert api.resolve(merged) == "t1"
        assert api.resolve_many([merged, survivor]) == {merged: "t1", survivor: "t1"}
        assert api.lookup("home", "t2") == survivor
    assert idmap("resolve", merged).output.strip() == "t1"


def test_resolve_many_issues_a_fixed_number_of_queries(idmap: Invoke, synced: Path, db_url: str) -> None:
    from sqlalchemy import event

    uuids = list(_uuids(idmap).values())
    many = uuids * 3000 + [str(__import__("uuid").uuid4()) for _ in range(20_000)]
    with IdMap.open(db_url) as api:
        api.resolve("00000000-0000-0000-0000-000000000000", server="home")  # warm the server cache
        statements: list[str] = []
        event.listen(api.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        result = api.resolve_many(many, server="home")
    # 20,007 distinct UUIDs bound as one array (json_each / unnest) -> one chunk -> 2 statements.
    assert len(statements) == 2
    assert sum(1 for v in result.values() if v is not None) == 7
    assert len(result) == 20_007


def test_stats(idmap: Invoke, synced: Path) -> None:
    data = json.loads(idmap("stats", "--json").output)
    assert data["entities"] == {"artist": 2, "album": 2, "track": 3}
    assert data["servers"]["home"] == {"artist": 2, "album": 2, "track": 3, "gone": 0}
    assert data["runs"][0]["status"] == "ok" and data["runs"][0]["new"] == 7
    assert idmap("stats").exit_code == 0


# -- errors: one line, exit 1, no traceback ------------------------------------------------


def _one_line_error(result: Any, needle: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    assert needle in lines[0]


def test_missing_snapshot_file(idmap: Invoke, tmp_path: Path) -> None:
    _one_line_error(idmap("servers", "add", "snapshot", "x", "--url", str(tmp_path / "nope.jsonl")), "not found")


def test_snapshot_deleted_after_add(idmap: Invoke, synced: Path) -> None:
    synced.unlink()
    _one_line_error(idmap("sync", "home"), "file not found")


def test_malformed_line_names_its_number(idmap: Invoke, synced: Path, small_library: list[dict[str, Any]]) -> None:
    lines = [json.dumps(r) for r in small_library]
    lines.insert(3, '{"kind": "track", "id": "x", ')
    synced.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = _export(idmap)
    _one_line_error(idmap("sync", "home", "--full"), ":4: not valid JSON")
    assert _export(idmap) == before


def test_an_item_missing_a_required_field_is_skipped_and_reported(idmap: Invoke, synced: Path) -> None:
    write_jsonl(synced, [{"kind": "track", "id": "t9"}])
    result = idmap("sync", "home", "--full")
    assert result.exit_code == 0
    assert "skipped track t9: line 1: no title and no file name" in result.output


def test_unknown_field_is_a_warning(idmap: Invoke, synced: Path, small_library: list[dict[str, Any]]) -> None:
    write_jsonl(synced, [dict(r, genre="rock") for r in small_library])
    result = idmap("sync", "home", "--full")
    assert result.exit_code == 0
    assert "unknown field 'genre' ignored" in result.output


def test_unknown_server_name(idmap: Invoke, synced: Path) -> None:
    _one_line_error(idmap("sync", "nope"), "unknown server 'nope'")
    _one_line_error(idmap("lookup", "nope", "1"), "unknown server 'nope'")
    _one_line_error(idmap("resolve", "00000000-0000-0000-0000-000000000000", "--server", "nope"), "unknown server")


def test_bad_uuid(idmap: Invoke, synced: Path) -> None:
    _one_line_error(idmap("resolve", "not-a-uuid"), "not a UUID")


def test_unknown_native_id(idmap: Invoke, synced: Path) -> None:
    _one_line_error(idmap("lookup", "home", "zzz"), "no item with native id 'zzz'")


@pytest.mark.parametrize(
    "url",
    ["sqlite:////proc/version/idmap.db", "postgresql+psycopg://idmap@127.0.0.1:9/none", "nonsense://"],
)
def test_unreachable_database(url: str, config_path: Path) -> None:
    from click.testing import CliRunner

    from soulsync_idmap.cli import cli

    result = CliRunner().invoke(cli, ["--db", url, "--config", str(config_path), "servers", "list"])
    _one_line_error(result, "")

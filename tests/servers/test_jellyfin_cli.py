"""End to end through the CLI: a fake Jellyfin/Emby server on loopback, synced into a mapping
database with ``idmap servers add`` and ``idmap sync``, then changed and synced again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap.demo.fake_jellyfin import FakeJellyfin
from soulsync_idmap.servers.snapshot import read_snapshot
from tests.conftest import Invoke
from tests.support.gen_library import generate

TOKEN = "c0ffee00c0ffee00c0ffee00c0ffee00"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    path = tmp_path / "library.jsonl"
    generate(path, tracks=300, albums=30, artists=12, seed=7)
    return path


@pytest.fixture(params=["jellyfin", "emby"])
def fake(request: pytest.FixtureRequest, library: Path) -> Iterator[FakeJellyfin]:
    with FakeJellyfin(library, token=TOKEN, user=("alice", "pw"), flavor=request.param) as server:
        assert isinstance(server, FakeJellyfin)
        yield server


def export(idmap: Invoke) -> list[dict[str, Any]]:
    result = idmap("export")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def links(idmap: Invoke, server: str) -> dict[tuple[str, str], tuple[str, bool]]:
    """(kind, native id) -> (uuid, gone) for every link of ``server``."""
    found = {}
    for entity in export(idmap):
        for link in entity["links"]:
            if link["server"] == server:
                found[(entity["kind"], link["native_id"])] = (entity["uuid"], link["gone"])
    return found


def sync(idmap: Invoke, name: str) -> dict[str, Any]:
    result = idmap("sync", name, "--json")
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    assert summary["ok"], summary
    return dict(summary)


def test_sync_links_the_whole_library_then_follows_changes(idmap: Invoke, fake: FakeJellyfin, library: Path) -> None:
    kind = fake.flavor
    added = idmap("servers", "add", kind, "jf", "--url", fake.url, "--token", TOKEN)
    assert added.exit_code == 0, added.output
    assert sync(idmap, "jf")["mode"] == "full"
    items = list(read_snapshot(library))
    linked = links(idmap, "jf")
    assert set(linked) == {(i.kind, fake.native_id(i.kind, i.native_id)) for i in items}
    assert len({uuid for uuid, _ in linked.values()}) == len(items)
    track = next(i for i in items if i.kind == "track")
    looked_up = idmap("lookup", "jf", fake.native_id("track", track.native_id))
    assert (
        looked_up.exit_code == 0
        and looked_up.output.strip() == linked[("track", fake.native_id("track", track.native_id))][0]
    )

    # Change the server: one track removed, one added (stamped now); then an incremental sync.
    lines = library.read_text(encoding="utf-8").splitlines()
    removed = json.loads(next(line for line in lines if '"kind":"track"' in line))
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    new_track = dict(removed, id="t-new", name="Brand New Song", added_at=now, updated_at=now)
    kept = [line for line in lines if json.loads(line) != removed]
    kept.append(json.dumps(new_track))
    library.write_text("\n".join(kept) + "\n", encoding="utf-8")
    fake.reload()
    fake.reset_log()
    assert sync(idmap, "jf")["mode"] == "incremental"
    after = links(idmap, "jf")
    assert after[("track", fake.native_id("track", removed["id"]))][1] is True  # gone, UUID kept
    assert after[("track", fake.native_id("track", "t-new"))][1] is False
    # Incremental reads only what changed, the ids, and the unlinked ids by id: no full listing with Fields.
    for request in (r for r in fake.requests if r.path == "/Items"):
        assert request.param("MinDateLastSaved") or request.param("Ids") or request.param("Fields") is None


def test_user_and_password_through_the_cli(idmap: Invoke, fake: FakeJellyfin) -> None:
    args = ("servers", "add", fake.flavor, "jf", "--url", fake.url, "--user", "alice", "--password", "pw")
    assert idmap(*args).exit_code == 0
    sync(idmap, "jf")
    assert len(links(idmap, "jf")) > 300
    assert any(r.path == "/Users/AuthenticateByName" for r in fake.requests)


def test_wrong_token_is_a_one_line_error(idmap: Invoke, fake: FakeJellyfin) -> None:
    assert (
        idmap("servers", "add", fake.flavor, "jf", "--url", fake.url, "--token", "bad-token-77", "--no-check").exit_code
        == 0
    )
    result = idmap("sync", "jf")
    assert result.exit_code == 1
    assert "refused" in result.output and "bad-token-77" not in result.output

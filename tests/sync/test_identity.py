"""A UUID outlives the native id it was first seen under: re-keys, rebuilds, moved libraries, server switches.

Libraries are generated (tests/support/gen_library.py) and then changed as servers change
them: new native ids for some or all items (parents' references follow), new paths under
another root, another server's view of the same files. The share of UUIDs carried over is
what a host app sees: each old native id's UUID, looked up through the new native id.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from soulsync_idmap import IdMap
from tests.conftest import Invoke
from tests.support.gen_library import generate
from tests.support.twin import make_twin

NOW = datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def _rekeyed(
    items: list[dict[str, Any]], chosen: Callable[[dict[str, Any]], bool], *, stamp: bool,
    path: Callable[[str], str] = lambda p: p,
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:  # fmt: skip
    """The items with new native ids where ``chosen`` (children's references follow); old -> new ids."""
    new_ids: dict[tuple[str, str], str] = {}
    for item in items:
        if chosen(item):
            new_ids[(item["kind"], item["id"])] = f"new-{item['kind']}-{item['id']}"
    out = []
    for item in items:
        copy = dict(item, id=new_ids.get((item["kind"], item["id"]), item["id"]))
        for field, kind in (("artist_id", "artist"), ("album_id", "album")):
            if copy.get(field):
                copy[field] = new_ids.get((kind, copy[field]), copy[field])
        if copy.get("path"):
            copy["path"] = path(copy["path"])
        if stamp and (item["kind"], item["id"]) in new_ids:
            copy["added_at"] = copy["updated_at"] = NOW
        out.append(copy)
    return out, new_ids


def _uuids(db_url: str, server: str, items: list[dict[str, Any]]) -> dict[tuple[str, str], str | None]:
    with IdMap.open(db_url) as idmap:
        return {(i["kind"], i["id"]): idmap.lookup(server, i["id"], i["kind"]) for i in items}


def _carried(before: dict[tuple[str, str], str | None], after: dict[tuple[str, str], str | None],
             new_ids: dict[tuple[str, str], str], kind: str) -> float:  # fmt: skip
    """Share of ``kind``'s re-keyed items whose new native id resolves to the UUID the old one had."""
    pairs = [(old, new) for old, new in new_ids.items() if old[0] == kind]
    same = sum(1 for (k, old), new in pairs if before[(k, old)] is not None and after[(k, new)] == before[(k, old)])
    return same / len(pairs)


def _sync(idmap: Invoke, *args: str) -> dict[str, Any]:
    result = idmap("sync", *args, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)[0])


@pytest.fixture
def library(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "gen.jsonl"
    generate(path, tracks=600, albums=50, artists=12, seed=11)
    return _read(path)


def _served(idmap: Invoke, tmp_path: Path, items: list[dict[str, Any]], name: str = "home") -> Path:
    snap = _write(tmp_path / f"{name}.jsonl", items)
    assert idmap("servers", "add", "snapshot", name, "--url", str(snap)).exit_code == 0
    assert _sync(idmap, name)["new"] == len(items)
    return snap


@pytest.mark.parametrize("stamp", [True, False], ids=["new dates", "old dates kept"])
def test_an_incremental_re_key_of_a_third_is_a_relink(
    idmap: Invoke, tmp_path: Path, db_url: str, library: list[dict[str, Any]], stamp: bool
) -> None:
    snap = _served(idmap, tmp_path, library)
    before = _uuids(db_url, "home", library)
    rng = random.Random(3)
    changed, new_ids = _rekeyed(library, lambda i: i["kind"] == "track" and rng.random() < 0.3, stamp=stamp)
    _write(snap, changed)
    summary = _sync(idmap, "home")
    assert summary["mode"] == "incremental"
    assert summary["relinked"] == len(new_ids) and summary["new"] == 0
    assert summary["gone"] == len(new_ids)  # the old ids are gone; their UUIDs live on under the new ids
    assert _carried(before, _uuids(db_url, "home", changed), new_ids, "track") == 1.0
    again = _sync(idmap, "home")
    assert (again["new"], again["relinked"], again["gone"], again["updated"]) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("moved", "tagged"),
    [(False, True), (True, True), (True, False)],
    ids=["rebuilt server", "moved library", "moved library without MusicBrainz ids or ISRCs"],
)
def test_a_full_sync_of_a_server_whose_every_id_changed_keeps_every_uuid(
    idmap: Invoke, tmp_path: Path, db_url: str, library: list[dict[str, Any]], moved: bool, tagged: bool
) -> None:
    if not tagged:
        library = [{k: v for k, v in i.items() if k not in ("mbid", "isrc")} for i in library]
    snap = _served(idmap, tmp_path, library)
    before = _uuids(db_url, "home", library)
    # A rebuilt server: every id new. A moved library (Navidrome, gonic: ids are hashes of
    # the path): every id and every path new.
    move: Callable[[str], str] = (lambda p: p.replace("/music/", "/srv/library/", 1)) if moved else (lambda p: p)
    changed, new_ids = _rekeyed(library, lambda i: True, stamp=True, path=move)
    _write(snap, changed)
    summary = _sync(idmap, "home", "--full")
    after = _uuids(db_url, "home", changed)
    for kind in ("artist", "album", "track"):
        assert _carried(before, after, new_ids, kind) >= 0.99, kind
    assert summary["new"] <= 0.01 * len(library)
    assert summary["relinked"] >= 0.99 * len(library)


def test_switching_servers_by_remove_then_add_keeps_the_uuids(
    idmap: Invoke, tmp_path: Path, db_url: str, library: list[dict[str, Any]]
) -> None:
    _served(idmap, tmp_path, library, name="plex")
    before = _uuids(db_url, "plex", library)
    removed = idmap("servers", "remove", "plex", "--yes")
    assert removed.exit_code == 0 and "kept" in removed.output
    # The same files as another server sees them: other ids, another mount point, tag noise,
    # and no MusicBrainz ids or ISRCs at all (fuzzy matching and paths only).
    twin = tmp_path / "jelly.jsonl"
    make_twin(_write(tmp_path / "base.jsonl", library), twin, seed=5)
    seen = [{k: v for k, v in i.items() if k not in ("mbid", "isrc")} for i in _read(twin)]
    _write(twin, seen)
    add = idmap("servers", "add", "snapshot", "jelly", "--url", str(twin), "--path-map", "/data/media/music=/music")
    assert add.exit_code == 0, add.output
    summary = _sync(idmap, "jelly")
    after = _uuids(db_url, "jelly", seen)
    new_ids = {(i["kind"], i["id"]): t["id"] for i, t in zip(library, seen, strict=True)}
    assert _carried(before, after, new_ids, "track") >= 0.95
    for kind in ("artist", "album"):
        assert _carried(before, after, new_ids, kind) >= 0.98, kind
    assert summary["new"] + summary["queued"] <= 0.05 * len(library)
    with IdMap.open(db_url) as api:  # what the host app stored under plex now resolves on jelly
        uuid = before[("track", "t0")]
        assert uuid is not None and api.resolve(uuid, server="jelly") == new_ids[("track", "t0")]


def test_a_deleted_track_and_an_unrelated_new_one_in_the_same_run_stay_apart(
    idmap: Invoke, tmp_path: Path, db_url: str, library: list[dict[str, Any]]
) -> None:
    snap = _served(idmap, tmp_path, library)
    before = _uuids(db_url, "home", library)
    gone = [i for i in library if i["kind"] == "track"][:20]
    fresh = []
    for number, old in enumerate(gone):  # on the same albums, at the same positions, but other songs
        fresh.append(dict(old, id=f"fresh{number}", name=f"Completely Different Song {number}",
                          duration_ms=old["duration_ms"] + 60_000, path=old["path"].replace(".flac", " (b).flac"),
                          added_at=NOW, updated_at=NOW))  # fmt: skip
        fresh[-1].pop("mbid", None)
        fresh[-1].pop("isrc", None)
    _write(snap, [i for i in library if i not in gone] + fresh)
    summary = _sync(idmap, "home")
    assert (summary["gone"], summary["relinked"], summary["new"]) == (20, 0, 20)
    after = _uuids(db_url, "home", fresh)
    assert not {after[("track", f["id"])] for f in fresh} & {before[("track", g["id"])] for g in gone}


def test_a_live_version_on_the_same_album_is_not_a_relink(
    idmap: Invoke, tmp_path: Path, db_url: str, small_library: list[dict[str, Any]]
) -> None:
    snap = _served(idmap, tmp_path, small_library)
    airbag = next(i for i in small_library if i["id"] == "t1")
    live = dict(airbag, id="t9", name="Airbag (Live)", path="/music/Radiohead/OK Computer/01 Airbag (Live).flac",
                added_at=NOW, updated_at=NOW)  # fmt: skip
    _write(snap, [i for i in small_library if i["id"] != "t1"] + [live])
    summary = _sync(idmap, "home")
    assert summary["relinked"] == 0 and summary["new"] == 1


def test_the_servers_own_metadata_id_finds_a_re_keyed_moved_and_re_tagged_item(
    idmap: Invoke, tmp_path: Path, db_url: str, library: list[dict[str, Any]]
) -> None:
    # Plex's plex://track/... survives a re-key; here every id and path changed and every title
    # was re-tagged, so neither the file nor the name could tell: only the guid can.
    tracks = [i for i in library if i["kind"] == "track"][:40]
    with_guids = [dict(t, guid=f"plex://track/{n:024x}") for n, t in enumerate(tracks)]
    snap = _served(idmap, tmp_path, [i for i in library if i["kind"] != "track"] + with_guids)
    before = _uuids(db_url, "home", with_guids)
    changed, new_ids = _rekeyed(with_guids, lambda i: True, stamp=True, path=lambda p: p.replace("/music/", "/x/", 1))
    retagged = [dict(t, name=f"Retitled {n}", path=f"/x/elsewhere/{n}.flac") for n, t in enumerate(changed)]
    _write(snap, [i for i in library if i["kind"] != "track"] + retagged)
    summary = _sync(idmap, "home", "--full")
    assert summary["relinked"] == len(tracks) and summary["new"] == 0
    assert _carried(before, _uuids(db_url, "home", retagged), new_ids, "track") == 1.0


def test_a_missing_parent_link_is_repaired_though_the_childs_fingerprint_did_not_change(
    idmap: Invoke, tmp_path: Path, db_url: str, small_library: list[dict[str, Any]]
) -> None:
    # The album is missing from the first listing (a scan caught mid-way): the track is linked
    # without it. The next full sync lists the album; the track line is byte for byte the same.
    # The track names its album and artist itself, so its fingerprint is the same in both listings.
    library = [dict(r, album_name="OK Computer", artist_name="Radiohead") if r["id"] == "t1" else r
               for r in small_library]  # fmt: skip
    without = [r for r in library if r["id"] != "al1"]
    snap = _served(idmap, tmp_path, without)
    _write(snap, library)
    assert _sync(idmap, "home", "--full")["new"] == 1  # the album
    with IdMap.open(db_url) as api:
        album, track = api.lookup("home", "al1", "album"), api.lookup("home", "t1", "track")
        with api.store.engine.connect() as conn:
            from sqlalchemy import text

            stored = conn.execute(text("SELECT album_uuid FROM track WHERE uuid = :u"), {"u": track}).scalar()
    assert album is not None and stored == album

"""The snapshot server's incremental read: one light pass, then only the changed lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soulsync_idmap.errors import SnapshotError
from soulsync_idmap.servers import snapshot
from soulsync_idmap.servers.base import ServerConfig, ServerTrack
from soulsync_idmap.servers.snapshot import SnapshotServer

WATERMARK = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def _server(path: Path, objects: list[dict[str, object] | str], compact: bool = False) -> SnapshotServer:
    """Lines as json.dumps writes them by default, or in the compact form the exporters write."""

    def line(o: dict[str, object] | str) -> str:
        if isinstance(o, str):
            return o
        return json.dumps(o, separators=(",", ":"), ensure_ascii=False) if compact else json.dumps(o)

    path.write_text("".join(line(o) + "\n" for o in objects), encoding="utf-8")
    return SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("keep", [20_000, 1], ids=["changed lines kept", "changed lines read again"])
@pytest.mark.parametrize("split", [False, True], ids=["one pass", "two halves at once"])
def test_only_items_stamped_at_or_after_the_watermark_are_read(
    tmp_path: Path, compact: bool, keep: int, split: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "KEEP_CHANGED_LINES", keep)
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1 if split else 1 << 40)
    server = _server(tmp_path / "lib.jsonl", [
        {"kind": "artist", "id": "ar1", "name": 'Radiohead "OK"', "updated_at": "2024-01-01T00:00:00Z"},
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1", "added_at": "2024-01-01T00:00:00Z"},
        {"kind": "track", "id": "t1", "name": "Airbag", "album_id": "al1", "artist_id": "ar1",
         "updated_at": "2024-01-01T00:00:00Z"},
        # 13:30 at +02:00 is 11:30 UTC: before the watermark, though its text sorts after it.
        {"kind": "track", "id": "t2", "name": "Paranoid Android", "album_id": "al1",
         "updated_at": "2025-06-01T13:30:00+02:00"},
        # In the watermark's own second: counts as changed.
        {"kind": "track", "id": "t3", "name": "Subterranean Homesick Alien", "album_id": "al1",
         "updated_at": "2025-06-01T12:00:00.250Z"},
        # No stamp: always read.
        {"kind": "track", "id": "t4", "name": "Exit Music (For a Film)", "album_id": "al1", "artist_id": "ar1"},
        {"kind": "track", "id": "t5", "name": "Let Down", "added_at": "2024-01-01T00:00:00Z",
         "updated_at": "2025-07-01T00:00:00Z"},
    ], compact)  # fmt: skip
    changed = list(server.changed_since(WATERMARK))
    assert [i.native_id for i in changed] == ["t3", "t4", "t5"]
    exit_music = changed[1]
    assert isinstance(exit_music, ServerTrack)
    assert (exit_music.album_title, exit_music.artist_name) == ("OK Computer", 'Radiohead "OK"')
    # In the file's order, whichever reader took each line: the listing digest compares orders.
    assert list(server.all_ids("track")) == ["t1", "t2", "t3", "t4", "t5"]
    assert list(server.all_ids("artist")) == ["ar1"]


def test_ids_are_read_again_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "lib.jsonl"
    server = _server(path, [{"kind": "artist", "id": "ar1", "name": "Björk"}])
    assert list(server.all_ids("artist")) == ["ar1"]
    _server(
        path, [{"kind": "artist", "id": "ar1", "name": "Björk"}, {"kind": "artist", "id": "ar2", "name": "Sigur Rós"}]
    )
    assert list(server.all_ids("artist")) == ["ar1", "ar2"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", ":2: not valid JSON"),
        ('{"kind": "song", "id": "x", "name": "y"}', ":2: 'kind' must be"),
        ('{"kind": "track", "id": "t9", "name": "Airbag", "duration_ms": "long"}', ":2: 'duration_ms' must be"),
    ],
)
def test_a_malformed_line_is_reported_with_its_number(tmp_path: Path, line: str, message: str) -> None:
    server = _server(tmp_path / "lib.jsonl", [{"kind": "artist", "id": "ar1", "name": "Radiohead"}, line])
    with pytest.raises(SnapshotError, match=message):
        list(server.changed_since(WATERMARK))


@pytest.mark.parametrize(
    ("bad", "message"),
    [(b'{"kind":"artist","id":"x","name":"\xff"}', ":31: not valid UTF-8"), (b"{not json", ":31: not valid JSON")],
)
def test_the_second_half_reports_errors_with_the_files_line_numbers(
    tmp_path: Path, bad: bytes, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)
    lines = [f'{{"kind":"artist","id":"a{i}","name":"Artist {i}"}}'.encode() for i in range(40)]
    lines[30] = bad
    path = tmp_path / "lib.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    with pytest.raises(SnapshotError, match=message):
        list(server.changed_since(WATERMARK))


def test_two_halves_find_what_one_pass_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.gen_library import generate

    path = tmp_path / "lib.jsonl"
    generate(path, tracks=3_000, albums=200, artists=40, seed=8)
    found = []
    for split in (1 << 40, 1):
        monkeypatch.setattr(snapshot, "SPLIT_BYTES", split)
        server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
        changed = [(i.kind, i.native_id, i) for i in server.changed_since(datetime(2000, 1, 1, tzinfo=UTC))]
        found.append((changed, {k: list(server.all_ids(k)) for k in ("artist", "album", "track")}))
    assert found[0] == found[1]
    assert len(found[0][1]["track"]) == 3_000


@pytest.mark.parametrize("keep_albums", [500_000, 3], ids=["albums kept from the first pass", "albums read again"])
def test_a_full_read_gives_parents_first_with_their_names(
    tmp_path: Path, keep_albums: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "KEEP_ALBUMS", keep_albums)
    server = _server(tmp_path / "lib.jsonl", [
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1"},  # before its artist
        {"kind": "track", "id": "t1", "name": "Airbag", "album_id": "al1", "artist_id": "ar1"},
        {"kind": "artist", "id": "ar1", "name": "Radiohead"},
        {"kind": "album", "id": "al2", "name": "Kid A", "artist_id": "ar1", "artist_name": "RADIOHEAD"},
        {"kind": "album", "id": "al3", "name": "Amnesiac", "artist_id": "ar1"},
        {"kind": "album", "id": "al4", "name": "Hail to the Thief"},
    ], compact=True)  # fmt: skip
    assert [a.native_id for a in server.iter_artists()] == ["ar1"]
    albums = list(server.iter_albums())
    assert [(a.native_id, a.artist_name) for a in albums] == [
        ("al1", "Radiohead"), ("al2", "RADIOHEAD"), ("al3", "Radiohead"), ("al4", None),
    ]  # fmt: skip
    tracks = list(server.iter_tracks())
    assert [(t.album_title, t.artist_name) for t in tracks] == [("OK Computer", "Radiohead")]
    assert [a.native_id for a in server.iter_albums()] == ["al1", "al2", "al3", "al4"]  # again: from the file


@pytest.mark.parametrize("count", [2, 3])
def test_track_parts_read_what_one_pass_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    from tests.support.gen_library import generate

    path = tmp_path / "lib.jsonl"
    generate(path, tracks=2_000, albums=150, artists=30, seed=9)
    whole = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    list(whole.iter_artists())
    expected = list(whole.iter_tracks())
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    list(server.iter_artists())
    list(server.iter_albums())
    parts = server.track_parts(count)
    assert len(parts) == count
    read = [[t for t in part()] for part in parts]
    assert all(read)  # every part holds tracks
    assert [t for part in read for t in part] == expected  # same items, names filled in, file order
    assert all(t.album_title and t.artist_name for t in expected)


def test_a_small_file_is_one_part(tmp_path: Path) -> None:
    server = _server(tmp_path / "lib.jsonl", [{"kind": "track", "id": "t1", "name": "Airbag"}])
    assert server.track_parts(2) == [server.iter_tracks]


def test_a_later_track_part_reports_errors_with_the_files_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "SPLIT_BYTES", 1)
    lines = [f'{{"kind":"track","id":"t{i}","name":"Song {i}"}}'.encode() for i in range(40)]
    lines[30] = b'{"kind":"track"'
    path = tmp_path / "lib.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    first, second = server.track_parts(2)
    assert len(list(first())) == 20
    with pytest.raises(SnapshotError, match=":31: not valid JSON"):
        list(second())


def test_a_full_read_reports_a_bad_byte_at_its_line(tmp_path: Path) -> None:
    lines = [f'{{"kind":"artist","id":"a{i}","name":"Artist {i}"}}'.encode() for i in range(40)]
    lines[30] = b'{"kind":"artist","id":"x","name":"\xff"}'
    path = tmp_path / "lib.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    with pytest.raises(SnapshotError, match=":31: not valid UTF-8"):
        list(server.iter_artists())


def test_a_repeated_stamp_counts_as_the_json_decoder_reads_it(tmp_path: Path) -> None:
    # JSON keeps a repeated key's last value; the light reader must agree with the full parse.
    path = tmp_path / "lib.jsonl"
    line = '{"kind":"track","id":"t%d","name":"x","updated_at":"%s","updated_at":"%s"}\n'
    path.write_text(
        line % (1, "2030-01-01T00:00:00Z", "2024-01-01T00:00:00Z")
        + line % (2, "2024-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    )
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    assert [item.native_id for item in server.changed_since(WATERMARK)] == ["t2"]

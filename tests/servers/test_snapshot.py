"""The snapshot adapter: full and incremental reads, and the bad-item policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soulsync_idmap.errors import SnapshotError
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
def test_only_items_stamped_at_or_after_the_watermark_are_read(tmp_path: Path, compact: bool) -> None:
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
    # In the file's order: the listing digest compares orders.
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
        ('["kind", "track"]', ":2: expected a JSON object"),
    ],
)
def test_a_malformed_line_is_reported_with_its_number(tmp_path: Path, line: str, message: str) -> None:
    server = _server(tmp_path / "lib.jsonl", [{"kind": "artist", "id": "ar1", "name": "Radiohead"}, line])
    with pytest.raises(SnapshotError, match=message):
        list(server.changed_since(WATERMARK))


def test_a_full_read_gives_parents_first_with_their_names(tmp_path: Path) -> None:
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


def test_a_full_read_counts_each_kind_and_reads_a_changed_file_again(tmp_path: Path) -> None:
    path = tmp_path / "lib.jsonl"
    radiohead = {"kind": "artist", "id": "ar1", "name": "Radiohead"}
    server = _server(path, [
        radiohead,
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1"},
        {"kind": "track", "id": "t1", "name": "Airbag", "album_id": "al1"},
        {"kind": "track", "id": "t2", "name": "Let Down", "album_id": "al1"},
    ])  # fmt: skip
    assert [server.total(kind) for kind in ("artist", "album", "track")] == [1, 1, 2]  # progress totals
    assert [a.native_id for a in server.iter_artists()] == ["ar1"]
    _server(path, [radiohead, {"kind": "artist", "id": "ar2", "name": "Portishead"}])
    assert [a.native_id for a in server.iter_artists()] == ["ar1", "ar2"]
    assert (server.total("artist"), server.total("track")) == (2, 0)


def test_a_full_read_reports_a_bad_byte_at_its_line(tmp_path: Path) -> None:
    lines = [f'{{"kind":"artist","id":"a{i}","name":"Artist {i}"}}'.encode() for i in range(40)]
    lines[30] = b'{"kind":"artist","id":"x","name":"\xff"}'
    path = tmp_path / "lib.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    with pytest.raises(SnapshotError, match=":31: not valid UTF-8"):
        list(server.iter_artists())


def test_a_repeated_stamp_counts_as_the_json_decoder_reads_it(tmp_path: Path) -> None:
    # JSON keeps a repeated key's last value.
    path = tmp_path / "lib.jsonl"
    line = '{"kind":"track","id":"t%d","name":"x","updated_at":"%s","updated_at":"%s"}\n'
    path.write_text(
        line % (1, "2030-01-01T00:00:00Z", "2024-01-01T00:00:00Z")
        + line % (2, "2024-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    )
    server = SnapshotServer(ServerConfig(name="home", kind="snapshot", url=str(path)))
    assert [item.native_id for item in server.changed_since(WATERMARK)] == ["t2"]


def test_bad_items_are_skipped_or_stored_honestly_and_the_rest_is_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = _server(tmp_path / "lib.jsonl", [
        {"kind": "artist", "id": "ar1", "name": "Radiohead"},
        {"kind": "artist", "id": "ar2", "name": "  "},  # no name: skipped
        {"kind": "album", "id": "al1", "name": "OK\u0000 Computer", "artist_id": "ar1"},  # NUL removed
        {"kind": "track", "id": "t1", "name": "", "album_id": "al1", "path": "/music/OK Computer/01 Airbag.flac"},
        {"kind": "track", "id": "", "name": "No id"},  # skipped
        {"kind": "track", "id": "t3", "name": "Let Down", "duration_ms": "long", "added_at": "yesterday"},
        {"kind": "track", "id": "t1", "name": "Airbag again"},  # a repeated id: skipped
        {"kind": "track", "id": "x" * 201, "name": "Long id"},  # skipped
        {"kind": "track", "id": "t4", "name": "Karma Police"},
    ])  # fmt: skip
    assert [a.native_id for a in server.iter_artists()] == ["ar1"]
    assert [a.title for a in server.iter_albums()] == ["OK Computer"]
    tracks = list(server.iter_tracks())
    assert [(t.native_id, t.title) for t in tracks] == [("t1", "01 Airbag"), ("t3", "Let Down"), ("t4", "Karma Police")]
    assert (tracks[1].duration_ms, tracks[1].added_at) == (None, None)  # values a field cannot hold are left out
    assert "'duration_ms' must be a whole number, not 'long'; left out" in caplog.text
    reasons = [(s.kind, s.native_id, s.reason) for s in server.skipped]
    assert reasons == [
        ("artist", "ar2", "line 2: no name"),
        ("track", None, "line 5: no id"),
        ("track", "t1", "line 7: duplicate id"),
        ("track", "x" * 200, "line 8: id longer than 200 characters"),
    ]
    # a skipped item is still listed: its link (from an earlier sync) is not gone
    assert "ar2" in list(server.all_ids("artist"))


def test_strict_reading_names_the_line_of_a_bad_item(tmp_path: Path) -> None:
    from soulsync_idmap.servers.snapshot import read_snapshot

    path = tmp_path / "lib.jsonl"
    path.write_text('{"kind": "artist", "id": "a1", "name": "A"}\n{"kind": "track", "id": "t1", "name": ""}\n')
    with pytest.raises(SnapshotError, match=":2: no title and no file name"):
        list(read_snapshot(path))

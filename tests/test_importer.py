"""Importing a SoulSync library database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from soulsync_idmap import IdMap
from tests.conftest import Invoke

SCHEMA = """
CREATE TABLE artists (id TEXT PRIMARY KEY, name TEXT NOT NULL, thumb_url TEXT, genres TEXT, summary TEXT,
  server_source TEXT DEFAULT 'plex', created_at TEXT, updated_at TEXT, musicbrainz_id TEXT, spotify_artist_id TEXT);
CREATE TABLE albums (id TEXT PRIMARY KEY, artist_id TEXT NOT NULL, title TEXT NOT NULL, year INTEGER,
  release_date TEXT, thumb_url TEXT, genres TEXT, track_count INTEGER, duration INTEGER,
  server_source TEXT DEFAULT 'plex', upc TEXT, musicbrainz_release_id TEXT, spotify_album_id TEXT);
CREATE TABLE tracks (id TEXT PRIMARY KEY, album_id TEXT NOT NULL, artist_id TEXT NOT NULL, title TEXT NOT NULL,
  track_number INTEGER, duration INTEGER, file_path TEXT, bitrate INTEGER, server_source TEXT DEFAULT 'plex',
  disc_number INTEGER, track_artist TEXT, file_size INTEGER, year INTEGER, isrc TEXT,
  musicbrainz_recording_id TEXT, spotify_track_id TEXT, deezer_id TEXT, tidal_id TEXT, qobuz_id TEXT,
  soul_id TEXT, spotify_match_status TEXT);
CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT);
"""


@pytest.fixture
def soulsync_db(tmp_path: Path) -> Path:
    path = tmp_path / "music_library.db"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO artists (id, name, server_source, musicbrainz_id, spotify_artist_id) VALUES (?,?,?,?,?)",
        [("101", "Radiohead", "plex", "a74b1b7f-71a5-4011-9441-d0b5e4122711", "4Z8W4fKeB5YxbusRsdQVPb"),
         ("f2a6c4e812345678", "Radiohead", "jellyfin", None, None)],
    )  # fmt: skip
    conn.execute(
        "INSERT INTO albums (id, artist_id, title, year, server_source) VALUES ('201','101','OK Computer',1997,'plex')"
    )
    conn.executemany(
        "INSERT INTO tracks (id, album_id, artist_id, title, track_number, duration, file_path, server_source,"
        " disc_number, isrc, spotify_track_id, deezer_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [("301", "201", "101", "Airbag", 1, 284000, "/m/Radiohead/OK Computer/01 Airbag.flac", "plex", 1,
          "GBAYE9700164", "6PYMdW9W0mJ3dbkG6ZvhVB", "3135553"),
         ("302", "201", "101", "Paranoid Android", 2, 383000, "/m/Radiohead/OK Computer/02.flac", "plex", 1,
          None, None, None)],
    )  # fmt: skip
    conn.commit()
    conn.close()
    return path


def test_import_links_every_plex_row_and_keeps_provider_ids(
    idmap: Invoke, soulsync_db: Path, tmp_path: Path, db_url: str
) -> None:
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    assert idmap("servers", "add", "snapshot", "plex-home", "--url", str(tmp_path / "empty.jsonl")).exit_code == 0
    with IdMap.open(db_url) as api, api.store.begin() as conn:
        conn.exec_driver_sql("UPDATE server SET kind='plex'")
    result = idmap("import-soulsync", str(soulsync_db), "--server", "plex-home", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["source"] == "plex"
    assert summary["new"] == 4  # one artist, one album, two tracks; the jellyfin row is not plex's
    assert summary["external_ids"] == 3
    with IdMap.open(db_url) as api:
        airbag = api.lookup("plex-home", "301")
        assert airbag is not None
        assert api.resolve(airbag, "plex-home") == "301"
        assert api.lookup("plex-home", "f2a6c4e812345678") is None
        with api.store.engine.connect() as conn:
            query = text("SELECT provider, value FROM external_id WHERE uuid = :u")
            providers = dict(conn.execute(query, {"u": airbag}).all())
    assert providers == {"spotify": "6PYMdW9W0mJ3dbkG6ZvhVB", "deezer": "3135553"}
    exported = [json.loads(line) for line in idmap("export", "--kind", "track").output.splitlines()]
    track = next(t for t in exported if t["uuid"] == airbag)
    assert (
        track["isrc"] == "GBAYE9700164" and track["artist_name"] == "Radiohead" and track["album_name"] == "OK Computer"
    )

    again = json.loads(idmap("import-soulsync", str(soulsync_db), "--server", "plex-home", "--json").output)
    assert again["new"] == 0 and again["unchanged"] == 4 and again["external_ids"] == 0


def test_legacy_database_without_server_source(idmap: Invoke, tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "legacy.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
        "CREATE TABLE albums (id INTEGER PRIMARY KEY, artist_id INTEGER, title TEXT NOT NULL, year INTEGER);"
        "CREATE TABLE tracks (id INTEGER PRIMARY KEY, album_id INTEGER, artist_id INTEGER, title TEXT NOT NULL,"
        " duration INTEGER, extra_column BLOB);"
        "INSERT INTO artists VALUES (7, 'Björk');"
        "INSERT INTO albums VALUES (8, 7, 'Homogenic', 1997);"
        "INSERT INTO tracks VALUES (9, 8, 7, 'Jóga', 305000, x'00');"
    )
    conn.commit()
    conn.close()
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    idmap("servers", "add", "snapshot", "old", "--url", str(tmp_path / "empty.jsonl"))
    summary = json.loads(idmap("import-soulsync", str(path), "--server", "old", "--json").output)
    assert summary["new"] == 3
    with IdMap.open(db_url) as api:
        assert api.lookup("old", "9") is not None


@pytest.mark.parametrize("content", [b"not a database at all", b""])
def test_not_a_soulsync_database(idmap: Invoke, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    idmap("servers", "add", "snapshot", "s", "--url", str(tmp_path / "empty.jsonl"))
    result = idmap("import-soulsync", str(bad), "--server", "s")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "not a" in result.output


def test_missing_file(idmap: Invoke, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    idmap("servers", "add", "snapshot", "s", "--url", str(tmp_path / "empty.jsonl"))
    result = idmap("import-soulsync", str(tmp_path / "nope.db"), "--server", "s")
    assert result.exit_code == 1 and "not found" in result.output

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from soulsync_idmap.cli import cli


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'idmap.db'}"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return tmp_path / "config.json"


Invoke = Callable[..., Result]


@pytest.fixture
def idmap(db_url: str, config_path: Path) -> Invoke:
    """Run the CLI against this test's database and config; returns the click Result."""

    def run(*args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(cli, ["--db", db_url, "--config", str(config_path), *args], input=input)

    return run


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def small_library() -> list[dict[str, Any]]:
    return [
        {"kind": "artist", "id": "ar1", "name": "Radiohead", "mbid": "a74b1b7f-71a5-4011-9441-d0b5e4122711"},
        {"kind": "artist", "id": "ar2", "name": "Portishead"},
        {"kind": "album", "id": "al1", "name": "OK Computer", "artist_id": "ar1", "year": 1997},
        {"kind": "album", "id": "al2", "name": "Dummy", "artist_id": "ar2", "year": 1994},
        {"kind": "track", "id": "t1", "name": "Airbag", "artist_id": "ar1", "album_id": "al1",
         "track_number": 1, "duration_ms": 284000, "path": "/music/Radiohead/OK Computer/01 Airbag.flac"},
        {"kind": "track", "id": "t2", "name": "Paranoid Android", "artist_id": "ar1", "album_id": "al1",
         "track_number": 2, "duration_ms": 383000, "path": "/music/Radiohead/OK Computer/02 Paranoid Android.flac"},
        {"kind": "track", "id": "t3", "name": "Mysterons", "artist_id": "ar2", "album_id": "al2",
         "track_number": 1, "duration_ms": 306000, "path": "/music/Portishead/Dummy/01 Mysterons.flac"},
    ]  # fmt: skip

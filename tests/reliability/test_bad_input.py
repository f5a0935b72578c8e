"""Absurd and broken input: a clear error or a logged skip, never a crash, never silent loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, write_jsonl

ODD_NAMES = [
    "x" * 100_000,
    "tab\tnew\nline\rbell\x07",
    "مرحبا بالعالم",  # right-to-left
    "\u202eevil\u202c override",
    "🎸🔥 emoji 👩‍🎤",
    "   ",
    "Ω≈ç√∫ ¡™£¢∞§¶",
]


def _sync(idmap: Invoke, snap: Path) -> Any:
    added = idmap("servers", "add", "snapshot", "s", "--url", str(snap), "--no-check")
    assert added.exit_code in (0, 1)
    return idmap("sync", "s", "--full", "--json")


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_odd_names_are_stored_and_exported_intact(idmap: Invoke, tmp_path: Path, name: str) -> None:
    records = [
        {"kind": "artist", "id": "a", "name": name},
        {"kind": "album", "id": "b", "name": name, "artist_id": "a"},
        {"kind": "track", "id": "c", "name": name, "artist_id": "a", "album_id": "b", "path": f"/m/{name[:200]}"},
    ]
    snap = write_jsonl(tmp_path / "s.jsonl", records)
    result = _sync(idmap, snap)
    if not name.strip():
        assert result.exit_code == 1 and "'name' is required" in result.output
        return
    assert result.exit_code == 0, result.output[:500]
    exported = [json.loads(line) for line in idmap("export").output.splitlines()]
    assert sorted(e["name"] for e in exported) == [name, name, name]
    again = json.loads(_sync(idmap, snap).output)[0]
    assert again["unchanged"] == 3 and again["new"] == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"kind":"track","id":"a\\u0000b","name":"x"}', "NUL"),
        ('{"kind":"track","id":"' + "9" * 300 + '","name":"x"}', "longer than 200"),
        ('{"kind":"track","id":"t","name":"x","track_number":"seven"}', "whole number"),
        ('{"kind":"track","id":"t","name":"x","duration_ms":-5}', "out of range"),
        ('{"kind":"song","id":"t","name":"x"}', "'kind' must be"),
        ('{"kind":"track","id":"t","name":"x","added_at":"yesterday"}', "ISO 8601"),
        ('{"kind":"track","id":"t","name":"x\\u0000y"}', "NUL"),
        ("[1, 2, 3]", "expected a JSON object"),
        ("\x00\x00\x00", "not valid JSON"),
    ],
)
def test_malformed_lines_fail_with_their_line_number(idmap: Invoke, tmp_path: Path, line: str, message: str) -> None:
    snap = tmp_path / "s.jsonl"
    snap.write_text('{"kind":"artist","id":"a","name":"A"}\n' + line + "\n", encoding="utf-8")
    result = _sync(idmap, snap)
    assert result.exit_code == 1
    assert ":2:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_invalid_utf8_is_an_error(idmap: Invoke, tmp_path: Path) -> None:
    snap = tmp_path / "s.jsonl"
    snap.write_bytes(b'{"kind":"artist","id":"a","name":"A"}\n{"kind":"artist","id":"b","name":"\xff\xfe"}\n')
    result = _sync(idmap, snap)
    assert result.exit_code == 1 and "UTF-8" in result.output


def test_duplicate_ids_are_skipped_with_a_warning_not_lost_silently(idmap: Invoke, tmp_path: Path) -> None:
    snap = write_jsonl(
        tmp_path / "s.jsonl",
        [{"kind": "artist", "id": "a", "name": "First"}, {"kind": "artist", "id": "a", "name": "Second"}],
    )
    result = _sync(idmap, snap)
    assert result.exit_code == 0
    assert "duplicate artist id 'a' skipped" in result.output
    exported = [json.loads(line) for line in idmap("export").output.splitlines()]
    assert [e["name"] for e in exported] == ["First"]


def test_children_of_unknown_parents_are_still_linked(idmap: Invoke, tmp_path: Path) -> None:
    snap = write_jsonl(tmp_path / "s.jsonl", [{"kind": "track", "id": "t", "name": "Orphan", "album_id": "nope"}])
    assert json.loads(_sync(idmap, snap).output)[0]["new"] == 1

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
    if not name.strip():  # no name: every item skipped and reported, nothing stored
        assert result.exit_code == 0 and "no name" in result.output
        assert json.loads(result.stdout)[0]["skipped"] == 3
        assert idmap("export").output == ""
        return
    assert result.exit_code == 0, result.output[:500]
    exported = [json.loads(line) for line in idmap("export").output.splitlines()]
    stored = name[:500]  # longer names are cut (a longer one cannot be indexed on PostgreSQL)
    assert sorted(e["name"] for e in exported) == [stored, stored, stored]
    again = json.loads(_sync(idmap, snap).stdout)[0]
    assert again["unchanged"] == 3 and again["new"] == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"kind":"song","id":"t","name":"x"}', "'kind' must be"),
        ("[1, 2, 3]", "expected a JSON object"),
        ("\x00\x00\x00", "not valid JSON"),
    ],
)
def test_a_damaged_file_fails_with_the_line_number(idmap: Invoke, tmp_path: Path, line: str, message: str) -> None:
    snap = tmp_path / "s.jsonl"
    snap.write_text('{"kind":"artist","id":"a","name":"A"}\n' + line + "\n", encoding="utf-8")
    result = _sync(idmap, snap)
    assert result.exit_code == 1
    assert ":2:" in result.output and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("line", "message", "skipped"),
    [
        ('{"kind":"track","id":"a\\u0000b","name":"x"}', '"new": 2', 0),  # the NUL removed, as from every server
        ('{"kind":"track","id":"' + "9" * 300 + '","name":"x"}', "longer than 200", 1),
        ('{"kind":"track","id":"t","name":""}', "no title and no file name", 1),
        ('{"kind":"track","id":"t","name":"x","track_number":"seven"}', "whole number, not 'seven'; left out", 0),
        ('{"kind":"track","id":"t","name":"x","duration_ms":-5}', "stored with a repair (duration_ms out of range)", 0),
        ('{"kind":"track","id":"t","name":"x","added_at":"yesterday"}', "ISO 8601 date, not 'yesterday'; left out", 0),
    ],
)
def test_a_bad_item_is_reported_and_the_rest_synced(
    idmap: Invoke, tmp_path: Path, line: str, message: str, skipped: int
) -> None:
    snap = tmp_path / "s.jsonl"
    snap.write_text('{"kind":"artist","id":"a","name":"A"}\n' + line + "\n", encoding="utf-8")
    result = _sync(idmap, snap)
    assert result.exit_code == 0, result.output
    assert message in result.output
    assert "line 2" in result.output or ":2:" in result.output or "repair" in message or skipped == 0
    summary = json.loads(result.stdout)[0]
    assert (summary["skipped"], summary["new"]) == (skipped, 2 - skipped)


def test_nul_characters_in_names_are_removed(idmap: Invoke, tmp_path: Path) -> None:
    snap = tmp_path / "s.jsonl"
    snap.write_text('{"kind":"artist","id":"a","name":"A\\u0000B"}\n', encoding="utf-8")
    assert _sync(idmap, snap).exit_code == 0
    assert [json.loads(line)["name"] for line in idmap("export").output.splitlines()] == ["AB"]


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
    assert "skipped artist a: line 2: duplicate id" in result.output
    assert json.loads(result.stdout)[0]["skipped"] == 1
    exported = [json.loads(line) for line in idmap("export").output.splitlines()]
    assert [e["name"] for e in exported] == ["First"]


def test_children_of_unknown_parents_are_still_linked(idmap: Invoke, tmp_path: Path) -> None:
    snap = write_jsonl(tmp_path / "s.jsonl", [{"kind": "track", "id": "t", "name": "Orphan", "album_id": "nope"}])
    assert json.loads(_sync(idmap, snap).output)[0]["new"] == 1


def test_sync_report_lists_every_skipped_item_and_why(idmap: Invoke, tmp_path: Path) -> None:
    snap = tmp_path / "s.jsonl"
    snap.write_text(
        '{"kind":"artist","id":"a","name":"A"}\n{"kind":"track","id":"","name":"x"}\n'
        '{"kind":"track","id":"t","name":""}\n{"kind":"track","id":"u","name":"Fine"}\n',
        encoding="utf-8",
    )
    idmap("servers", "add", "snapshot", "s", "--url", str(snap))
    report = tmp_path / "skipped.jsonl"
    result = idmap("sync", "s", "--report", str(report))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert [(r["server"], r["kind"], r["native_id"]) for r in rows] == [("s", "track", None), ("s", "track", "t")]
    assert all(r["reason"].startswith("line ") for r in rows)
    again = idmap("sync", "s", "--full", "--json")  # skipped again (still bad), nothing else happens
    summary = json.loads(again.stdout)[0]
    assert (summary["skipped"], summary["new"], summary["gone"]) == (2, 0, 0)

"""`idmap demo` runs end to end on loopback: the newcomer's first command, as a smoke test."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from soulsync_idmap.cli import cli


def test_demo(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "c.json"), "demo", "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "fake Plex on http://127.0.0.1:" in out and "fake Jellyfin on http://127.0.0.1:" in out
    assert "one track, two servers, one UUID" in out
    lines = [line for line in out.splitlines() if "idmap resolve" in line]
    assert len(lines) == 2 and all(line.split("->")[1].strip() not in ("", "None") for line in lines)
    assert "review queue: 1 pending" in out
    assert "servers stopped" in out

"""The README walks a newcomer from `make demo` to their own servers, and its code runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from soulsync_idmap.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_two_set_up_commands() -> None:
    (block,) = _blocks(_section("Set up"), "sh")
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make demo", "make test"]


def test_the_walk_from_the_demo_to_your_own_servers() -> None:
    path = _section("The `idmap` command")
    assert "source .venv/bin/activate" in path and "pipx install ." in path and "uv tool install ." in path
    tour = _section("A tour on the demo servers")
    assert "idmap demo --workdir .demo --serve" in tour
    commands = [line.split("#")[0].strip() for block in _blocks(tour, "sh") for line in block.splitlines()]
    for needed in (
        "idmap servers test demo-plex",
        "idmap sync",
        "idmap review",
        "idmap servers activate demo-jellyfin",
    ):
        assert needed in commands, needed
    assert any(c.startswith("idmap servers set demo-plex --token") for c in commands)
    own = _section("Your own servers")
    for needed in ("idmap servers add plex", "--no-check", "idmap servers set NAME", "idmap servers test NAME",
                   "idmap review", "idmap servers activate"):  # fmt: skip
        assert needed in own, needed


def test_the_tour_runs_on_the_demo_database(tmp_path: Path) -> None:
    """Every tour command that needs no running server, on the database `idmap demo` leaves."""
    workdir = tmp_path / ".demo"
    runner = CliRunner(env={"IDMAP_DB": str(workdir / "demo.db"), "IDMAP_CONFIG": str(workdir / "config.json")})
    shown = runner.invoke(cli, ["demo", "--workdir", str(workdir)])
    assert shown.exit_code == 0, shown.output
    uuid = re.search(r"one UUID\S*: (\S+)", shown.output).group(1)  # type: ignore[union-attr]
    tour = _section("A tour on the demo servers")
    offline = ("servers list", "stats", "lookup", "resolve", "translate", "review list", "export", "servers activate")
    ran = 0
    for block in _blocks(tour, "sh"):
        for line in block.splitlines():
            command = line.split("#")[0].split("|")[0].strip()
            if not command.startswith("idmap ") or not command[6:].startswith(offline):
                continue
            result = runner.invoke(cli, command.replace("UUID", uuid).split()[1:])
            assert result.exit_code == 0, (command, result.output)
            ran += 1
    assert ran >= 8


def test_the_python_snippet_runs(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "c.json"), "demo", "--workdir", str(workdir)])
    assert result.exit_code == 0, result.output
    (snippet,) = _blocks(_section("From Python"), "python")
    env = {**os.environ, "IDMAP_DB": str(workdir / "demo.db")}
    ran = subprocess.run([sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    active, many, translated = ran.stdout.splitlines()
    jelly = "79205e9567776b27d3bb5b4d27b127c6"  # the demo library's ids are the same on every run
    assert (active, translated) == ("343856624042613", jelly) and many.endswith(f": '{jelly}'}}")

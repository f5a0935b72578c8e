"""``idmap demo``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

__all__ = ["register"]


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo database and libraries here (default: 'demo' in the user data dir).")  # fmt: skip
@click.option("--serve", is_flag=True, help="Keep the fake servers running after the demo, until Ctrl-C.")
def demo(workdir: Path | None, serve: bool) -> None:
    """Start bundled fake Plex and Jellyfin servers on loopback, sync both, show a merge and a resolve.

    The demo's database stays in the work folder (each run starts it afresh); the demo ends
    with commands to try on it. It never touches your own database.
    """
    from ..demo import run_demo

    run_demo(Console(soft_wrap=True, highlight=False), workdir, serve=serve)


def register(group: click.Group) -> None:
    group.add_command(demo)

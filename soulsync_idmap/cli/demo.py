"""``idmap demo``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

__all__ = ["register"]


@click.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo database and libraries here (default: a temporary folder).")  # fmt: skip
def demo(workdir: Path | None) -> None:
    """Start bundled fake Plex and Jellyfin servers on loopback, sync both, show a merge and a resolve."""
    from ..demo import run_demo

    run_demo(Console(soft_wrap=True), workdir)


def register(group: click.Group) -> None:
    group.add_command(demo)

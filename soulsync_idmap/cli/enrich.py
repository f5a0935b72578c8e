"""``idmap enrich artist-images``."""

from __future__ import annotations

import click

from .context import AppContext, emit_json, pass_app

__all__ = ["register"]


@click.group()
def enrich() -> None:
    """Add metadata from outside services to the servers."""


@enrich.command("artist-images")
@click.option("--server", "server", help="Server to enrich (default: the active one).")
@click.option("--dry-run", is_flag=True, help="Show what would be uploaded; change nothing.")
@click.option("--limit", type=click.IntRange(1), help="At most this many artists.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was uploaded, planned and skipped as one JSON object."
)
@pass_app
def artist_images(app: AppContext, server: str | None, dry_run: bool, limit: int | None, as_json: bool) -> None:
    """Find artists' images on Spotify and upload them to the server."""
    # Imported here: spotipy and requests cost a quarter second on every other command.
    from ..enrich import enrich_artist_images, spotify_from_config

    name = server or (app.store.active_server().name if app.store.active_server() else None)  # type: ignore[union-attr]
    if name is None:
        raise click.ClickException("no server given and none active")
    report = enrich_artist_images(app.store, app.config, name, spotify_from_config(app.config), dry_run=dry_run,
                                  limit=limit)  # fmt: skip
    if as_json:
        emit_json({"uploaded": report.uploaded, "planned": report.planned, "unsure": report.unsure,
                   "no_image": report.no_image, "failed": report.failed})  # fmt: skip
        return
    for line in report.planned:
        click.echo(f"would upload: {line}")
    for artist, why in report.unsure:
        click.echo(f"skipped (unsure): {artist}: {why}")
    for artist, why in report.failed:
        click.echo(f"failed: {artist}: {why}", err=True)
    click.echo(f"uploaded {len(report.uploaded)}, planned {len(report.planned)}, unsure {len(report.unsure)}, "
               f"without image {len(report.no_image)}, failed {len(report.failed)}")  # fmt: skip


def register(group: click.Group) -> None:
    group.add_command(enrich)

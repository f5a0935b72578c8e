"""The ``idmap`` command line. Commands are thin: parse, call the library, print."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from ..errors import IdmapError
from .context import AppContext

__all__ = ["cli", "main"]

log = logging.getLogger("soulsync_idmap.cli")


class IdmapGroup(click.Group):
    """Turns every library error into a one-line message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IdmapError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
        except SQLAlchemyError as exc:
            log.debug("database error", exc_info=True)
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"database error: {first}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug: still one line for the user, the traceback with -vv
            log.debug("unexpected error", exc_info=True)
            raise click.ClickException(f"unexpected {type(exc).__name__}: {exc} (run with -vv for details)") from None


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(verbose: int) -> None:
    root = logging.getLogger("soulsync_idmap")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    root.propagate = False


@click.group(cls=IdmapGroup)
@click.option(
    "--db",
    "db_url",
    envvar="IDMAP_DB",
    metavar="URL",
    help="Mapping database URL (default: a SQLite file in the user data dir; env IDMAP_DB).",
)
@click.option(
    "--config",
    "config_path",
    envvar="IDMAP_CONFIG",
    type=click.Path(dir_okay=False),
    help="Config file with secrets and tunables (env IDMAP_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="soulsync-idmap")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, config_path: str | None, verbose: int) -> None:
    """Permanent UUIDs for a music library across Plex, Jellyfin, Emby and Subsonic."""
    _setup_logging(verbose)
    app = AppContext(db_url=db_url, config_path=config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)


def _register() -> None:
    from . import report, servers, sync, translate

    cli.add_command(servers.servers)
    cli.add_command(sync.sync)
    for command in (translate.resolve, translate.lookup, translate.translate):
        cli.add_command(command)
    cli.add_command(report.export)
    cli.add_command(report.stats)
    for optional in ("review", "demo", "enrich", "importer", "changes", "serve"):
        try:
            module = __import__(f"{__name__}.{optional}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{optional}":
                raise
            continue
        module.register(cli)


_register()


def main() -> None:
    cli(prog_name="idmap")

"""The ``idmap`` command line. Commands are thin: parse, call the library, print.

Conventions every command follows: errors are one line on stderr with exit code 1, usage
errors exit 2, Ctrl-C exits 130 (a running sync is recorded as interrupted), a closed pipe
(``idmap export | head``) ends the command silently, ``-h`` is ``--help``, and ``-v``/``-vv``
may stand anywhere on the command line.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from ..errors import IdmapError
from .context import AppContext

__all__ = ["cli", "main"]

log = logging.getLogger("soulsync_idmap.cli")
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


def _verbosity_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Split ``-v``/``-vv``/``--verbose`` (before any ``--``) from the other arguments."""
    flags: list[str] = []
    rest: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            rest.extend(args[index:])
            break
        if arg == "--verbose" or (arg.startswith("-v") and set(arg[1:]) == {"v"}):
            flags.append(arg)
        else:
            rest.append(arg)
    return flags, rest


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's buffer)
        pass


class IdmapGroup(click.Group):
    """Turns every library error into a one-line message and exit code 1."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # the top-level group: -v counts wherever it stands
            flags, rest = _verbosity_flags(args)
            args = flags + rest
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IdmapError as exc:
            raise click.ClickException(str(exc)) from None
        except BrokenPipeError:
            _silence_stdout()
            raise click.exceptions.Exit(0) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
        except SQLAlchemyError as exc:
            log.debug("database error", exc_info=True)
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"database error: {first}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
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


@click.group(cls=IdmapGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--db",
    "db_url",
    envvar="IDMAP_DB",
    metavar="URL|PATH",
    help="Mapping database: a URL (sqlite:///abs/path.db, postgresql+psycopg://...) or a plain file path "
    "(default: a SQLite file in the user data dir; env IDMAP_DB). Only 'servers add' creates a missing "
    "database.",
)
@click.option(
    "--config",
    "config_path",
    envvar="IDMAP_CONFIG",
    type=click.Path(dir_okay=False),
    help="Config file with secrets and tunables (env IDMAP_CONFIG).",
)
@click.option(
    "-v", "--verbose", count=True, help="Log phases and decisions (-v), and every request (-vv); anywhere on the line."
)
@click.version_option(package_name="soulsync-idmap")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, config_path: str | None, verbose: int) -> None:
    """Permanent UUIDs for a music library across Plex, Jellyfin, Emby and Subsonic.

    Shell completion (commands, options and server names), one line in the shell's start file:

    \b
      bash (~/.bashrc):  eval "$(_IDMAP_COMPLETE=bash_source idmap)"
      zsh (~/.zshrc):    eval "$(_IDMAP_COMPLETE=zsh_source idmap)"
      fish (config.fish): _IDMAP_COMPLETE=fish_source idmap | source
    """
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

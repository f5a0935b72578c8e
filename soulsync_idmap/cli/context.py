"""Shared state of one CLI invocation (``ctx.obj``): opened lazily, closed at the end.

Which database: ``--db`` / ``IDMAP_DB`` (a URL or a plain file path), else the default file
in the user data dir. Only ``servers add`` creates a missing one, and says so on stderr (``sync``
and ``import-soulsync`` need a registered server, so a database without one is a typo); every
other command refuses a database that does not exist, so a mistyped ``--db`` can never pass for
an empty library.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

from ..api import IdMap
from ..config import Config
from ..errors import StoreError
from ..mapping.db import database_url, default_db_url, describe_url, sqlite_path
from ..mapping.store import Store

__all__ = ["AppContext", "complete_server", "credentials_hint", "emit_json", "pass_app"]

log = logging.getLogger("soulsync_idmap.cli")


class AppContext:
    def __init__(self, db_url: str | None, config_path: str | None) -> None:
        self.db_url = database_url(db_url) if db_url else default_db_url()
        self.config_path = Path(config_path) if config_path else None
        self._store: Store | None = None
        self._config: Config | None = None

    @property
    def database(self) -> str:
        """The database in words: the file path, or the URL without its password."""
        return describe_url(self.db_url)

    @property
    def store(self) -> Store:
        """The existing database; a missing SQLite file is an error naming the path."""
        if self._store is None:
            path = sqlite_path(self.db_url)
            if path is not None and not path.exists():
                hint = (
                    "; sqlite:/// takes a relative path, sqlite://// an absolute one" if not path.is_absolute() else ""
                )
                raise StoreError(
                    f"no database at {path.resolve()} (check --db / IDMAP_DB{hint}; "
                    "'idmap servers add' creates a new one)"
                )
            self._store = self._open()
        return self._store

    def writable_store(self) -> Store:
        """The database, created if missing (announced on stderr)."""
        if self._store is None:
            path = sqlite_path(self.db_url)
            if path is not None and not path.exists():
                self._store = self._open()
                click.echo(f"created a new database at {path.resolve()}", err=True)
                return self._store
        return self.store

    def _open(self) -> Store:
        store = Store.open(self.db_url)
        log.info("database: %s", self.database)
        return store

    @property
    def idmap(self) -> IdMap:
        return IdMap(self.store)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config.load(self.config_path)
        return self._config

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_app = click.make_pass_decorator(AppContext)


def emit_json(value: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def is_terminal() -> bool:
    return sys.stderr.isatty()


def complete_server(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of server names from the database the command line names (never creating one)."""
    root = ctx.find_root()
    given = root.params.get("db_url")
    try:
        url = database_url(given) if given else default_db_url()
        path = sqlite_path(url)
        if path is not None and not path.exists():
            return []
        store = Store.open(url)
        try:
            names = [s.name for s in store.servers()]
        finally:
            store.close()
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def credentials_hint(name: str, kind: str) -> str:
    """How to give server ``name`` new credentials, in the words its kind takes."""
    if kind == "plex":
        return f"'idmap servers set {name} --token ...'"
    if kind == "subsonic":
        return f"'idmap servers set {name} --user ... --password ...'"
    return f"'idmap servers set {name} --token ...' (or --user ... --password ...)"

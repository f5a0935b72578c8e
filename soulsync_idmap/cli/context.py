"""Shared state of one CLI invocation (``ctx.obj``): opened lazily, closed at the end."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..api import IdMap
from ..config import Config
from ..mapping.store import Store

__all__ = ["AppContext", "emit_json", "pass_app"]


class AppContext:
    def __init__(self, db_url: str | None, config_path: str | None) -> None:
        self.db_url = db_url
        self.config_path = Path(config_path) if config_path else None
        self._store: Store | None = None
        self._config: Config | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.db_url)
        return self._store

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

"""The config file: secrets and tunables that do not belong in the database.

Tokens and passwords never go into the mapping database (a host app may share it, back
it up or ship it). They live in a JSON config file written with mode 0600, or in the
environment: ``IDMAP_<NAME>_TOKEN`` / ``IDMAP_<NAME>_PASSWORD`` where NAME is the server
name upper-cased with every other character turned into ``_``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError

__all__ = ["Config", "default_config_path", "env_secret"]


def default_config_path() -> Path:
    env = os.environ.get("IDMAP_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("soulsync-idmap", appauthor=False)) / "config.json"


def env_secret(server: str, what: str) -> str | None:
    """The secret ``what`` (TOKEN or PASSWORD) of ``server`` from the environment."""
    key = "IDMAP_" + re.sub(r"[^A-Z0-9]", "_", server.upper()) + "_" + what.upper()
    return os.environ.get(key) or None


@dataclass
class Config:
    """The parsed config file. ``save`` writes it atomically with mode 0600."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Config:
        path = path or default_config_path()
        if not path.exists():
            return cls(path, {})
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
        return cls(path, data)

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise ConfigError(f"cannot write config file {self.path}: {exc.strerror}") from None

    # -- secrets ---------------------------------------------------------------------
    def secrets(self, server: str) -> dict[str, str]:
        stored = self.data.get("servers", {}).get(server, {})
        result = {k: v for k, v in stored.items() if isinstance(v, str)}
        for what in ("token", "password"):
            value = env_secret(server, what)
            if value:
                result[what] = value
        return result

    def set_secrets(self, server: str, **secrets: str | None) -> None:
        entry = {k: v for k, v in secrets.items() if v}
        servers = self.data.setdefault("servers", {})
        if entry:
            servers[server] = entry
        else:
            servers.pop(server, None)

    def forget(self, server: str) -> None:
        self.data.get("servers", {}).pop(server, None)

    # -- tunables --------------------------------------------------------------------
    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"config file {self.path}: '{name}' must be an object")
        return value

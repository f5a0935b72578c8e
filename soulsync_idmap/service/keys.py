"""The service's API key: made once, kept in the 0600 config file, never in the database."""

from __future__ import annotations

import hmac
import secrets

from ..config import Config
from ..errors import ConfigError

__all__ = ["api_key", "init_key", "key_matches"]


def api_key(config: Config) -> str:
    """The configured key; a ConfigError telling how to make one when there is none."""
    key = config.section("serve").get("api_key")
    if not isinstance(key, str) or len(key) < 16:
        raise ConfigError(f"no API key in {config.path}; create one with 'idmap serve --init-key'")
    return key


def init_key(config: Config) -> str:
    """The existing key, or a new random one saved in the config file."""
    key = config.section("serve").get("api_key")
    if isinstance(key, str) and len(key) >= 16:
        return key
    key = secrets.token_urlsafe(32)
    config.data.setdefault("serve", {})["api_key"] = key
    config.save()
    return key


def key_matches(given: str | None, key: str) -> bool:
    """Constant-time comparison (a timing difference must not reveal the key)."""
    return given is not None and hmac.compare_digest(given.encode(), key.encode())

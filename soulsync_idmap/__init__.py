"""soulsync-idmap: one permanent UUID per artist, album and track across media servers."""

from __future__ import annotations

from .api import IdMap
from .errors import (
    AuthError,
    BadResponse,
    ConfigError,
    IdmapError,
    NotFound,
    ReviewError,
    ServerError,
    ServerUnreachable,
    SnapshotError,
    StoreError,
    SyncLocked,
    Unsupported,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BadResponse",
    "ConfigError",
    "IdMap",
    "IdmapError",
    "NotFound",
    "ReviewError",
    "ServerError",
    "ServerUnreachable",
    "SnapshotError",
    "StoreError",
    "SyncLocked",
    "Unsupported",
    "__version__",
]

"""The sync engine: servers -> matching -> mapping store."""

from __future__ import annotations

from .batch import Counts
from .engine import SyncOptions, SyncResult, sync_server, sync_servers
from .lock import SyncLock

__all__ = ["Counts", "SyncLock", "SyncOptions", "SyncResult", "sync_server", "sync_servers"]

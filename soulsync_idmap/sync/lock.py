"""One sync at a time per mapping database.

SQLite file: an exclusive ``flock`` on ``<db>.sync.lock`` (released by the kernel if
the process dies, so a killed sync never leaves a stale lock). PostgreSQL: a session
advisory lock on a dedicated connection. In-memory SQLite: a process-wide lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import Connection, text

from ..errors import SyncLocked
from ..mapping.db import sqlite_path
from ..mapping.store import Store

__all__ = ["SyncLock"]

_ADVISORY_KEY = 0x1D_3A_50_C5  # "idmap sync" — any constant shared by all processes
_memory_locks: dict[int, threading.Lock] = {}


class SyncLock:
    """Context manager; ``wait`` seconds to wait for a running sync (0: fail at once)."""

    def __init__(self, store: Store, wait: float = 0.0) -> None:
        self.store = store
        self.wait = wait
        self._file: IO[str] | None = None
        self._conn: Connection | None = None
        self._mem: threading.Lock | None = None

    def __enter__(self) -> SyncLock:
        deadline = time.monotonic() + self.wait
        while not self._try():
            if time.monotonic() >= deadline:
                raise SyncLocked(f"another sync is running on this database{self._holder()}; try again later")
            time.sleep(0.2)
        return self

    def _try(self) -> bool:
        path = sqlite_path(self.store.url)
        if self.store.dialect == "postgresql":
            if self._conn is None:
                self._conn = self.store.engine.connect()
            got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}).scalar())
            self._conn.commit()
            return got
        if path is not None:
            lock_path = Path(str(path) + ".sync.lock")
            handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lock's life
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._file = handle
            return True
        lock = _memory_locks.setdefault(id(self.store.engine), threading.Lock())
        if lock.acquire(blocking=False):
            self._mem = lock
            return True
        return False

    def _holder(self) -> str:
        path = sqlite_path(self.store.url)
        if path is None:
            return ""
        try:
            pid = Path(str(path) + ".sync.lock").read_text(encoding="utf-8").strip()
        except OSError:
            return ""
        return f" (process {pid})" if pid else ""

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_KEY})
            self._conn.commit()
            self._conn.close()
            self._conn = None
        if self._mem is not None:
            self._mem.release()
            self._mem = None

"""The state of one ``idmap serve`` process: the store, the key, the sync runner, the triggers."""

from __future__ import annotations

import logging
import threading
import time
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy.engine import make_url

from ..config import Config
from ..mapping.db import reader
from ..mapping.store import Store
from ..mapping.translate import PointReader
from .keys import api_key
from .runner import SyncRunner
from .triggers import Debouncer, Scheduler, Watches, parse_duration

__all__ = ["ApiError", "Service"]

log = logging.getLogger(__name__)
ACTIVE_TTL = 2.0  # seconds a resolve without ?server= trusts the active server it read


class ApiError(Exception):
    """An answer other than 200: ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _version() -> str:
    try:
        return version("soulsync-idmap")
    except PackageNotFoundError:
        return "unknown"


class Service:
    """Everything the routes share. ``start``/``stop`` run the background threads.

    ``live=False`` leaves out the notification sockets and the schedule (the routes and
    the sync runner still work): for tests of the API alone.
    """

    def __init__(self, store: Store, config: Config, *, live: bool = True) -> None:
        self.store = store
        self.reader = reader(store.engine)  # point queries: autocommit on PostgreSQL
        self.points = PointReader(self.reader)  # the event loop's point queries, on a kept connection
        self.config = config
        self.key = api_key(config)
        self.live = live
        self.version = _version()
        self.database = make_url(store.url).render_as_string(hide_password=True)
        settings = config.section("serve")
        quiet = parse_duration(settings.get("debounce", 2), "serve.debounce")
        max_delay = parse_duration(settings.get("debounce_max", 60), "serve.debounce_max")
        self.runner = SyncRunner(store, config)
        self.debouncer = Debouncer(self._triggered, quiet=quiet, max_delay=max_delay)
        self.scheduler = Scheduler.from_config(store, self.runner, config)
        self.watches = Watches(store, config, self.debouncer)
        self._servers: dict[str, int] = {}
        self._names: dict[int | None, str] = {}
        self._active: tuple[float, tuple[str, int] | None] | None = None
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set on SIGTERM/Ctrl-C: open event streams end at once

    def start(self) -> None:
        self.runner.start()
        self.debouncer.start()
        if self.live:
            self.scheduler.start()
            self.watches.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.live:
            self.watches.stop()
            self.scheduler.stop()
        self.debouncer.stop()
        self.runner.stop()
        self.points.close()

    def _triggered(self, server: str, reason: str) -> None:
        self.runner.submit([server], full=False, reason=reason)

    # -- servers, cached: a resolve must not read the server table ------------------------
    def _refresh(self) -> None:
        servers = self.store.servers()
        with self._lock:
            self._servers = {s.name: s.id for s in servers if s.id is not None}
            self._names = {s.id: s.name for s in servers}

    def server_id(self, name: str | None) -> tuple[str, int]:
        """(name, id) of the named server, or of the active one when ``name`` is None."""
        if name is None:
            now = time.monotonic()
            if self._active is None or now - self._active[0] > ACTIVE_TTL:
                active = self.store.active_server()
                self._active = (now, (active.name, active.id) if active and active.id is not None else None)
            if self._active[1] is None:
                raise ApiError(400, "no_server", "no active server; name one with ?server= or activate one")
            return self._active[1]
        found = self._servers.get(name)
        if found is None:
            self._refresh()
            found = self._servers.get(name)
        if found is None:
            known = ", ".join(sorted(self._servers)) or "none"
            raise ApiError(404, "unknown_server", f"unknown server {name!r} (known: {known})")
        return name, found

    def server_names(self) -> dict[int | None, str]:
        self._refresh()
        return dict(self._names)

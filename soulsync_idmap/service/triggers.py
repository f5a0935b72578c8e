"""What starts a sync besides a request: notifications, webhooks, schedules.

Every trigger of a server goes through ``Debouncer.poke``: the incremental sync starts
``quiet`` seconds after the last notification, or ``max_delay`` seconds after the first
one of a burst, whichever comes first; a scan that sends 500 notifications becomes one
or two syncs. ``Scheduler`` queues a sync of each server whose ``sync_every`` has passed
since its last sync (a server without push, such as Subsonic, is kept fresh this way);
whether that sync is the weekly full pass is the engine's choice, as on the command line.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..config import Config
from ..errors import ConfigError, IdmapError
from ..mapping.store import Store, utcnow
from ..servers import open_server
from ..servers.watch import Watch, watch_server
from ..sync.adapters import server_config
from .runner import SyncRunner

__all__ = ["Debouncer", "Scheduler", "Watches", "parse_duration"]

log = logging.getLogger(__name__)
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any, what: str) -> float:
    """Seconds of ``value``: a number of seconds or a string such as "90s", "15m", "6h", "1d"."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"{what}: {value!r} is not a duration (e.g. 90s, 15m, 6h, 1d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


class Debouncer:
    """Turns bursts of triggers per server into single calls of ``fire(server, reason)``."""

    def __init__(self, fire: Callable[[str, str], None], quiet: float = 5.0, max_delay: float = 60.0) -> None:
        self.fire = fire
        self.quiet = quiet
        self.max_delay = max_delay
        self.pokes = 0
        self._pending: dict[str, tuple[float, float, str]] = {}  # server -> (first, last, reason)
        self._lock = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="debouncer", daemon=True)

    def start(self) -> Debouncer:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._thread.join(5)

    def poke(self, server: str, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.pokes += 1
            first = self._pending[server][0] if server in self._pending else now
            self._pending[server] = (first, now, reason)
            self._lock.notify_all()

    def _due(self, first: float, last: float) -> float:
        return min(last + self.quiet, first + self.max_delay)

    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                now = time.monotonic()
                ready = [s for s, (first, last, _r) in self._pending.items() if self._due(first, last) <= now]
                fired = [(s, self._pending.pop(s)[2]) for s in ready]
                if not fired:
                    waits = [self._due(f, last) - now for f, last, _r in self._pending.values()]
                    self._lock.wait(min(waits) if waits else None)
                    continue
            for server, reason in fired:
                try:
                    self.fire(server, reason)
                except Exception:
                    log.exception("triggered sync of %s could not be queued", server)


class Scheduler:
    """Queues a sync of each server whose ``sync_every`` (config ``serve.sync_every``) has passed."""

    def __init__(self, store: Store, runner: SyncRunner, every: dict[str, float], tick: float = 5.0) -> None:
        self.store = store
        self.runner = runner
        self.every = every
        self.tick = tick
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    @classmethod
    def from_config(cls, store: Store, runner: SyncRunner, config: Config) -> Scheduler:
        raw = config.section("serve").get("sync_every", {})
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {config.path}: 'serve.sync_every' must map server names to durations")
        every = {name: parse_duration(value, f"serve.sync_every.{name}") for name, value in raw.items()}
        return cls(store, runner, every)

    def start(self) -> Scheduler:
        if self.every:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def due(self) -> list[str]:
        """The servers whose last sync (watermark) is older than their period, or never synced."""
        now = utcnow()
        servers = {s.name: s for s in self.store.servers()}
        due = []
        for name, seconds in self.every.items():
            server = servers.get(name)
            if server is None:
                continue
            if server.watermark is None or now - server.watermark >= timedelta(seconds=seconds):
                due.append(name)
        return due

    def _loop(self) -> None:
        queued: dict[str, Any] = {}
        while True:
            try:
                for name in self.due():
                    job = queued.get(name)
                    if job is None or job.done:  # one scheduled job per server at a time
                        queued[name] = self.runner.submit([name], reason="schedule")
            except IdmapError as exc:
                log.warning("schedule: %s", exc)
            except Exception:
                log.exception("schedule failed")
            if self._stopped.wait(self.tick):
                return


class Watches:
    """The notification sockets of every Plex, Jellyfin and Emby server, feeding a Debouncer."""

    def __init__(self, store: Store, config: Config, debouncer: Debouncer, retry: float = 5.0) -> None:
        self.store = store
        self.config = config
        self.debouncer = debouncer
        self.retry = retry
        self.watches: dict[str, Watch] = {}

    def start(self) -> Watches:
        for server in self.store.servers():
            if server.kind not in ("plex", "jellyfin", "emby"):
                continue
            try:
                adapter = open_server(server_config(server, self.config.secrets(server.name)))
            except IdmapError as exc:
                log.warning("%s: cannot follow its notifications: %s", server.name, exc)
                continue
            watch = watch_server(adapter, self._changed, self.retry)
            if watch is not None:
                self.watches[server.name] = watch
        return self

    def _changed(self, server: str, detail: str) -> None:
        log.debug("%s: %s", server, detail)
        self.debouncer.poke(server, "websocket")

    def stop(self) -> None:
        for watch in self.watches.values():
            watch.stop(timeout=2)
            watch.adapter.close()

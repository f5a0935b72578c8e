"""Live notifications from a media server: its own websocket, no plugin and no Plex Pass.

- Plex: the notification socket (``/:/websockets/notifications``) through plexapi's
  ``AlertListener``; a ``timeline`` entry of the music section with state 5 (the item
  was processed) or 9 (deleted) is a change.
- Jellyfin / Emby: ``/socket`` (Emby ``/embywebsocket``); a ``LibraryChanged`` message
  with ItemsAdded, ItemsUpdated or ItemsRemoved is a change. The server asks for a
  ``KeepAlive`` message (``ForceKeepAlive``, in seconds), sent at half that period.

A ``Watch`` runs one daemon thread that reconnects (after ``retry`` seconds) whenever
the socket closes or the server cannot be reached, and calls ``on_change(server name,
detail)`` for every change; deciding what to do with a burst of them is the caller's.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from .base import MediaServer

__all__ = ["OnChange", "Watch", "watch_server"]

log = logging.getLogger(__name__)
OnChange = Callable[[str, str], None]
PLEX_TYPES = {8: "artist", 9: "album", 10: "track"}
PLEX_STATES = {5: "processed", 9: "deleted"}


class Watch:
    """Follows one server's notifications in a thread; ``stop`` ends it."""

    def __init__(self, adapter: MediaServer, on_change: OnChange, retry: float = 5.0) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.on_change = on_change
        self.retry = retry
        self._stopped = threading.Event()
        self._socket: Any = None  # the websocket-client app of the current connection
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)

    def start(self) -> Watch:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        app = self._socket
        if app is not None:
            app.close()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except Exception as exc:  # unreachable, refused, a bad answer: try again later
                log.warning("%s: no notifications (%s); retrying in %.0f s", self.name, exc, self.retry)
            self._stopped.wait(self.retry)

    def _listen(self) -> None:
        raise NotImplementedError

    def _changed(self, detail: str) -> None:
        try:
            self.on_change(self.name, detail)
        except Exception:  # the caller's bug must not end the watch
            log.exception("%s: change handler failed", self.name)


class PlexWatch(Watch):
    def _listen(self) -> None:
        from plexapi.alert import AlertListener

        from .plex import PlexServer

        adapter = self.adapter
        assert isinstance(adapter, PlexServer)
        sections = set(adapter._sections())
        errors: list[Any] = []
        listener = AlertListener(
            adapter.server, lambda data: self._alert(data, sections), lambda error: errors.append(error)
        )
        listener.start()
        while listener.is_alive() and listener._ws is None:
            listener.join(0.05)
        self._socket = listener._ws
        while listener.is_alive() and not self._stopped.is_set():
            listener.join(0.5)
        if listener.is_alive() and self._socket is not None:
            self._socket.close()
        self._socket = None
        if errors and not self._stopped.is_set():
            raise RuntimeError(str(errors[-1]) or type(errors[-1]).__name__)

    def _alert(self, data: dict[str, Any], sections: set[str]) -> None:
        if data.get("type") != "timeline":
            return
        for entry in data.get("TimelineEntry") or ():
            if entry.get("identifier") != "com.plexapp.plugins.library":
                continue
            kind, state = PLEX_TYPES.get(entry.get("type")), PLEX_STATES.get(entry.get("state"))
            if kind and state and str(entry.get("sectionID")) in sections:
                self._changed(f"{kind} {entry.get('itemID')} {state}")


class JellyfinWatch(Watch):
    def _listen(self) -> None:
        import websocket

        from .jellyfin import JellyfinServer

        adapter = self.adapter
        assert isinstance(adapter, JellyfinServer)
        if adapter._token is None:
            adapter._login()
        token = adapter._token or ""
        base = adapter._base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        path = "/embywebsocket" if adapter.kind == "emby" else "/socket"
        url = f"{base}{path}?api_key={quote(token, safe='')}&deviceId={adapter._device_id}"
        headers = [f"{k}: {v}" for k, v in adapter._headers().items()]
        keepalive = threading.Event()
        errors: list[Any] = []

        def on_message(app: Any, message: str) -> None:
            try:
                data = json.loads(message)
            except ValueError:
                return
            kind = data.get("MessageType")
            if kind == "ForceKeepAlive":
                period = float(data.get("Data") or 60) / 2
                threading.Thread(target=self._keep_alive, args=(app, period, keepalive), daemon=True).start()
            elif kind == "LibraryChanged":
                body = data.get("Data") or {}
                for key in ("ItemsAdded", "ItemsUpdated", "ItemsRemoved"):
                    if body.get(key):
                        self._changed(f"{key} {len(body[key])}")

        app = websocket.WebSocketApp(
            url, header=headers, on_message=on_message, on_error=lambda _ws, error: errors.append(error),
        )  # fmt: skip
        self._socket = app
        if not self._stopped.is_set():
            app.run_forever()
        keepalive.set()
        self._socket = None
        if errors and not self._stopped.is_set():
            raise RuntimeError(str(errors[-1]) or type(errors[-1]).__name__)

    def _keep_alive(self, app: Any, period: float, done: threading.Event) -> None:
        while not done.wait(period):
            try:
                app.send(json.dumps({"MessageType": "KeepAlive"}))
            except Exception:  # closed meanwhile: the watch reconnects
                return


def watch_server(adapter: MediaServer, on_change: OnChange, retry: float = 5.0) -> Watch | None:
    """A started ``Watch`` of ``adapter``'s notifications, or None for a server kind without push."""
    if adapter.kind == "plex":
        return PlexWatch(adapter, on_change, retry).start()
    if adapter.kind in ("jellyfin", "emby"):
        return JellyfinWatch(adapter, on_change, retry).start()
    return None

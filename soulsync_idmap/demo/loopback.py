"""A small threaded HTTP server on 127.0.0.1 with a request log and fault injection.

The fake Plex and Jellyfin servers subclass ``LoopbackServer`` and implement
``handle(request) -> Response``. Faults are queued with ``inject`` and consumed one per
request, so a test can say "the next three requests fail with 503" and see the adapter
recover, or "drop the connection in the middle of the next page", or "go away for ten
seconds" (``outage``: the server stops listening, drops every open connection, and comes
back on the same port).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from .websocket import WebSocketHub

__all__ = ["Fault", "LoopbackServer", "Request", "Response"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_path: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        """A query parameter, matched case-insensitively (as Jellyfin does)."""
        lowered = name.lower()
        for key, value in self.query.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """One injected failure, consumed by the next matching request.

    kind: ``status`` answers ``status`` (e.g. 500, 503, 429, 401); ``delay`` sleeps
    ``seconds`` before answering normally; ``drop`` sends the headers and half of the
    body, then closes the connection; ``refuse`` closes the connection at once;
    ``truncate`` answers 200 with the first half of the body as a whole response (its
    Content-Length says so: a proxy that cut the body); ``empty`` answers what the server's
    ``empty`` makes of the answer (a listing page with no items, the total unchanged);
    ``outage`` closes the connection and stops the server for ``seconds``, then starts it
    again on the same port. ``path_prefix`` limits the fault to requests whose path starts
    with it, ``query`` to requests with these query parameters or headers (names in any case).
    """

    kind: Literal["status", "delay", "drop", "refuse", "truncate", "empty", "outage"]
    status: int = 500
    seconds: float = 0.0
    path_prefix: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()

    def matches(self, request: Request) -> bool:
        return request.path.startswith(self.path_prefix) and all(
            v in (request.param(k), request.header(k)) for k, v in self.query
        )


class LoopbackServer:
    """Base class: start with ``with Server(...) as srv:`` and use ``srv.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: list[Request] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.outages: list[threading.Thread] = []

    # -- to override -------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def empty(self, request: Request, response: Response) -> Response:
        """``response`` as a listing page with no items (the ``empty`` fault); servers override it."""
        return Response(response.status, b"", response.content_type, response.headers)

    def websocket_hub(self, request: Request) -> WebSocketHub | None:
        """The hub that serves ``request`` as a websocket (demo/websocket.py), or None."""
        return None

    # -- control -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def _next_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.matches(request):
                    del self._faults[index]
                    return fault
        return None

    def outage(self, seconds: float) -> threading.Thread:
        """Stop now (every open connection dropped) and start again on the same port after ``seconds``."""

        def down_and_up() -> None:
            self.stop()
            time.sleep(seconds)
            self.start()

        thread = threading.Thread(target=down_and_up, daemon=True)
        self.outages.append(thread)
        thread.start()
        return thread

    def start(self) -> LoopbackServer:
        server = self
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("fake servers listen on loopback only")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def _cut(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    raw_path=self.path,
                )
                with server._lock:
                    server.requests.append(request)
                hub = server.websocket_hub(request)
                if hub is not None:  # an upgrade the fake accepts: the hub owns the connection now
                    self.close_connection = True
                    hub.serve(self.connection, self.rfile, request)
                    return
                fault = server._next_fault(request)
                if fault is not None and fault.kind in ("refuse", "outage"):
                    self._cut()
                    if fault.kind == "outage":
                        server.outage(fault.seconds)
                    return
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.seconds)
                if fault is not None and fault.kind == "status":
                    response = Response(
                        status=fault.status,
                        body=b"injected failure",
                        content_type="text/plain",
                        headers=dict(fault.headers),
                    )
                else:
                    try:
                        response = server.handle(request)
                    except Exception as exc:  # a bug in a fake must show, not hang the client
                        response = Response(500, repr(exc).encode(), "text/plain")
                if fault is not None and fault.kind == "empty":
                    response = server.empty(request, response)
                if fault is not None and fault.kind == "truncate":
                    response = Response(200, response.body[: len(response.body) // 2], response.content_type)
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if fault is not None and fault.kind == "drop":
                    self.wfile.write(response.body[: max(1, len(response.body) // 2)])
                    self.wfile.flush()
                    self._cut()
                    return
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = _serve
            do_POST = _serve
            do_PUT = _serve
            do_DELETE = _serve
            do_HEAD = _serve

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection, as a stopped server process does."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for thread in self.outages:
            thread.join()
        self.stop()

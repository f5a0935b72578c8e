"""Server-side websockets (RFC 6455) for the fake servers: enough to push notifications.

A ``WebSocketHub`` takes over an upgraded HTTP connection of ``LoopbackServer``
(handshake, then frames), answers pings and closes, keeps the client's text messages,
and ``broadcast`` sends a text message to every client connected. Text frames only,
no extensions: what Plex's notification socket and Jellyfin's ``/socket`` need.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import struct
import threading
from io import BufferedIOBase

from .loopback import Request

__all__ = ["WebSocketHub"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


def is_upgrade(request: Request) -> bool:
    return (request.header("upgrade") or "").lower() == "websocket" and bool(request.header("sec-websocket-key"))


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return head + payload


def _read_frame(stream: BufferedIOBase) -> tuple[int, bytes] | None:
    """(opcode, payload) of the next frame, None at the end of the stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode, size = head[0] & 0x0F, head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", stream.read(2))[0]
    elif size == 127:
        size = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b""
    payload = stream.read(size)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, opcode: int, payload: bytes) -> bool:
        try:
            with self.lock:
                self.sock.sendall(_frame(opcode, payload))
            return True
        except OSError:
            return False


class WebSocketHub:
    """The clients of one websocket endpoint of a fake server."""

    def __init__(self, greeting: str | None = None) -> None:
        self.greeting = greeting  # sent to each client as it connects
        self.received: list[str] = []
        self.connections = 0  # every client that connected, ever
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def wait_for_clients(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``count`` clients are connected (a test's sync point)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._clients) >= count, timeout)

    def broadcast(self, message: str) -> int:
        """Send a text message to every client; returns how many got it."""
        with self._lock:
            clients = list(self._clients)
        return sum(client.send(_TEXT, message.encode("utf-8")) for client in clients)

    def close_all(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.send(_CLOSE, struct.pack("!H", 1001))
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)

    def serve(self, sock: socket.socket, stream: BufferedIOBase, request: Request) -> None:
        """Complete the handshake of ``request`` and serve the connection until it closes."""
        key = request.header("sec-websocket-key") or ""
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        client = _Client(sock)
        if self.greeting is not None:
            client.send(_TEXT, self.greeting.encode("utf-8"))
        with self._changed:
            self._clients.append(client)
            self.connections += 1
            self._changed.notify_all()
        try:
            while True:
                frame = _read_frame(stream)
                if frame is None:
                    break
                opcode, payload = frame
                if opcode == _CLOSE:
                    client.send(_CLOSE, payload[:2])
                    break
                if opcode == _PING:
                    client.send(_PONG, payload)
                elif opcode == _TEXT:
                    with self._lock:
                        self.received.append(payload.decode("utf-8", "replace"))
        except (OSError, struct.error):
            pass
        finally:
            with self._changed:
                if client in self._clients:
                    self._clients.remove(client)
                self._changed.notify_all()

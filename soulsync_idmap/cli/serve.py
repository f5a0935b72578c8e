"""``idmap serve``: the JSON API, scheduled and live syncs, in one process."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfigError
from .context import AppContext, pass_app

if TYPE_CHECKING:
    from ..service import Service

__all__ = ["register", "serve"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every answer waits 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    return sock


def _server(app: Any, service: Service) -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """Stops on SIGTERM/SIGINT (the running batch ends, the rest is abandoned) and exits 0.

        uvicorn re-raises the signal once it has shut down, so the process would die of it;
        a service stopped on purpose has stopped cleanly, and says so with its exit status.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            signals = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig: int, frame: Any) -> None:
            service.stopping.set()  # the pages' event streams end now, not after the grace period
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app, log_level=logging.WARNING, access_log=False, http="httptools", lifespan="on",
        timeout_graceful_shutdown=10, server_header=False,
    )  # fmt: skip
    return Server(config)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port.")
@click.option("--init-key", is_flag=True, help="Create the API key (or read the existing one), print it and exit.")
@pass_app
def serve(app: AppContext, host: str, port: int, init_key: bool) -> None:
    """Serve the mapping over HTTP (/api/v1, docs at /docs) with scheduled and live syncs."""
    from ..service.keys import api_key
    from ..service.keys import init_key as make_key

    if init_key:
        click.echo(make_key(app.config))
        return
    from ..service import Service, create_app

    api_key(app.config)  # no key: one line naming --init-key, before the database is opened
    service = Service(app.writable_store(), app.config)  # a service may start on a new database (said on stderr)
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving on http://{shown}:{bound}")
    server = _server(create_app(service), service)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def register(cli: click.Group) -> None:
    cli.add_command(serve)

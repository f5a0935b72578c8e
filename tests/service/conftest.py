"""The service under test: uvicorn on 127.0.0.1 in a thread of the test, httpx as the client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from soulsync_idmap.config import Config
from soulsync_idmap.mapping.store import Store
from soulsync_idmap.service import Service, create_app
from soulsync_idmap.service.keys import init_key
from tests.conftest import Invoke


@dataclass
class Running:
    url: str
    key: str
    service: Service
    client: httpx.Client  # sends the key
    anonymous: httpx.Client  # does not

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, **kwargs)

    def wait_run(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.get(f"/api/v1/sync/{run_id}").json()
            if status["status"] in ("ok", "failed", "cancelled"):
                return dict(status)
            time.sleep(0.05)
        raise AssertionError(f"sync {run_id} did not finish in {timeout} s")


@contextmanager
def running_service(db_url: str, config_path: Path, *, live: bool = False,
                    settings: dict[str, Any] | None = None) -> Iterator[Running]:  # fmt: skip
    config = Config.load(config_path)
    key = init_key(config)
    if settings:
        config.data.setdefault("serve", {}).update(settings)
        config.save()
    store = Store.open(db_url)
    service = Service(store, config, live=live)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.01)
    client = httpx.Client(base_url=url, headers={"X-Api-Key": key}, timeout=30)
    anonymous = httpx.Client(base_url=url, timeout=30)
    try:
        yield Running(url, key, service, client, anonymous)
    finally:
        client.close()
        anonymous.close()
        server.should_exit = True
        thread.join(30)
        sock.close()
        store.close()


@pytest.fixture
def serve(db_url: str, config_path: Path) -> Iterator[Running]:
    """The API with its sync runner (no notification sockets, no schedule)."""
    with running_service(db_url, config_path) as running:
        yield running


def write_library(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def add_snapshot(idmap: Invoke, name: str, path: Path) -> None:
    result = idmap("servers", "add", "snapshot", name, "--url", str(path))
    assert result.exit_code == 0, result.output


def cli_sync(idmap: Invoke, *names: str) -> None:
    result = idmap("sync", *names)
    assert result.exit_code == 0, result.output


def uuid_of(idmap: Invoke, server: str, native_id: str) -> str:
    result = idmap("lookup", server, native_id)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")

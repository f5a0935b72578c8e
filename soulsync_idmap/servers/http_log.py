"""Every request an adapter sends, logged at debug (``idmap -vv``): method, path, status, ms.

Only the path is logged: query strings carry Subsonic's token and salt and some servers'
API keys, so they never reach a log line.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["httpx_hooks", "log_requests_response"]

log = logging.getLogger("soulsync_idmap.http")


def _line(method: str, url: str, status: int, ms: float) -> None:
    log.debug("%s %s %d %.0f ms", method, urlsplit(url).path or "/", status, ms)


def _started(request: httpx.Request) -> None:
    request.extensions["idmap_started"] = time.perf_counter()


def _answered(response: httpx.Response) -> None:
    request = response.request
    started = request.extensions.get("idmap_started", time.perf_counter())
    _line(request.method, str(request.url), response.status_code, (time.perf_counter() - started) * 1000)


def httpx_hooks() -> dict[str, list[Any]]:
    """``event_hooks`` for an ``httpx.Client``."""
    return {"request": [_started], "response": [_answered]}


def log_requests_response(response: Any, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook (plexapi's session)."""
    _line(response.request.method or "GET", response.request.url or "", response.status_code,
          response.elapsed.total_seconds() * 1000)  # fmt: skip

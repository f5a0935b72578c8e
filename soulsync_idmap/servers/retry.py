"""Retries over a bounded time: exponential backoff with jitter, ``Retry-After`` honoured.

Every adapter retries connection errors, timeouts, 5xx, 429 and cut or unreadable bodies
the same way: waits of about ``base * 2**n`` seconds (each drawn between half and all of
it, so clients that failed together do not come back together), at most ``cap`` each,
until ``total`` seconds have gone by since the first try. Then the request fails with a
``ServerUnreachable`` that says how many tries over how long, and the last failure.

A server restarting for ten seconds is waited out; a server gone for good costs about
``total`` seconds (a minute by default, ``retry_seconds`` in a server's settings or the
config file's ``sync`` section).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import requests

from ..errors import ServerUnreachable

__all__ = ["DEFAULT_RETRY_SECONDS", "HTTPX_RETRYABLE", "REQUESTS_RETRYABLE", "RetryPolicy", "Retrying",
           "retry_after_seconds"]  # fmt: skip

log = logging.getLogger(__name__)

DEFAULT_RETRY_SECONDS = 60.0
# Failures of the connection that a later try may not meet: refused, reset, timed out, cut
# off mid-body. A URL with no scheme or a bad proxy setting fails at once instead.
HTTPX_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
REQUESTS_RETRYABLE = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How to wait between tries of one request. ``sleep``, ``clock`` and ``jitter`` are injectable."""

    total: float = DEFAULT_RETRY_SECONDS
    """Seconds after the first try at which a request stops being retried."""
    base: float = 0.5
    """The first wait, doubled for each further try."""
    cap: float = 15.0
    """The longest single wait of our own backoff."""
    max_retry_after: float = 30.0
    """The longest ``Retry-After`` honoured as it is."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)
    """0..1: where in [half, all] of the backoff a wait falls."""

    def begin(self, server: str, what: str) -> Retrying:
        """The retry state of one request (``what``, e.g. ``GET /Items``) to ``server``."""
        return Retrying(self, server, what)


class Retrying:
    """The tries of one request so far."""

    def __init__(self, policy: RetryPolicy, server: str, what: str) -> None:
        self.policy = policy
        self.server = server
        self.what = what
        self.tries = 0
        self.waited = 0.0
        self.started = policy.clock()

    def elapsed(self) -> float:
        # Waits count even with an injected sleep that does not pass time.
        return max(self.policy.clock() - self.started, self.waited)

    def wait(self, failure: str, retry_after: float | None = None) -> None:
        """Wait before the next try after ``failure``; raise ``ServerUnreachable`` when time is up."""
        self.tries += 1
        policy = self.policy
        left = policy.total - self.elapsed()
        if left <= 0:
            raise ServerUnreachable(
                f"{self.what} failed {self.tries} times in {self.elapsed():.0f}s (last: {failure})", server=self.server
            )
        if retry_after is not None:
            delay = min(max(0.0, retry_after), policy.max_retry_after)
        else:
            full = min(policy.cap, policy.base * 2 ** (self.tries - 1))
            delay = full / 2 + full / 2 * policy.jitter()
        delay = min(delay, left)
        log.warning("%s: %s failed (%s); retry %d in %.1fs", self.server, self.what, failure, self.tries, delay)
        policy.sleep(delay)
        self.waited += delay


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds; None for absent or an HTTP date (our backoff then)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None

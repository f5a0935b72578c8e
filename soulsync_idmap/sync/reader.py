"""Reading batches ahead of the writer, in one thread.

A server's listing is mostly waiting for the server; the writer's time is mostly the
database driver's, which releases the GIL. One reader thread, a couple of batches ahead,
overlaps the two. The queue between them is bounded, so memory is too.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

from ..servers.base import ServerItem
from .batch import Prepared, prepare

__all__ = ["batches", "prefetch", "read_ahead"]


def batches(items: Iterable[ServerItem], size: int) -> Iterator[list[ServerItem]]:
    """Batches of one kind each (a kind change closes the batch: parents before children)."""
    iterator = iter(items)
    pending: list[ServerItem] = []
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            break
        for item in chunk:
            if pending and pending[-1].kind != item.kind:
                yield pending
                pending = []
            pending.append(item)
            if len(pending) >= size:
                yield pending
                pending = []
    if pending:
        yield pending


_DONE = object()
_T = TypeVar("_T")


def prefetch(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """Run ``items`` in a thread, ``depth`` values ahead of the consumer.

    The thread stops when the consumer goes away; its exceptions are re-raised in the
    consumer.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for value in items:
                if not put(value):
                    return
            put(_DONE)
        except BaseException as exc:  # handed over to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=reader, name="idmap-reader", daemon=True)
    thread.start()
    try:
        while True:
            value = slots.get()
            if value is _DONE:
                return
            if isinstance(value, BaseException):
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)


def read_ahead(
    items: Iterable[ServerItem], size: int, path_map: tuple[tuple[str, str], ...], *, keys: bool
) -> Iterator[list[Prepared]]:
    """Prepared batches of ``items`` (fingerprints, mapped paths, and with ``keys`` the blocking
    keys), read in a thread two batches ahead of the writer: a network adapter spends its
    time waiting for the server, which then overlaps the writer's database work."""
    return prefetch(prepare(batch, path_map, keys=keys) for batch in batches(items, size))

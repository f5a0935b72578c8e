"""Reading batches ahead of the writer, in a thread or in a forked process.

The writer spends its time in the database driver, which releases the GIL; reading
(parsing, fingerprints, blocking keys) is Python. In a thread the two overlap only while
the driver works, and a CPU-bound reader makes the writer wait for the GIL after every
row. A source that reads only local files (``forkable`` adapters: snapshot files) is
therefore read in a forked process, which has a core of its own on a 2-core machine;
network adapters keep the thread, their reading is mostly waiting.

The process sends each prepared batch as one pickled message of plain tuples through a
pipe. The pipe's small buffer keeps it at most about one batch ahead (memory stays
bounded); if the writer dies, the reader's next write fails and it ends too.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from multiprocessing.process import BaseProcess
from typing import TypeVar

from ..errors import IdmapError
from ..forking import can_fork, pickled_error, start
from ..servers.base import ServerItem
from .ahead import Ahead, AheadMatcher, Decided
from .batch import Prepared, prepare

__all__ = ["batches", "prefetch", "read_ahead"]

log = logging.getLogger(__name__)
PathMap = tuple[tuple[str, str], ...]


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


def _prepared(
    source: Callable[[], Iterable[ServerItem]], size: int, path_map: PathMap, keys: bool
) -> Iterator[list[Prepared]]:
    return (prepare(batch, path_map, keys=keys) for batch in batches(source(), size))


Parts = Callable[[], Sequence[Callable[[], Iterable[ServerItem]]]]


Batch = tuple[int, list[Prepared], Decided | None]  # (part, items, their matching if done ahead)


def read_ahead(
    source: Callable[[], Iterable[ServerItem]], size: int, path_map: PathMap, *, keys: bool, forkable: bool,
    parts: Parts | None = None, ahead: Ahead | None = None,
) -> Iterator[Batch]:  # fmt: skip
    """Prepared batches of ``source()``, read in a forked process where that is safe; each with its part.

    ``parts``, asked once ``source()`` is exhausted, gives the sources of the rest (the
    tracks of a large file in two halves, say): in a forked reader each part beyond the
    first has a reader process of its own, all at once; batches say which part they come
    from (``source()`` is part 0), so the caller can put what it collects back in order.
    ``ahead``: forked readers match batches of that kind ahead (sync/ahead.py).
    """
    if forkable and can_fork():
        return _in_process(source, size, path_map, keys, parts, ahead)

    def chained() -> Iterator[Batch]:
        yield from ((0, batch, None) for batch in _prepared(source, size, path_map, keys))
        for index, part in enumerate(parts() if parts is not None else ()):
            yield from ((index, batch, None) for batch in _prepared(part, size, path_map, keys))

    return prefetch(chained())


class _PipeLog(logging.Handler):
    """In the reader process: log records travel to the writer, which handles them."""

    def __init__(self, sender: Connection) -> None:
        super().__init__()
        self.sender = sender

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args, record.exc_info = record.getMessage(), None, None
        self.sender.send_bytes(pickle.dumps(("log", record)))


_DONE_MESSAGE = pickle.dumps(("done", None))


def _child(sender: Connection, source: Callable[[], Iterable[ServerItem]], size: int, path_map: PathMap,
           keys: bool, parts: Parts | None, part: int = 0, ahead: Ahead | None = None) -> None:  # fmt: skip
    # Every record goes to the writer, which hands it to its own handlers.
    loggers = [
        logging.getLogger(),
        *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger)),
    ]
    for logger in loggers:
        for handler in logger.handlers[:]:
            logger.removeHandler(handler)
        logger.propagate = True
    logging.getLogger().addHandler(_PipeLog(sender))
    helpers: list[tuple[Connection, BaseProcess]] = []
    matcher = AheadMatcher(ahead, part) if ahead is not None else None
    try:
        _send(sender, source, size, path_map, keys, part, matcher)
        if parts is not None:
            sources = list(parts())
            for index, later in enumerate(sources[1:], start=1):
                helpers.append(start(_child, later, size, path_map, keys, None, index, ahead, name="idmap-reader"))
            if sources:
                _send(sender, sources[0], size, path_map, keys, part, matcher, helpers)
            _relay(helpers, sender, wait=True)
        sender.send_bytes(_DONE_MESSAGE)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the writer went away
    except BaseException as exc:
        with contextlib.suppress(OSError):
            sender.send_bytes(pickled_error(exc))
    finally:
        sender.close()
        if matcher is not None:
            matcher.close()
        for receiver, process in helpers:
            receiver.close()
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)


def _send(sender: Connection, source: Callable[[], Iterable[ServerItem]], size: int, path_map: PathMap,
          keys: bool, part: int, matcher: AheadMatcher | None,
          helpers: list[tuple[Connection, BaseProcess]] | None = None) -> None:  # fmt: skip
    """Each prepared batch of ``source()`` down the pipe; between two, what the helpers have ready."""
    for batch in _prepared(source, size, path_map, keys):
        decided = matcher(batch) if matcher is not None else None
        wired = decided.wire() if decided is not None else None
        message = ("batch", (batch[0].item.kind, part, [p.wire() for p in batch], wired))
        sender.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        if helpers:
            _relay(helpers, sender, wait=False)


def _relay(helpers: list[tuple[Connection, BaseProcess]], sender: Connection, *, wait: bool) -> None:
    """Pass the part readers' messages on to the writer as they are (pickled bytes), until
    none is ready (or, with ``wait``, until every part reader is done)."""
    while helpers:
        ready = wait_for([receiver for receiver, _ in helpers], timeout=None if wait else 0)
        if not ready:
            return
        for receiver in ready:
            assert isinstance(receiver, Connection)
            try:
                data = receiver.recv_bytes()
            except EOFError:
                process = next(p for r, p in helpers if r is receiver)
                process.join(timeout=5)
                raise IdmapError(f"a reader process ended unexpectedly (exit code {process.exitcode})") from None
            if data == _DONE_MESSAGE:
                helpers[:] = [(r, p) for r, p in helpers if r is not receiver]
                receiver.close()
            else:
                sender.send_bytes(data)


def _in_process(
    source: Callable[[], Iterable[ServerItem]], size: int, path_map: PathMap, keys: bool, parts: Parts | None,
    ahead: Ahead | None,
) -> Iterator[Batch]:  # fmt: skip
    # not a daemon: it may start part readers (ended below, or by the pipe when the writer dies)
    receiver, child = start(
        _child, source, size, path_map, keys, parts, 0, ahead, name="idmap-reader", daemon=parts is None
    )
    try:
        while True:
            try:
                tag, payload = pickle.loads(receiver.recv_bytes())
            except EOFError:
                child.join(timeout=5)
                raise IdmapError(f"the reader process ended unexpectedly (exit code {child.exitcode})") from None
            if tag == "batch":
                kind, part, rows, wired = payload
                decided = Decided.from_wire(wired) if wired is not None else None
                yield part, [Prepared.from_wire(kind, row) for row in rows], decided
            elif tag == "log":
                logging.getLogger(payload.name).handle(payload)
            elif tag == "done":
                return
            else:
                raise payload
    finally:
        receiver.close()
        child.join(timeout=1)
        if child.is_alive():
            child.terminate()
            child.join(timeout=5)

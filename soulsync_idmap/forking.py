"""Running Python work in a forked process, for the second core.

Used for reading local snapshot files while the main process writes (sync/reader.py) and
for splitting the light pass over a snapshot file in two halves (servers/snapshot.py).
Only where ``fork`` exists; callers fall back to doing the work themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import pickle
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from .errors import IdmapError

__all__ = ["Forked", "can_fork", "detach_inherited", "pickled_error", "start"]

_T = TypeVar("_T")
PIPE_BYTES = 1 << 20


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def detach_inherited(keep: set[int]) -> None:
    """Point every inherited descriptor but ``keep`` (and stdio) at /dev/null.

    A forked child holds copies of the parent's descriptors: the sync lock file, database
    files and sockets. Held by the child, they would keep the lock (and a PostgreSQL
    session with its advisory lock) alive for a moment after a killed parent. /dev/null
    in their place releases nothing of the parent's and leaves no number free for reuse.
    """
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            fds = {int(name) for name in os.listdir(folder)}
            break
        except OSError:
            continue
    else:
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in sorted(fds - keep - {0, 1, 2, null}):
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
    os.close(null)


def pickled_error(exc: BaseException) -> bytes:
    """``("error", exc)`` pickled; an exception that cannot travel goes as its text."""
    try:
        data = pickle.dumps(("error", exc))
        pickle.loads(data)
    except Exception:
        data = pickle.dumps(("error", IdmapError(f"{type(exc).__name__}: {exc}")))
    return data


def _enter(target: Callable[..., None], sender: Connection, args: tuple[Any, ...]) -> None:
    detach_inherited({sender.fileno()})
    target(sender, *args)


def _widen(pipe: Connection) -> None:
    """Let the pipe hold a batch or two (1 MB, the most a user may ask for, instead of 64 KB).

    With a 64 KB pipe a reader that has a batch ready waits until the writer has taken the
    previous one; and a part reader waits until the reader it sends through passes its
    batches on, between two batches of its own.
    """
    try:
        with open("/proc/sys/fs/pipe-max-size") as limit:
            size = min(int(limit.read()), PIPE_BYTES)
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError, AttributeError):
        pass  # not Linux, or not allowed: the default pipe works, only slower


def start(target: Callable[..., None], *args: Any, name: str, daemon: bool = True) -> tuple[Connection, BaseProcess]:
    """Fork a process running ``target(sender, *args)``; returns the pipe's receiving end and the process.

    The child's inherited descriptors are detached first; the parent closes its copy of the
    sending end, so the child's exit is the receiver's end of file. A process that starts
    processes of its own must not be a ``daemon`` (multiprocessing forbids it); its caller
    ends it.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    _widen(receiver)
    process = context.Process(target=_enter, args=(target, sender, args), name=name, daemon=daemon)
    process.start()
    sender.close()
    return receiver, process


def _run(sender: Connection, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        data = pickle.dumps(("value", func(*args)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:
        data = pickled_error(exc)
    with contextlib.suppress(OSError):
        sender.send_bytes(data)
    sender.close()


class Forked(Generic[_T]):
    """``func(*args)`` started in a forked process; ``result()`` returns its value or raises."""

    def __init__(self, func: Callable[..., _T], *args: Any) -> None:
        self._receiver, self._process = start(_run, func, args, name="idmap-worker")

    def result(self) -> _T:
        try:
            tag, value = pickle.loads(self._receiver.recv_bytes())
        except EOFError:
            self._process.join(timeout=5)
            raise IdmapError(f"a worker process ended unexpectedly (exit code {self._process.exitcode})") from None
        finally:
            self._receiver.close()
            self._process.join(timeout=5)
        if tag == "error":
            raise value
        return value  # type: ignore[no-any-return]

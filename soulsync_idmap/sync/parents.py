"""The UUIDs of a server's parents (artists, albums) as one sync run knows them.

Each batch of tracks names its albums and artists by native id and needs their UUIDs. A
listing in album order names a few hundred a batch; one in title order (a server that
sorts by name, or whose items share one creation date) names a different album for nearly
every track: 300,000 tracks asked the database for 300,000 parents, 25,000 distinct.
Kept for the run, each is asked once (or not at all: the run wrote it).

Links of a server move to another entity only by a decision (merge, split, undo), which
may come from ``idmap serve`` while a sync runs: the cache is dropped whenever the
decision log changed since it was last checked (one query a batch, on a small table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from ..mapping.store import table

__all__ = ["ParentLinks"]

PARENT_KINDS = ("artist", "album")


class ParentLinks:
    """Native id -> UUID of one server's artists and albums, looked up or written in this run."""

    def __init__(self) -> None:
        self._known: dict[str, dict[str, str]] = {kind: {} for kind in PARENT_KINDS}
        self._decisions: tuple[Any, ...] | None = None

    def remember(self, kind: str, pairs: Iterable[tuple[str, str]]) -> None:
        """(native id, UUID) pairs of ``kind`` written in this run (other kinds are not kept)."""
        known = self._known.get(kind)
        if known is not None:
            known.update(pairs)

    def uuids(
        self, conn: Connection, kind: str, native_ids: set[str], lookup: Callable[[set[str]], dict[str, str]]
    ) -> dict[str, str]:
        """The UUIDs of ``native_ids`` that have a link; ``lookup`` asks the database for the ones not known yet."""
        self._check(conn)
        known = self._known[kind]
        found = {n: known[n] for n in native_ids if n in known}
        asked = native_ids - found.keys()
        if asked:
            fresh = lookup(asked)
            known.update(fresh)
            found.update(fresh)
        return found

    def _check(self, conn: Connection) -> None:
        """Forget everything when a decision was made or undone since the last check."""
        decision = table("decision")
        state = tuple(conn.execute(select(func.max(decision.c.id), func.max(decision.c.undone_at))).one())
        if state != self._decisions:
            for known in self._known.values():
                known.clear()
            self._decisions = state

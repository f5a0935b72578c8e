"""Matching a first sync's tracks ahead, in the reader processes; the writer checks and writes.

On a server's first sync into a database that other servers fill, the writer spent most
of its time searching candidates and scoring (about 85 of 140 s for a million tracks),
while the readers, one per part of the file, had time to spare. So each reader also
matches its batches (with a database connection of its own) and sends the decisions
along; the writer only checks them and writes.

Matching a batch must not depend on when it happens. Decisions depend on what the
server already holds (an entity linked here is no candidate), and batches still on
their way to the writer have not been written. So:

- the reader treats its own earlier decisions as written (``held``) until the writer
  says their batches are committed (``Shared.done``, per part);
- each batch carries the writer's commit count when its searches began (``snapshot``)
  and every candidate the searches returned (``considered``);
- the writer keeps, for its last WINDOW batches, which entities each one linked, and
  writes a batch's decisions only if none of them touches its candidates unforeseen
  (another part's batch, or one whose decisions differ from what its reader held).
  Otherwise, and when its native ids are not the ones the writer takes as new, the
  writer matches the batch itself, as it would have anyway.

Tracks are matched ahead only once every album is written (``Shared.ready``): their
parents are read from the database. Artists and albums (a tenth of a library) are
matched by the writer.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ..mapping.db import open_engine
from ..matching import MatchScore, Thresholds
from .batch import BatchWriter, Prepared, match_items

__all__ = ["Ahead", "AheadMatcher", "Claims", "Decided", "Shared"]

WINDOW = 64  # batches the writer remembers; a batch matched further back is matched again


class Shared:
    """Counters in memory shared with the (forked) readers; only the writer changes them."""

    def __init__(self, parts: int) -> None:
        context = multiprocessing.get_context("fork")
        self.committed = context.RawValue("q", 0)  # batches committed by the writer
        self.ready = context.RawValue("b", 0)  # every parent of the matched kind is written
        self.done = context.RawArray("q", parts)  # batches committed, per part


@dataclass(frozen=True)
class Ahead:
    """What a reader needs for matching ``kind`` ahead."""

    url: str
    server_id: int
    kind: str
    thresholds: Thresholds
    shared: Shared


@dataclass
class Decided:
    """A batch's decisions made by its reader (see ``match_items``), and what they rest on."""

    snapshot: int
    natives: tuple[str, ...]  # the batch's distinct native ids, in order: the items decided
    targets: list[str | None]
    proposals: list[tuple[int, str, MatchScore]]
    considered: frozenset[str]
    parents: dict[str, dict[str, str | None]]

    @property
    def claimed(self) -> set[str]:
        return {t for t in self.targets if t is not None}

    def wire(self) -> tuple[Any, ...]:
        proposals = [(i, u, m.score, m.verdict, m.reasons) for i, u, m in self.proposals]
        return (self.snapshot, self.natives, self.targets, proposals, tuple(self.considered), self.parents)

    @classmethod
    def from_wire(cls, data: tuple[Any, ...]) -> Decided:
        snapshot, natives, targets, proposals, considered, parents = data
        scores = [(i, u, MatchScore(score, verdict, reasons)) for i, u, score, verdict, reasons in proposals]
        return cls(snapshot, natives, targets, scores, frozenset(considered), parents)


class AheadMatcher:
    """In a reader process: decides the batches of one part, in the order they are sent.

    Called for every batch of its part (it counts them, as the writer does); returns None
    for those it leaves to the writer.
    """

    def __init__(self, ahead: Ahead, part: int) -> None:
        self.ahead = ahead
        self.part = part
        self.sent = 0  # batches of this part so far
        self.held: deque[tuple[int, set[str]]] = deque()  # (batch number, entities it claimed)
        self.writer = BatchWriter(ahead.server_id, ahead.kind, ahead.thresholds, True)
        self._engine: Engine | None = None

    def __call__(self, batch: Sequence[Prepared]) -> Decided | None:
        number = self.sent
        self.sent += 1
        shared = self.ahead.shared
        if batch[0].item.kind != self.ahead.kind or not shared.ready.value:
            return None
        snapshot = shared.committed.value  # read before ``done``: the writer raises ``done`` first
        written = shared.done[self.part]
        while self.held and self.held[0][0] < written:
            self.held.popleft()  # committed: the database answers for it now
        held = set().union(*(claims for _, claims in self.held))
        unique: dict[str, Prepared] = {}
        for prepared in batch:
            unique.setdefault(prepared.item.native_id, prepared)
        if self._engine is None:
            self._engine = open_engine(self.ahead.url)
        with self._engine.connect() as conn:
            parents = self.writer.resolved_parents(conn, [p.item for p in unique.values()])
            incoming = [p.incoming(parents) for p in unique.values()]
            found = match_items(conn, self.ahead.kind, self.ahead.server_id, self.ahead.thresholds, incoming, held)
        decided = Decided(snapshot, tuple(unique), found.targets, found.proposals, frozenset(found.considered), parents)
        self.held.append((number, decided.claimed))
        return decided

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class Claims:
    """In the writer: which entities its recent batches linked, for checking decisions made ahead."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        # (commit number, part, entities its reader held for it, entities it linked)
        self.recent: deque[tuple[int, int, set[str], set[str]]] = deque(maxlen=WINDOW)

    def stands(self, decided: Decided, part: int) -> bool:
        """Whether ``decided`` is what the writer would decide now (given the same new items)."""
        committed = self.shared.committed.value
        if committed - decided.snapshot > len(self.recent):
            return False  # made before the batches remembered
        for number, other, held, linked in self.recent:
            if number <= decided.snapshot:
                continue
            # a batch of the same part was foreseen as its reader held it; anything else was not
            unforeseen = (linked ^ held) if other == part else linked
            if unforeseen and not decided.considered.isdisjoint(unforeseen):
                return False
        return True

    def committed(self, part: int, held: set[str], linked: set[str]) -> None:
        number = self.shared.committed.value + 1
        self.recent.append((number, part, held, linked))
        self.shared.done[part] += 1  # before ``committed``: a reader reads them the other way round
        self.shared.committed.value = number

"""The change feed: every change a host app must know, durable, in commit order.

A host app that caches native ids (or UUIDs) reads the feed from the last cursor it
saw and never misses a change. One row per change in the ``change`` table, written in
the same transaction as the change itself; the row's id is the cursor.

Change types (``type``), and who writes them:

=============  ==========================================================================
``linked``     a native id got a UUID (``uuid``, ``server``, ``native_id``). The sync writer.
``gone``       a linked item left its server: ``native_id`` no longer resolves; the UUID
               lives on. The sync's removal pass.
``revived``    a gone item came back on its server, same native id, same UUID. The sync.
``relinked``   the server re-keyed an item: same ``uuid``, new ``native_id``, the old one in
               ``old_native_id``. The sync's reconciliation.
``merged``     ``old_uuid`` was merged into ``uuid`` (the survivor); the old UUID keeps
               resolving through a redirect. ``idmap merge``, an accepted proposal, and the
               tracks that came along with a merged album (``mapping/merge.py``).
``split``      ``server``'s links of ``old_uuid`` moved to the new entity ``uuid``.
``rejected``   a proposal to merge ``uuid`` and ``old_uuid`` was rejected (nothing moved).
``undone``     the decision ``decision`` was undone: after a merge, ``uuid`` (the dropped
               entity) is itself again and ``old_uuid`` the former survivor; after a split,
               the links went back to ``uuid`` and ``old_uuid`` no longer exists; after a
               rejection, the pair is proposed again.
=============  ==========================================================================

Commit order: on SQLite one writer at a time commits, so ids are in commit order. On
PostgreSQL ``record_changes`` takes the table's EXCLUSIVE lock (plain reads go on) and
holds it to the commit, so a transaction that took a lower id has committed before a
later one can take a higher id: a reader never sees cursor 7 while 6 is still to come.
That is why the feed is written LAST in a transaction: a writer holding the lock never
waits for a row lock, so the lock cannot be part of a deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from .bulk import BulkInsert
from .store import table, utcnow

__all__ = [
    "CHANGE_TYPES",
    "Change",
    "ChangeRow",
    "latest_cursor",
    "next_cursor",
    "read_changes",
    "record_change",
    "record_changes",
]

CHANGE_TYPES = ("linked", "gone", "revived", "relinked", "merged", "split", "rejected", "undone")
MAX_LIMIT = 10_000

_COLUMNS = ("type", "kind", "uuid", "server_id", "native_id", "old_uuid", "old_native_id", "decision_id", "at")
_INSERT = BulkInsert(table("change"), _COLUMNS)


class ChangeRow(NamedTuple):
    """One change to record; the fields in ``change`` column order (what ``record_changes`` takes)."""

    type: str
    kind: str
    uuid: str
    server_id: int | None = None
    native_id: str | None = None
    old_uuid: str | None = None
    old_native_id: str | None = None
    decision_id: int | None = None
    at: datetime | None = None  # None: now


@dataclass(frozen=True)
class Change:
    """One entry of the feed as a host app reads it."""

    cursor: int
    type: str
    kind: str
    uuid: str
    old_uuid: str | None
    server: str | None
    native_id: str | None
    old_native_id: str | None
    decision: int | None
    at: datetime

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def record_changes(conn: Connection, rows: Iterable[ChangeRow]) -> int:
    """Record changes in the caller's transaction (call it last there); returns how many.

    Bulk: one statement for the lot (COPY on PostgreSQL), so a sync batch can record its
    thousands of new links at little cost.
    """
    now = utcnow()
    values = []
    for row in rows:
        if row.type not in CHANGE_TYPES:
            raise ValueError(f"unknown change type {row.type!r}")
        values.append(row if row.at is not None else row._replace(at=now))
    if not values:
        return 0
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE change IN EXCLUSIVE MODE")
    _INSERT.execute(conn, values)
    return len(values)


def record_change(conn: Connection, type: str, kind: str, uuid: str, **fields: Any) -> None:
    """Record one change: ``fields`` are the other ``ChangeRow`` fields (server_id, native_id...)."""
    record_changes(conn, [ChangeRow(type, kind, uuid, **fields)])


def latest_cursor(conn: Connection) -> int:
    """The cursor of the newest change (0 when there is none): where a new reader starts."""
    change = table("change")
    return int(conn.execute(select(func.coalesce(func.max(change.c.id), 0))).scalar_one())


def read_changes(conn: Connection, since: int = 0, limit: int = 1000) -> list[Change]:
    """Changes after cursor ``since``, oldest first, at most ``limit`` (capped at 10,000)."""
    if since < 0:
        raise ValueError("the cursor cannot be negative")
    limit = max(1, min(limit, MAX_LIMIT))
    change, server = table("change"), table("server")
    query = (
        select(change, server.c.name.label("server_name"))
        .select_from(change.outerjoin(server, server.c.id == change.c.server_id))
        .where(change.c.id > since)
        .order_by(change.c.id)
        .limit(limit)
    )
    return [
        Change(
            cursor=row.id, type=row.type, kind=row.kind, uuid=row.uuid, old_uuid=row.old_uuid,
            server=row.server_name, native_id=row.native_id, old_native_id=row.old_native_id,
            decision=row.decision_id, at=row.at,
        )
        for row in conn.execute(query)
    ]  # fmt: skip


def next_cursor(changes: Sequence[Change], since: int) -> int:
    """The cursor to ask from next time."""
    return changes[-1].cursor if changes else since

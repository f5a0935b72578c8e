"""What the pages show, read from the mapping database: one function per page part.

Only reads live here; every decision goes through ``mapping/merge.py``. Each query is
bounded (a page of the queue, the last runs, the newest changes) and takes an index, so a
page loads as quickly with 10,000 pending proposals as with ten.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ...errors import ConfigError, NotFound
from ...mapping.changes import Change, latest_cursor, read_changes
from ...mapping.export import export_entity
from ...mapping.merge import entity_kind
from ...mapping.review import Proposal
from ...mapping.store import normalize_uuid, table
from ...matching.normalize import normalize_artist, split_title

__all__ = [
    "CountCache",
    "QueueRow",
    "card_rows",
    "entity_history",
    "neighbours",
    "proposal_flagged",
    "queue_page",
    "recent_changes",
    "search",
    "server_counts",
]

KINDS = ("artist", "album", "track")
NAME = {"artist": "name", "album": "title", "track": "title"}
VERSION_FLAGS = ("version", "version_conflict")  # the scorer's "these are different versions" reasons


def proposal_flagged(reasons: dict[str, float]) -> bool:
    """True when the scorer flagged the pair as different versions (never bulk-accepted)."""
    return any(flag in reasons for flag in VERSION_FLAGS)


def ordered_reasons(reasons: dict[str, float]) -> list[tuple[str, float]]:
    """The deciding reasons first: a version flag, then the weakest agreement upwards."""
    return sorted(reasons.items(), key=lambda kv: (kv[0] not in VERSION_FLAGS, kv[1], kv[0]))


def duration(ms: Any) -> str:
    if not isinstance(ms, int) or ms < 0:
        return ""
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def card_rows(p: Proposal) -> list[tuple[str, str, str, bool]]:
    """(label, A, B, differs) for the two cards, in reading order."""
    a, b = p.a or {}, p.b or {}

    def number(side: dict[str, Any]) -> str:
        track, disc = side.get("track_number"), side.get("disc_number")
        if track is None and disc is None:
            return ""
        return f"{track or '?'}" + (f" / disc {disc}" if disc else "")

    rows: list[tuple[str, str, str]] = []
    if p.kind == "artist":
        rows += [("name", _text(a.get("name")), _text(b.get("name"))),
                 ("sort name", _text(a.get("sort_name")), _text(b.get("sort_name")))]  # fmt: skip
    else:
        rows.append(("title", _text(a.get("name")), _text(b.get("name"))))  # proposals use export's names
        rows.append(("artist", _text(a.get("artist_name")), _text(b.get("artist_name"))))
    if p.kind == "track":
        rows += [
            ("album", _text(a.get("album_name")), _text(b.get("album_name"))),
            ("track / disc", number(a), number(b)),
            ("duration", duration(a.get("duration_ms")), duration(b.get("duration_ms"))),
        ]
    if p.kind != "artist":
        rows.append(("year", _text(a.get("year")), _text(b.get("year"))))
    if p.kind == "track":
        rows.append(("path", _text(a.get("path")), _text(b.get("path"))))
    rows += [("uuid", p.uuid_a, p.uuid_b), ("mbid", _text(a.get("mbid")), _text(b.get("mbid")))]
    if p.kind == "track":
        rows.append(("isrc", _text(a.get("isrc")), _text(b.get("isrc"))))
    return [(label, va, vb, label != "uuid" and va != vb) for label, va, vb in rows if va or vb]


@dataclass
class QueueRow:
    id: int
    kind: str
    score: float
    flagged: bool
    name_a: str
    name_b: str


def _order(order: str) -> list[Any]:
    review = table("review_item")
    return [review.c.id] if order == "oldest" else [review.c.score.desc(), review.c.id]


def queue_page(conn: Connection, order: str, kind: str | None, limit: int = 50) -> tuple[int, list[QueueRow]]:
    """(pending count, the first ``limit`` pending proposals in ``order``) with both names."""
    review = table("review_item")
    where = [review.c.status == "pending"] + ([review.c.kind == kind] if kind else [])
    total = int(conn.execute(select(func.count()).select_from(review).where(*where)).scalar_one())
    rows = conn.execute(
        select(review.c.id, review.c.kind, review.c.uuid_a, review.c.uuid_b, review.c.score, review.c.reasons)
        .where(*where).order_by(*_order(order)).limit(limit)
    ).all()  # fmt: skip
    names = _names(conn, [(r.kind, u) for r in rows for u in (r.uuid_a, r.uuid_b)])
    return total, [
        QueueRow(r.id, r.kind, r.score, proposal_flagged(json.loads(r.reasons or "{}")),
                 names.get(r.uuid_a, "?"), names.get(r.uuid_b, "?"))
        for r in rows
    ]  # fmt: skip


def _names(conn: Connection, wanted: list[tuple[str, str]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for kind in KINDS:
        uuids = [u for k, u in wanted if k == kind]
        if uuids:
            entity = table(kind)
            column = entity.c[NAME[kind]]
            names.update(
                (r[0], r[1]) for r in conn.execute(select(entity.c.uuid, column).where(entity.c.uuid.in_(uuids)))
            )
    return names


def neighbours(conn: Connection, review_id: int, order: str, kind: str | None) -> tuple[int | None, int | None]:
    """(previous, next) pending proposal around ``review_id`` in the queue's order."""
    review = table("review_item")
    current = conn.execute(select(review.c.score).where(review.c.id == review_id)).first()
    if current is None:
        return None, None
    base = [review.c.status == "pending", review.c.id != review_id] + ([review.c.kind == kind] if kind else [])
    if order == "oldest":
        after, before = review.c.id > review_id, review.c.id < review_id
        forward: list[Any] = [review.c.id]
        backward: list[Any] = [review.c.id.desc()]
    else:
        score = current.score
        after = or_(review.c.score < score, and_(review.c.score == score, review.c.id > review_id))
        before = or_(review.c.score > score, and_(review.c.score == score, review.c.id < review_id))
        forward, backward = [review.c.score.desc(), review.c.id], [review.c.score, review.c.id.desc()]
    nxt = conn.execute(select(review.c.id).where(*base, after).order_by(*forward).limit(1)).scalar()
    prev = conn.execute(select(review.c.id).where(*base, before).order_by(*backward).limit(1)).scalar()
    return prev, nxt


def first_pending(conn: Connection, order: str, kind: str | None) -> int | None:
    review = table("review_item")
    where = [review.c.status == "pending"] + ([review.c.kind == kind] if kind else [])
    return conn.execute(select(review.c.id).where(*where).order_by(*_order(order)).limit(1)).scalar()


def cover_target(conn: Connection, kind: str, uuid: str) -> list[tuple[int, str]]:
    """(server id, native id) of the album whose cover shows ``uuid`` (a track: its album), live first."""
    if kind == "track":
        track = table("track")
        album = conn.execute(select(track.c.album_uuid).where(track.c.uuid == uuid)).scalar()
        if album is None:
            return []
        kind, uuid = "album", album
    link = table("link")
    rows = conn.execute(
        select(link.c.server_id, link.c.native_id).where(link.c.uuid == uuid, link.c.kind == kind)
        .order_by(link.c.gone_at.is_not(None), link.c.id)
    ).all()  # fmt: skip
    return [(r.server_id, r.native_id) for r in rows]


def server_counts(conn: Connection, server_id: int) -> dict[str, int]:
    """Live links per kind and gone links of one server, each counted on an index."""
    link = table("link")
    counts: dict[str, int] = {}
    for kind in KINDS:
        where = (link.c.server_id == server_id, link.c.kind == kind)
        total = conn.execute(select(func.count()).select_from(link).where(*where)).scalar_one()
        gone = conn.execute(select(func.count()).select_from(link).where(*where, link.c.gone_at.is_not(None)))
        counts[kind] = int(total) - int(gone.scalar_one())
        counts["gone"] = counts.get("gone", 0) + (int(total) - counts[kind])
    return counts


class CountCache:
    """``server_counts`` of every server, counted again only when a sync run started or ended.

    Only a sync adds or removes links (a merge or a split moves them between UUIDs and
    leaves each server's counts alone), and counting 300,000 links on PostgreSQL costs
    more than the rest of the dashboard. ``ttl`` bounds the age of the counts during a run.
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._key: tuple[Any, ...] | None = None
        self._at = 0.0
        self._counts: dict[int, dict[str, int]] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, server_ids: list[int]) -> dict[int, dict[str, int]]:
        run = table("sync_run")
        state = conn.execute(select(func.max(run.c.id), func.count(run.c.finished_at), func.count())).one()
        key = (*state, tuple(server_ids))
        running = state[1] != state[2]
        with self._lock:
            fresh = key == self._key and not (running and time.monotonic() - self._at > self.ttl)
            if fresh:
                return self._counts
        counts = {server_id: server_counts(conn, server_id) for server_id in server_ids}
        with self._lock:
            self._key, self._at, self._counts = key, time.monotonic(), counts
        return counts


def recent_changes(conn: Connection, count: int = 15) -> list[Change]:
    latest = latest_cursor(conn)
    return list(reversed(read_changes(conn, max(0, latest - count), count)))


def last_runs(conn: Connection, names: dict[int, str], count: int = 8) -> list[dict[str, Any]]:
    run = table("sync_run")
    rows = conn.execute(select(run).order_by(run.c.id.desc()).limit(count)).mappings().all()
    return [dict(r) | {"server": names.get(r["server_id"], "?")} for r in rows]


def pending_count(conn: Connection) -> int:
    review = table("review_item")
    return int(conn.execute(select(func.count()).select_from(review).where(review.c.status == "pending")).scalar_one())


@dataclass
class Found:
    kind: str
    uuid: str
    name: str
    detail: str = ""


@dataclass
class SearchResult:
    exact: str | None = None  # a UUID or native id that names one entity: show it
    found: list[Found] = field(default_factory=list)


def search(conn: Connection, query: str, limit: int = 20) -> SearchResult:
    """A UUID (or a merged-away one), a native id on any server, or the start of a name."""
    query = query.strip()
    if not query:
        return SearchResult()
    link, server = table("link"), table("server")
    found: list[Found] = []
    for server_id, name in conn.execute(select(server.c.id, server.c.name)).all():
        for kind in KINDS:
            uuid = conn.execute(select(link.c.uuid).where(
                link.c.server_id == server_id, link.c.kind == kind, link.c.native_id == query
            )).scalar()  # fmt: skip
            if uuid is not None:
                found.append(Found(kind, uuid, "", f"{name} {query}"))
    if not found:  # a native id first: Jellyfin's 32-hex ids also read as UUIDs
        try:
            return SearchResult(exact=entity_kind(conn, normalize_uuid(query))[1])
        except (ConfigError, NotFound):
            pass
    if len(found) == 1:
        return SearchResult(exact=found[0].uuid)
    for kind in KINDS:
        entity = table(kind)
        prefix = normalize_artist(query) if kind == "artist" else split_title(query).base
        if not prefix:
            continue
        rows = conn.execute(
            select(entity).where(entity.c.match_key >= prefix, entity.c.match_key < prefix + "\uffff")
            .order_by(entity.c.match_key).limit(limit)
        ).mappings().all()  # fmt: skip
        for r in rows:
            detail = " · ".join(_text(r.get(c)) for c in ("artist_name", "album_title", "year") if r.get(c))
            found.append(Found(kind, r["uuid"], r[NAME[kind]], detail))
    for item in found:
        if not item.name:
            item.name = _names(conn, [(item.kind, item.uuid)]).get(item.uuid, "?")
    return SearchResult(found=found)


def entity(conn: Connection, servers: dict[int | None, str], uuid: str) -> dict[str, Any] | None:
    kind, survivor = entity_kind(conn, uuid)
    return export_entity(conn, servers, kind, survivor)


def entity_history(conn: Connection, uuids: list[str], limit: int = 100) -> list[dict[str, Any]]:
    """Decisions (with their ids, for undo) and feed entries about ``uuids``, newest first."""
    decision, change = table("decision"), table("change")
    rows = conn.execute(
        select(decision).where(or_(decision.c.uuid_a.in_(uuids), decision.c.uuid_b.in_(uuids)))
        .order_by(decision.c.id.desc()).limit(limit)
    ).mappings().all()  # fmt: skip
    events: list[dict[str, Any]] = [
        {"at": r["created_at"], "what": r["action"], "decision": r["id"], "undone": r["undone_at"] is not None,
         "a": r["uuid_a"], "b": r["uuid_b"], "source": r["source"]}
        for r in rows
    ]  # fmt: skip
    names = {sid: name for sid, name in conn.execute(select(table("server").c.id, table("server").c.name)).all()}
    feed = conn.execute(
        select(change).where(change.c.uuid.in_(uuids), change.c.type.in_(("linked", "gone", "revived", "relinked")))
        .order_by(change.c.id.desc()).limit(limit)
    ).mappings().all()  # fmt: skip
    for c in feed:
        where = f"{names.get(c['server_id'], '?')} {c['native_id'] or ''}".strip()
        if c["old_native_id"]:
            where += f" (was {c['old_native_id']})"
        events.append({"at": c["at"], "what": c["type"], "decision": None, "undone": False, "a": where, "b": None,
                       "source": "sync"})  # fmt: skip
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:limit]

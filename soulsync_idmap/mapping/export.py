"""Export (one JSON object per entity, streamed) and statistics."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from .store import Store, table

__all__ = ["FIELDS", "export_entity", "iso_utc", "iter_export", "stats"]

# (output key, column) per kind: the one naming of entity fields in every JSON the package prints
# (export, review proposals, the API's entities).
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "artist": (("name", "name"), ("sort_name", "sort_name"), ("mbid", "mbid")),
    "album": (("name", "title"), ("artist_uuid", "artist_uuid"), ("artist_name", "artist_name"),
              ("year", "year"), ("mbid", "mbid")),
    "track": (("name", "title"), ("album_uuid", "album_uuid"), ("artist_uuid", "artist_uuid"),
              ("album_name", "album_title"), ("artist_name", "artist_name"), ("track_number", "track_number"),
              ("disc_number", "disc_number"), ("duration_ms", "duration_ms"), ("year", "year"),
              ("mbid", "mbid"), ("isrc", "isrc"), ("path", "path")),
}  # fmt: skip
KINDS = ("artist", "album", "track")
_PAGE = 2_000


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 with the zone; stored times are UTC (SQLite returns them without the zone)."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


def iter_export(store: Store, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """Every entity with its links and the UUIDs merged into it, page by page."""
    servers = {s.id: s.name for s in store.servers()}
    for current in [kind] if kind else KINDS:
        entity = table(current)
        last = ""
        while True:
            with store.engine.connect() as conn:
                rows = conn.execute(
                    select(entity).where(entity.c.uuid > last).order_by(entity.c.uuid).limit(_PAGE)
                ).all()
                if not rows:
                    break
                items = _items(conn, servers, current, rows)
            yield from items
            last = rows[-1].uuid


def export_entity(conn: Connection, servers: dict[int | None, str], kind: str, uuid: str) -> dict[str, Any] | None:
    """One entity as its ``export`` line (``servers``: id -> name), or None when there is none."""
    entity = table(kind)
    rows = conn.execute(select(entity).where(entity.c.uuid == uuid)).all()
    return _items(conn, servers, kind, rows)[0] if rows else None


def _items(conn: Connection, servers: dict[int | None, str], kind: str, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The export lines of entity ``rows`` of ``kind``: their links and the UUIDs merged into them."""
    link = table("link")
    redirect = table("redirect")
    uuids = [r.uuid for r in rows]
    links: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(
        select(link.c.uuid, link.c.server_id, link.c.native_id, link.c.gone_at)
        .where(link.c.uuid.in_(uuids))
        .order_by(link.c.id)
    ):
        links[row.uuid].append(
            {"server": servers.get(row.server_id), "native_id": row.native_id, "gone": row.gone_at is not None}
        )
    merged: dict[str, list[str]] = defaultdict(list)
    for old, new in conn.execute(
        select(redirect.c.old_uuid, redirect.c.new_uuid).where(redirect.c.new_uuid.in_(uuids))
    ):
        merged[new].append(old)
    items = []
    for row in rows:
        item: dict[str, Any] = {"uuid": row.uuid, "kind": kind}
        for out, column in FIELDS[kind]:
            item[out] = getattr(row, column)
        item["links"] = links.get(row.uuid, [])
        if merged.get(row.uuid):
            item["merged_from"] = sorted(merged[row.uuid])
        items.append(item)
    return items


def stats(store: Store, runs: int = 5) -> dict[str, Any]:
    """Counts per kind and per server, review queue size, the last sync runs."""
    link = table("link")
    review = table("review_item")
    sync_run = table("sync_run")
    servers = {s.id: s.name for s in store.servers()}
    with store.engine.connect() as conn:
        entities = {k: conn.execute(select(func.count()).select_from(table(k))).scalar_one() for k in KINDS}
        redirects = conn.execute(select(func.count()).select_from(table("redirect"))).scalar_one()
        per_server: dict[str, dict[str, Any]] = {name: {k: 0 for k in KINDS} | {"gone": 0} for name in servers.values()}
        query = select(link.c.server_id, link.c.kind, link.c.gone_at.is_(None), func.count()).group_by(
            link.c.server_id, link.c.kind, link.c.gone_at.is_(None)
        )
        for server_id, kind, live, count in conn.execute(query):
            entry = per_server[servers[server_id]]
            if live:
                entry[kind] += count
            else:
                entry["gone"] += count
        queue: dict[str, int] = dict(
            conn.execute(select(review.c.status, func.count()).group_by(review.c.status)).all()
        )
        last = conn.execute(select(sync_run).order_by(sync_run.c.id.desc()).limit(runs)).all()
    return {
        "entities": entities,
        "redirects": redirects,
        "servers": per_server,
        "review": {"pending": queue.get("pending", 0), "accepted": queue.get("accepted", 0),
                   "rejected": queue.get("rejected", 0)},
        "runs": [
            {"server": servers.get(r.server_id), "mode": r.mode, "status": r.status,
             "started_at": iso_utc(r.started_at), "finished_at": iso_utc(r.finished_at),
             "seen": r.seen, "new": r.new, "merged": r.merged, "queued": r.queued, "updated": r.updated,
             "gone": r.gone, "error": r.error}
            for r in last
        ],
    }  # fmt: skip

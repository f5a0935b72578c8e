"""Merges, splits, review decisions and their undo — every one audited in ``decision``.

A merge moves the dropped entity's links, children and external ids to the survivor,
leaves a redirect (the dropped UUID keeps resolving), re-points older redirects so that
chains stay one hop long, and stores in the decision's payload everything undo needs.
Merging two albums also merges their tracks that match and proposes the rest.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..errors import NotFound, ReviewError
from ..matching import MatchScore, Thresholds, TrackRecord, pick_best, score_tracks
from .changes import ChangeRow, record_changes
from .store import Store, new_uuid, normalize_uuid, table, utcnow

__all__ = ["accept", "entity_kind", "merge", "propose", "reject", "split", "undo"]

KINDS = ("artist", "album", "track")
CHILDREN = {"artist": (("album", "artist_uuid"), ("track", "artist_uuid")), "album": (("track", "album_uuid"),)}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _restore(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    columns = table(kind).c
    out = {}
    for key, value in row.items():
        if isinstance(value, str) and key in columns and key.endswith(("_at", "_seen")):
            out[key] = datetime.fromisoformat(value)
        else:
            out[key] = value
    return out


def entity_kind(conn: Connection, uuid: str) -> tuple[str, str]:
    """(kind, survivor uuid) of a UUID, following a redirect; NotFound otherwise."""
    uuid = normalize_uuid(uuid)
    redirect = table("redirect")
    target = conn.execute(select(redirect.c.new_uuid).where(redirect.c.old_uuid == uuid)).scalar() or uuid
    for kind in KINDS:
        entity = table(kind)
        if conn.execute(select(entity.c.uuid).where(entity.c.uuid == target)).first():
            return kind, target
    raise NotFound(f"no artist, album or track with UUID {uuid}")


def _decision(conn: Connection, action: str, kind: str, a: str | None, b: str | None, payload: dict[str, Any],
              source: str) -> int:  # fmt: skip
    result = conn.execute(
        insert(table("decision")).values(
            action=action, kind=kind, uuid_a=a, uuid_b=b, source=source, payload=json.dumps(payload),
            created_at=utcnow(),
        )
    )  # fmt: skip
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _merge_rows(conn: Connection, kind: str, keep: str, drop: str, thresholds: Thresholds) -> dict[str, Any]:
    """Move everything of ``drop`` onto ``keep``; returns what undo needs."""
    entity, link, redirect, external, review = (
        table(n) for n in (kind, "link", "redirect", "external_id", "review_item")
    )
    dropped = conn.execute(select(entity).where(entity.c.uuid == drop)).mappings().one()
    payload: dict[str, Any] = {"kind": kind, "keep": keep, "drop": drop, "row": _jsonable(dict(dropped))}
    payload["links"] = list(conn.execute(select(link.c.id).where(link.c.uuid == drop)).scalars())
    conn.execute(update(link).where(link.c.uuid == drop).values(uuid=keep))
    payload["children"] = {}
    for child, column in CHILDREN.get(kind, ()):
        t = table(child)
        ids = list(conn.execute(select(t.c.uuid).where(t.c[column] == drop)).scalars())
        payload["children"][f"{child}.{column}"] = ids
        if ids:
            conn.execute(update(t).where(t.c[column] == drop).values({column: keep}))
    payload["redirects"] = list(conn.execute(select(redirect.c.old_uuid).where(redirect.c.new_uuid == drop)).scalars())
    conn.execute(update(redirect).where(redirect.c.new_uuid == drop).values(new_uuid=keep))
    have = set(conn.execute(select(external.c.provider).where(external.c.uuid == keep)).scalars())
    moved = [r.id for r in conn.execute(select(external.c.id, external.c.provider).where(external.c.uuid == drop))
             if r.provider not in have]  # fmt: skip
    payload["external"] = moved
    if moved:
        conn.execute(update(external).where(external.c.id.in_(moved)).values(uuid=keep))
    stale = list(conn.execute(select(review.c.id).where(
        review.c.status == "pending", (review.c.uuid_a == drop) | (review.c.uuid_b == drop)
    )).scalars())  # fmt: skip
    payload["stale"] = stale
    if stale:
        conn.execute(update(review).where(review.c.id.in_(stale)).values(status="stale"))
    conn.execute(delete(entity).where(entity.c.uuid == drop))
    conn.execute(insert(redirect).values(old_uuid=drop, new_uuid=keep, kind=kind, created_at=utcnow()))
    if kind == "album":
        moved = payload["children"].get("track.album_uuid", [])
        payload["tracks"] = _merge_album_tracks(conn, keep, moved, thresholds)
    return payload


def _merge_album_tracks(conn: Connection, album: str, moved: list[str], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Tracks that came with the dropped album and match a track of the survivor are merged too
    (by the user's matching thresholds); the uncertain ones are proposed for review."""
    track = table("track")
    rows = {r.uuid: r for r in conn.execute(select(track).where(track.c.album_uuid == album))}
    theirs = [rows[u] for u in moved if u in rows]
    ours = [r for u, r in rows.items() if u not in set(moved)]
    merged: list[dict[str, Any]] = []
    taken: set[str] = set()
    for row in theirs:
        candidates = [r for r in ours if r.uuid not in taken]
        scores = [score_tracks(_record(row), _record(r), thresholds) for r in candidates]
        pick = pick_best(scores, thresholds) if scores else None
        if pick is None:
            continue
        other = candidates[pick[0]]
        if pick[1] == "same":
            taken.add(other.uuid)
            keep, drop = (other.uuid, row.uuid) if other.created_at <= row.created_at else (row.uuid, other.uuid)
            merged.append(_merge_rows(conn, "track", keep, drop, thresholds))
        else:
            propose(conn, "track", [(other.uuid, row.uuid, scores[pick[0]])], utcnow(), unless_known=True)
    return merged


def _record(row: Any) -> TrackRecord:
    """A track of a just-merged album: the album is now one, so its titles are not compared."""
    return TrackRecord(
        title=row.title,
        artist=row.artist_name,
        album=None,
        duration_ms=row.duration_ms,
        year=row.year,
        track_number=row.track_number,
        disc_number=row.disc_number,
        mbid=row.mbid,
        isrc=row.isrc,
        path=row.path,
    )


def propose(
    conn: Connection, kind: str, pairs: list[tuple[str, str, MatchScore]], now: datetime, *, unless_known: bool = False
) -> int:
    """Queue (existing entity, other entity, score) pairs for review; returns how many were queued.

    ``unless_known``: leave out a pair that was proposed (or decided) before, either way round.
    """
    review = table("review_item")
    if unless_known:
        pairs = [
            (a, b, m) for a, b, m in pairs
            if conn.execute(select(review.c.id).where(review.c.kind == kind, (
                ((review.c.uuid_a == a) & (review.c.uuid_b == b)) | ((review.c.uuid_a == b) & (review.c.uuid_b == a))
            ))).first() is None
        ]  # fmt: skip
    if pairs:
        conn.execute(review.insert(), [
            {"kind": kind, "uuid_a": a, "uuid_b": b, "score": round(m.score, 4),
             "reasons": json.dumps(m.reasons, sort_keys=True), "status": "pending", "created_at": now}
            for a, b, m in pairs
        ])  # fmt: skip
    return len(pairs)


def _merged(payload: dict[str, Any], change: str, decision: int) -> list[ChangeRow]:
    """The feed's rows for a merge (``merged``) or its undo (``undone``), its albums' tracks included."""
    rows = []
    for sub in [payload, *payload.get("tracks", [])]:
        keep, drop = sub["keep"], sub["drop"]
        uuid, old = (keep, drop) if change == "merged" else (drop, keep)
        rows.append(ChangeRow(change, sub["kind"], uuid, old_uuid=old, decision_id=decision))
    return rows


def _unmerge(conn: Connection, payload: dict[str, Any]) -> None:
    for sub in reversed(payload.get("tracks", [])):
        _unmerge(conn, sub)
    kind, drop = payload["kind"], payload["drop"]
    entity, link, redirect, external, review = (
        table(n) for n in (kind, "link", "redirect", "external_id", "review_item")
    )
    conn.execute(delete(redirect).where(redirect.c.old_uuid == drop))
    conn.execute(insert(entity).values(**_restore(kind, payload["row"])))
    if payload["links"]:
        conn.execute(update(link).where(link.c.id.in_(payload["links"])).values(uuid=drop))
    for key, ids in payload["children"].items():
        child, column = key.split(".")
        if ids:
            t = table(child)
            conn.execute(update(t).where(t.c.uuid.in_(ids)).values({column: drop}))
    if payload["redirects"]:
        conn.execute(update(redirect).where(redirect.c.old_uuid.in_(payload["redirects"])).values(new_uuid=drop))
    if payload["external"]:
        conn.execute(update(external).where(external.c.id.in_(payload["external"])).values(uuid=drop))
    if payload["stale"]:
        conn.execute(update(review).where(review.c.id.in_(payload["stale"])).values(status="pending"))


def merge(
    store: Store, a: str, b: str, *, source: str = "cli", keep: str | None = None, thresholds: Thresholds | None = None
) -> int:
    """Merge two entities of one kind; the older survives (or ``keep``). Returns the decision id.

    Merging albums also merges their tracks that match by ``thresholds`` (the config's).
    """
    with store.begin() as conn:
        kind_a, ua = entity_kind(conn, a)
        kind_b, ub = entity_kind(conn, b)
        if kind_a != kind_b:
            raise ReviewError(f"cannot merge a {kind_a} with a {kind_b}")
        if ua == ub:
            raise ReviewError(
                f"{a} and {b} are already the same {kind_a}" if a != b else "cannot merge an entity with itself"
            )
        entity = table(kind_a)
        created = dict(
            conn.execute(select(entity.c.uuid, entity.c.created_at).where(entity.c.uuid.in_([ua, ub]))).all()
        )
        if keep is not None:
            survivor = entity_kind(conn, keep)[1]
        else:
            survivor = ua if (created[ua], ua) <= (created[ub], ub) else ub
        dropped = ub if survivor == ua else ua
        payload = _merge_rows(conn, kind_a, survivor, dropped, thresholds or Thresholds())
        decision = _decision(conn, "merge", kind_a, survivor, dropped, payload, source)
        conn.execute(
            update(table("redirect")).where(table("redirect").c.old_uuid == dropped).values(decision_id=decision)
        )
        record_changes(conn, _merged(payload, "merged", decision))
        return decision


def split(store: Store, uuid: str, server_name: str, *, source: str = "cli") -> tuple[int, str]:
    """Give ``server_name``'s links on ``uuid`` a new entity; returns (decision id, new UUID)."""
    server = store.server(server_name)
    with store.begin() as conn:
        kind, target = entity_kind(conn, uuid)
        link, entity = table("link"), table(kind)
        links = conn.execute(select(link).where(link.c.uuid == target, link.c.server_id == server.id)).mappings().all()
        if not links:
            raise ReviewError(f"{target} has no link on {server_name}")
        total = conn.execute(select(link.c.id).where(link.c.uuid == target)).all()
        if len(total) == len(links):
            raise ReviewError(f"every link of {target} is on {server_name}: nothing to split off")
        row = dict(conn.execute(select(entity).where(entity.c.uuid == target)).mappings().one())
        fresh = new_uuid()
        row.update(uuid=fresh, origin_server_id=server.id, created_at=utcnow(), updated_at=utcnow())
        name_column = "name" if kind == "artist" else "title"
        if links[0]["name"]:
            row[name_column] = links[0]["name"]
        conn.execute(insert(entity).values(**row))
        ids = [r["id"] for r in links]
        conn.execute(update(link).where(link.c.id.in_(ids)).values(uuid=fresh))
        # Remember the pair as rejected: matching must never propose it again.
        conn.execute(insert(table("review_item")).values(
            kind=kind, uuid_a=target, uuid_b=fresh, score=0.0, reasons="{}", status="rejected", created_at=utcnow(),
            decided_at=utcnow(),
        ))  # fmt: skip
        payload = {"kind": kind, "from": target, "new": fresh, "links": ids}
        decision = _decision(conn, "split", kind, target, fresh, payload, source)
        record_changes(conn, (
            ChangeRow("split", kind, fresh, server_id=server.id, native_id=r["native_id"], old_uuid=target,
                      decision_id=decision)
            for r in links
        ))  # fmt: skip
        return decision, fresh


def _review_item(conn: Connection, review_id: int) -> Any:
    review = table("review_item")
    item = conn.execute(select(review).where(review.c.id == review_id)).first()
    if item is None:
        raise NotFound(f"no review proposal {review_id}")
    return item


def accept(store: Store, review_id: int, *, source: str = "cli", thresholds: Thresholds | None = None) -> int:
    """Merge a pending proposal's two entities (the older survives)."""
    with store.begin() as conn:
        item = _review_item(conn, review_id)
        if item.status != "pending":
            raise ReviewError(f"proposal {review_id} is {item.status}, not pending")
        entity = table(item.kind)
        present = set(
            conn.execute(select(entity.c.uuid).where(entity.c.uuid.in_([item.uuid_a, item.uuid_b]))).scalars()
        )
        if present != {item.uuid_a, item.uuid_b}:
            raise ReviewError(f"proposal {review_id} is stale: one of its entities was merged or split since")
    decision = merge(store, item.uuid_a, item.uuid_b, source=source, thresholds=thresholds)
    with store.begin() as conn:
        review = table("review_item")
        conn.execute(update(review).where(review.c.id == review_id).values(
            status="accepted", decided_at=utcnow(), decision_id=decision))  # fmt: skip
        conn.execute(update(table("decision")).where(table("decision").c.id == decision).values(action="accept"))
        payload = json.loads(
            conn.execute(select(table("decision").c.payload).where(table("decision").c.id == decision)).scalar_one()
        )
        payload["review_id"] = review_id
        conn.execute(
            update(table("decision")).where(table("decision").c.id == decision).values(payload=json.dumps(payload))
        )
    return decision


def reject(store: Store, review_id: int, *, source: str = "cli") -> int:
    with store.begin() as conn:
        item = _review_item(conn, review_id)
        if item.status != "pending":
            raise ReviewError(f"proposal {review_id} is {item.status}, not pending")
        review = table("review_item")
        decision = _decision(conn, "reject", item.kind, item.uuid_a, item.uuid_b, {"review_id": review_id}, source)
        conn.execute(update(review).where(review.c.id == review_id).values(
            status="rejected", decided_at=utcnow(), decision_id=decision))  # fmt: skip
        rejected = ChangeRow("rejected", item.kind, item.uuid_a, old_uuid=item.uuid_b, decision_id=decision)
        record_changes(conn, [rejected])
        return decision


def undo(store: Store, decision_id: int | None = None) -> dict[str, Any]:
    """Revert the last (or the given) decision exactly; refuses when a later one builds on it."""
    decision = table("decision")
    with store.begin() as conn:
        query = select(decision).where(decision.c.undone_at.is_(None))
        row = conn.execute(
            query.where(decision.c.id == decision_id) if decision_id else query.order_by(decision.c.id.desc()).limit(1)
        ).first()
        if row is None:
            raise ReviewError(f"no decision {decision_id} to undo" if decision_id else "nothing to undo")
        payload = json.loads(row.payload)
        touched = {u for u in (row.uuid_a, row.uuid_b) if u}
        later = conn.execute(select(decision).where(decision.c.id > row.id, decision.c.undone_at.is_(None))).all()
        for other in later:
            if touched & {other.uuid_a, other.uuid_b}:
                raise ReviewError(f"decision {row.id} cannot be undone before decision {other.id}, which builds on it")
        review = table("review_item")
        changes: list[ChangeRow] = []
        if row.action in ("merge", "accept"):
            _unmerge(conn, payload)
            changes = _merged(payload, "undone", row.id)
            if payload.get("review_id"):
                conn.execute(update(review).where(review.c.id == payload["review_id"]).values(
                    status="pending", decided_at=None, decision_id=None))  # fmt: skip
        elif row.action == "reject":
            conn.execute(update(review).where(review.c.id == payload["review_id"]).values(
                status="pending", decided_at=None, decision_id=None))  # fmt: skip
            changes = [ChangeRow("undone", row.kind, row.uuid_a, old_uuid=row.uuid_b, decision_id=row.id)]
        elif row.action == "split":
            link, entity = table("link"), table(payload["kind"])
            conn.execute(update(link).where(link.c.id.in_(payload["links"])).values(uuid=payload["from"]))
            conn.execute(delete(entity).where(entity.c.uuid == payload["new"]))
            conn.execute(delete(review).where(review.c.uuid_b == payload["new"], review.c.uuid_a == payload["from"]))
            changes = [ChangeRow("undone", row.kind, payload["from"], old_uuid=payload["new"], decision_id=row.id)]
        conn.execute(update(decision).where(decision.c.id == row.id).values(undone_at=utcnow()))
        record_changes(conn, changes)
        return {"id": row.id, "action": row.action, "kind": row.kind, "uuid_a": row.uuid_a, "uuid_b": row.uuid_b}

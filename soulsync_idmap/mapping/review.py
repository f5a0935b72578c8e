"""The review queue: pending proposals with everything a person needs to decide."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .export import FIELDS
from .store import Store, table

__all__ = ["Proposal", "ReviewQueue"]

# What a person compares, named as in ``export`` (``name``, ``artist_name``, ``album_name``...).
SHOWN = {
    "artist": ("name", "sort_name", "mbid"),
    "album": ("name", "artist_name", "year", "mbid"),
    "track": ("name", "artist_name", "album_name", "duration_ms", "track_number", "disc_number", "year", "mbid",
              "isrc", "path"),
}  # fmt: skip
COLUMNS = {kind: dict(FIELDS[kind]) for kind in FIELDS}


@dataclass
class Proposal:
    id: int
    kind: str
    uuid_a: str
    uuid_b: str
    score: float
    reasons: dict[str, float]
    status: str
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    links_a: list[dict[str, Any]]
    links_b: list[dict[str, Any]]

    @property
    def stale(self) -> bool:
        return self.a is None or self.b is None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "uuid_a": self.uuid_a, "uuid_b": self.uuid_b, "score": self.score,
            "reasons": self.reasons, "status": self.status, "a": self.a, "b": self.b, "links_a": self.links_a,
            "links_b": self.links_b,
        }  # fmt: skip


class ReviewQueue:
    def __init__(self, store: Store) -> None:
        self.store = store

    def pending(
        self, *, kind: str | None = None, min_score: float | None = None, status: str = "pending"
    ) -> list[Proposal]:
        review = table("review_item")
        query = select(review).where(review.c.status == status)
        if kind:
            query = query.where(review.c.kind == kind)
        if min_score is not None:
            query = query.where(review.c.score >= min_score)
        with self.store.engine.connect() as conn:
            items = conn.execute(query.order_by(review.c.score.desc(), review.c.id)).all()
        return [self._proposal(item) for item in items]

    def get(self, review_id: int) -> Proposal | None:
        review = table("review_item")
        with self.store.engine.connect() as conn:
            item = conn.execute(select(review).where(review.c.id == review_id)).first()
        return self._proposal(item) if item else None

    def others(self, proposal: Proposal) -> list[Proposal]:
        """Other pending proposals involving the same new entity."""
        review = table("review_item")
        query = select(review).where(
            review.c.status == "pending", review.c.kind == proposal.kind, review.c.id != proposal.id,
            (review.c.uuid_a == proposal.uuid_b) | (review.c.uuid_b == proposal.uuid_b),
        )  # fmt: skip
        with self.store.engine.connect() as conn:
            items = conn.execute(query.order_by(review.c.score.desc(), review.c.id)).all()
        return [self._proposal(item) for item in items]

    def _proposal(self, item: Any) -> Proposal:
        entity, link = table(item.kind), table("link")
        servers = {s.id: s.name for s in self.store.servers()}
        with self.store.engine.connect() as conn:
            rows = {
                r.uuid: r for r in conn.execute(select(entity).where(entity.c.uuid.in_([item.uuid_a, item.uuid_b])))
            }
            links = conn.execute(
                select(link).where(link.c.uuid.in_([item.uuid_a, item.uuid_b])).order_by(link.c.id)
            ).all()

        def side(uuid: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            row = rows.get(uuid)
            columns = COLUMNS[item.kind]
            fields = {f: getattr(row, columns[f]) for f in SHOWN[item.kind]} if row is not None else None
            views = [
                {"server": servers.get(lk.server_id), "native_id": lk.native_id, "name": lk.name, "path": lk.path,
                 "gone": lk.gone_at is not None}
                for lk in links if lk.uuid == uuid
            ]  # fmt: skip
            return fields, views

        a, links_a = side(item.uuid_a)
        b, links_b = side(item.uuid_b)
        return Proposal(item.id, item.kind, item.uuid_a, item.uuid_b, item.score, json.loads(item.reasons or "{}"),
                        item.status, a, b, links_a, links_b)  # fmt: skip

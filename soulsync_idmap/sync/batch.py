"""Writing one batch of same-kind items: skip, update, revive, match, insert.

A batch is one transaction of bulk statements. Every new native id gets a UUID in the
same transaction that links it, so an interrupted sync never leaves an item half-known.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from ..mapping.bulk import BulkInsert, chunked, one_array
from ..mapping.changes import ChangeRow, record_changes
from ..mapping.merge import propose
from ..mapping.store import new_uuid, table
from ..matching import (
    AlbumRecord,
    ArtistRecord,
    MatchScore,
    Thresholds,
    TrackRecord,
    Verdict,
    pick_best,
    score_albums,
    score_artists,
    score_tracks,
)
from ..servers.base import ServerAlbum, ServerItem, ServerTrack
from .candidates import STAGES, Incoming, Record, find_candidates
from .parents import ParentLinks
from .rows import (
    ENTITY_FIELDS,
    LINK_FIELDS,
    entity_fields,
    entity_values,
    fingerprint,
    item_record,
    keys_of,
    link_fields,
    link_values,
    mapped_path,
    path_tail,
    row_record,
)

__all__ = ["BatchWriter", "Counts", "Matched", "Prepared", "match_items", "prepare"]

_ENTITY_INSERT = {
    kind: BulkInsert(table(kind), ("uuid", *fields, "origin_server_id", "created_at", "updated_at"))
    for kind, fields in ENTITY_FIELDS.items()
}
_LINK_INSERT = BulkInsert(
    table("link"),
    ("server_id", "kind", "native_id", "uuid", "fingerprint", *LINK_FIELDS, "first_seen", "last_seen", "gone_at"),
)

log = logging.getLogger(__name__)


@dataclass
class Counts:
    seen: int = 0
    new: int = 0
    linked: int = 0
    merged: int = 0
    queued: int = 0
    updated: int = 0
    unchanged: int = 0
    gone: int = 0
    revived: int = 0
    relinked: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def score(kind: str, a: Any, b: Any, thresholds: Thresholds) -> MatchScore:
    if kind == "artist":
        assert isinstance(a, ArtistRecord) and isinstance(b, ArtistRecord)
        return score_artists(a, b, thresholds)
    if kind == "album":
        assert isinstance(a, AlbumRecord) and isinstance(b, AlbumRecord)
        return score_albums(a, b, thresholds)
    assert isinstance(a, TrackRecord) and isinstance(b, TrackRecord)
    return score_tracks(a, b, thresholds)


class Prepared:
    """An item with what can be worked out without the database: fingerprint, path, keys.

    The reader prepares the next batches while the current one is written, so this work
    overlaps the database's. Keys are only worked out ahead for items that will need them
    (a server's first sync); otherwise on demand, since most items of a known server turn
    out unchanged.
    """

    __slots__ = ("fingerprint", "item", "keys", "path", "record", "tail")

    def __init__(
        self, item: ServerItem, fp: str, path: str | None, tail: str | None, keys: tuple[str, ...] | None
    ) -> None:
        self.item = item
        self.fingerprint = fp
        self.path = path
        self.tail = tail
        self.keys = keys
        self.record: Record | None = None

    @classmethod
    def of(cls, item: ServerItem, path_map: tuple[tuple[str, str], ...], *, keys: bool) -> Prepared:
        path = mapped_path(item, path_map)
        prepared = cls(item, fingerprint(item), path, path_tail(path), None)
        if keys:
            prepared.matching()
        return prepared

    def matching(self) -> tuple[Record, tuple[str, ...]]:
        """The matching record and blocking keys (worked out once)."""
        if self.record is None:
            self.record = item_record(self.item, self.path)
        if self.keys is None:
            self.keys = keys_of(self.record)
        return self.record, self.keys

    def incoming(self, parents: dict[str, dict[str, str | None]]) -> Incoming:
        """The item as matching takes it, with its parents' UUIDs from ``parents`` (by native id)."""
        record, keys = self.matching()
        return Incoming(self.item, record, keys, self.path, self.tail, parents.get(self.item.native_id, {}))


def prepare(items: Sequence[ServerItem], path_map: tuple[tuple[str, str], ...], *, keys: bool) -> list[Prepared]:
    return [Prepared.of(item, path_map, keys=keys) for item in items]


@dataclass
class BatchWriter:
    """Applies batches of prepared items (paths already mapped) for one server and kind.

    ``match`` turns cross-server matching on. ``written``, on a server's first sync (it
    had no link when the run began), collects the native ids written so far: only those
    can have a link already, so the others need no lookup (a million index probes on a
    large database, 5 s of a cross-server sync). ``released``: entities whose live link
    on this server is disappearing in this run (its native id is no longer listed), by
    UUID, with that native id: a new item may be the same entity under a new id (a
    re-key, a rebuilt server, a moved library), so they are candidates, and taking one is
    a relink, not a merge.
    """

    server_id: int
    kind: str
    thresholds: Thresholds
    match: bool
    counts: Counts = field(default_factory=Counts)
    written: set[str] | None = None
    released: dict[str, str] = field(default_factory=dict)
    # (conn, kind, native ids) -> whether any were asked for: fetches parents with no link and writes them
    link_parents: Callable[[Connection, str, list[str]], bool] | None = None
    parent_links: ParentLinks | None = None  # the run's parents by native id (shared by its writers)

    def write(self, conn: Connection, items: Sequence[Prepared], now: datetime) -> None:
        """Write one batch in the caller's transaction."""
        unique: dict[str, Prepared] = {}
        for prepared in items:
            if prepared.item.native_id in unique:
                log.warning("duplicate %s id %r in one page skipped", self.kind, prepared.item.native_id)
                self.counts.skipped += 1
                continue
            unique[prepared.item.native_id] = prepared
        self.counts.seen += len(unique)
        written = self.written
        existing = self._existing(conn, list(unique) if written is None else [n for n in unique if n in written])
        changed: list[tuple[Any, Prepared]] = []
        unchanged: list[tuple[Any, Prepared]] = []
        fresh: list[Prepared] = []
        for native_id, prepared in unique.items():
            row = existing.get(native_id)
            if row is None:
                fresh.append(prepared)
            elif row.fingerprint == prepared.fingerprint and row.gone_at is None:
                unchanged.append((row, prepared))
            else:
                changed.append((row, prepared))
        batch = [p.item for p in unique.values()]
        parents = self.resolved_parents(conn, batch)
        if self.link_parents is not None and self._link_missing_parents(conn, batch, parents):
            parents = self.resolved_parents(conn, batch)
        orphans = self._orphans(conn, unchanged, parents) if unchanged and self.kind != "artist" else []
        self.counts.unchanged += len(unchanged) - len(orphans)
        self.counts.updated += len(orphans)  # a parent link repaired, whatever the fingerprint says
        changed.extend(orphans)
        if changed:
            self._update(conn, changed, parents, now)
        if fresh:
            self._insert(conn, fresh, parents, now)
        if written is not None:
            written.update(unique)

    def _link_missing_parents(
        self, conn: Connection, items: list[ServerItem], parents: dict[str, dict[str, str | None]]
    ) -> bool:
        """Parents the items name that have no link yet (a guest artist no listing names):
        asked of ``link_parents``, which fetches and writes them. True when any were asked."""
        assert self.link_parents is not None
        missing: dict[str, set[str]] = {"artist": set(), "album": set()}
        for item in items:
            found = parents.get(item.native_id, {})
            if isinstance(item, ServerAlbum | ServerTrack) and item.artist_id and found.get("artist") is None:
                missing["artist"].add(item.artist_id)
            if isinstance(item, ServerTrack) and item.album_id and found.get("album") is None:
                missing["album"].add(item.album_id)
        asked = False
        for kind in ("artist", "album"):
            if missing[kind]:
                asked = self.link_parents(conn, kind, sorted(missing[kind])) or asked
        return asked

    def _orphans(
        self, conn: Connection, unchanged: list[tuple[Any, Prepared]], parents: dict[str, dict[str, str | None]]
    ) -> list[tuple[Any, Prepared]]:
        """Unchanged items whose entity (of this server's making) lacks a parent UUID that now resolves."""
        wanted = {row.uuid: (row, p) for row, p in unchanged if any(parents.get(p.item.native_id, {}).values())}
        if not wanted:
            return []
        entity = table(self.kind)
        columns = [entity.c.uuid, entity.c.artist_uuid]
        if self.kind == "track":
            columns.append(entity.c.album_uuid)
        found: list[tuple[Any, Prepared]] = []
        for chunk in chunked(sorted(wanted)):
            query = select(*columns).where(entity.c.uuid.in_(chunk), entity.c.origin_server_id == self.server_id)
            for row in conn.execute(query):
                link_row, prepared = wanted[row.uuid]
                resolved = parents.get(prepared.item.native_id, {})
                stored = {"artist": row.artist_uuid, "album": getattr(row, "album_uuid", None)}
                if any(resolved.get(k) is not None and stored[k] is None for k in ("artist", "album")):
                    found.append((link_row, prepared))
        return found

    # -- lookups -----------------------------------------------------------------------
    def _existing(self, conn: Connection, native_ids: list[str]) -> dict[str, Any]:
        link = table("link")
        found: dict[str, Any] = {}
        for chunk in chunked(native_ids):
            query = select(link.c.id, link.c.native_id, link.c.uuid, link.c.fingerprint, link.c.gone_at).where(
                link.c.server_id == self.server_id,
                link.c.kind == self.kind,
                link.c.native_id.in_(one_array(conn, chunk)),
            )
            for row in conn.execute(query):
                found[row.native_id] = row
        return found

    def _native_to_uuid(self, conn: Connection, kind: str, native_ids: set[str]) -> dict[str, str]:
        link = table("link")
        ids = sorted(native_ids)
        found: dict[str, str] = {}
        for chunk in chunked(ids):
            query = select(link.c.native_id, link.c.uuid).where(
                link.c.server_id == self.server_id, link.c.kind == kind,
                link.c.native_id.in_(one_array(conn, chunk)),
            )  # fmt: skip
            found.update({n: u for n, u in conn.execute(query)})
        return found

    def _parent_uuids(self, conn: Connection, kind: str, native_ids: set[str]) -> dict[str, str]:
        if self.parent_links is None:
            return self._native_to_uuid(conn, kind, native_ids)
        return self.parent_links.uuids(conn, kind, native_ids, lambda asked: self._native_to_uuid(conn, kind, asked))

    def resolved_parents(self, conn: Connection, items: list[ServerItem]) -> dict[str, dict[str, str | None]]:
        """Resolved parent UUIDs of each item, by native id."""
        if self.kind == "artist":
            return {}
        artist_ids = {i.artist_id for i in items if isinstance(i, ServerAlbum | ServerTrack) and i.artist_id}
        album_ids = {i.album_id for i in items if isinstance(i, ServerTrack) and i.album_id}
        artists = self._parent_uuids(conn, "artist", artist_ids) if artist_ids else {}
        albums = self._parent_uuids(conn, "album", album_ids) if album_ids else {}
        result: dict[str, dict[str, str | None]] = {}
        for item in items:
            if isinstance(item, ServerTrack):
                result[item.native_id] = {
                    "artist": artists.get(item.artist_id) if item.artist_id else None,
                    "album": albums.get(item.album_id) if item.album_id else None,
                }
            elif isinstance(item, ServerAlbum):
                result[item.native_id] = {"artist": artists.get(item.artist_id) if item.artist_id else None}
        return result

    # -- changes -----------------------------------------------------------------------
    def _update(
        self, conn: Connection, changed: list[tuple[Any, Prepared]], parents: dict[str, Any], now: datetime
    ) -> None:
        link_rows: list[dict[str, Any]] = []
        entity_rows: list[dict[str, Any]] = []
        for row, prepared in changed:
            item, path = prepared.item, prepared.path
            if row.gone_at is not None:
                self.counts.revived += 1
            if row.fingerprint != prepared.fingerprint:
                self.counts.updated += 1
            link_rows.append(
                {"_id": row.id, "fingerprint": prepared.fingerprint, "last_seen": now, "gone_at": None,
                 **link_fields(item, path, prepared.tail)}
            )  # fmt: skip
            fields = entity_fields(item, prepared.matching()[1], parents.get(item.native_id, {}), path)
            entity_rows.append({"_uuid": row.uuid, "_server": self.server_id, "updated_at": now, **fields})
        link = table("link")
        conn.execute(update(link).where(link.c.id == bindparam("_id")), link_rows)
        # change feed: revived links
        revived = [ChangeRow("revived", self.kind, r.uuid, self.server_id, p.item.native_id, at=now)
                   for r, p in changed if r.gone_at is not None]  # fmt: skip
        record_changes(conn, revived)
        entity = table(self.kind)
        # The entity follows the server that created it; other servers' edits stay on their links.
        for rows in chunked(entity_rows):
            conn.execute(
                update(entity).where(
                    entity.c.uuid == bindparam("_uuid"), entity.c.origin_server_id == bindparam("_server")
                ),
                rows,
            )

    def _insert(self, conn: Connection, fresh: list[Prepared], parents: dict[str, Any], now: datetime) -> None:
        targets: list[str | None] = [None] * len(fresh)
        proposals: list[tuple[int, str, MatchScore]] = []
        if self.match:  # the matching records are built only here: a first sync needs none
            incoming = [p.incoming(parents) for p in fresh]
            found = match_items(conn, self.kind, self.server_id, self.thresholds, incoming, self.released)
            targets, proposals = found.targets, found.proposals
        entity_rows: list[tuple[Any, ...]] = []
        link_rows: list[tuple[Any, ...]] = []
        new_uuids: list[str] = []
        server, kind = self.server_id, self.kind
        stamp = _LINK_INSERT.bind(conn, "first_seen", now)  # one conversion for the batch's rows
        no_parents: dict[str, str | None] = {}
        relinked: dict[str, str] = {}  # new native id -> the native id its entity had here
        for p, target in zip(fresh, targets, strict=True):
            item, uuid = p.item, target
            if uuid is None:
                uuid = new_uuid()
                keys = p.keys if p.keys is not None else p.matching()[1]
                values = entity_values(item, keys, parents.get(item.native_id, no_parents), p.path)
                entity_rows.append((uuid, *values, server, stamp, stamp))
                self.counts.new += 1
            elif (old := self.released.pop(uuid, None)) is not None:
                self.counts.relinked += 1  # the same entity under its new native id
                relinked[item.native_id] = old
            else:
                self.counts.merged += 1
            new_uuids.append(uuid)
            link_rows.append(
                (server, kind, item.native_id, uuid, p.fingerprint, *link_values(item, p.path, p.tail), stamp, stamp,
                 None)
            )  # fmt: skip
        _ENTITY_INSERT[kind].execute(conn, entity_rows, converted=("created_at", "updated_at"))
        _LINK_INSERT.execute(conn, link_rows, converted=("first_seen", "last_seen", "gone_at"))
        if self.parent_links is not None:
            self.parent_links.remember(kind, ((r[2], r[3]) for r in link_rows))
        self.counts.linked += len(link_rows)
        # the change feed: a relink says which native id the UUID had here before
        record_changes(conn, (
            ChangeRow("relinked", kind, r[3], server, r[2], old_native_id=relinked[r[2]], at=now)
            if r[2] in relinked else ChangeRow("linked", kind, r[3], server, r[2], at=now)
            for r in link_rows
        ))  # fmt: skip
        if proposals:
            self.counts.queued += propose(conn, kind, [(cand, new_uuids[i], m) for i, cand, m in proposals], now)
        if log.isEnabledFor(logging.DEBUG):  # -vv: each decision matching made
            self._log_decisions(fresh, targets, new_uuids, relinked, proposals)

    def _log_decisions(self, fresh: list[Prepared], targets: list[str | None], new_uuids: list[str],
                       relinked: dict[str, str], proposals: list[tuple[int, str, MatchScore]]) -> None:  # fmt: skip
        proposed = {i: (cand, m) for i, cand, m in proposals}
        for i, (p, target) in enumerate(zip(fresh, targets, strict=True)):
            native = p.item.native_id
            if native in relinked:
                log.debug("%s %s: relinked to %s (was %s here)", self.kind, native, target, relinked[native])
            elif target is not None:
                log.debug("%s %s: same as %s (linked on another server)", self.kind, native, target)
            elif i in proposed:
                cand, m = proposed[i]
                log.debug("%s %s: new %s, proposed for review with %s (%s)", self.kind, native, new_uuids[i], cand,
                          m.summary())  # fmt: skip


@dataclass
class Matched:
    """What matching decided for a batch of new items.

    ``targets``: per item, the entity it is the same as (or None: a new entity);
    ``proposals``: (item index, entity, score) pairs for review.
    """

    targets: list[str | None]
    proposals: list[tuple[int, str, MatchScore]]


def match_items(
    conn: Connection, kind: str, server_id: int, thresholds: Thresholds, incoming: Sequence[Incoming],
    released: Collection[str] = frozenset(),
) -> Matched:  # fmt: skip
    """Strong evidence first (ids, the same file), then the same parent, then name keys.

    Each stage searches only for the items the earlier ones left undecided: most items
    of a library that another server already holds are decided by their ids or file,
    and the name-key query, whose buckets grow with the library ("Intro", "Untitled"),
    runs for the remainder only. ``released``: entities linked on this server whose link
    is disappearing in this run; candidates all the same.
    """
    scored: list[dict[str, MatchScore]] = [{} for _ in incoming]
    targets: list[str | None] = [None] * len(incoming)
    best: list[tuple[str, Verdict] | None] = [None] * len(incoming)
    claimed: set[str] = set()
    records: dict[str, Any] = {}
    rows: dict[str, Any] = {}

    def decide(index: int, item_tiers: list[list[str]]) -> None:
        inc, seen = incoming[index], scored[index]
        for tier in item_tiers:
            for u in tier:
                if u in seen or u in claimed:
                    continue
                record = records.get(u)
                if record is None:
                    record = records[u] = row_record(kind, rows[u])
                seen[u] = score(kind, inc.record, record, thresholds)
            uuids = [u for u in seen if u not in claimed]
            pick = pick_best([seen[u] for u in uuids], thresholds) if uuids else None
            best[index] = (uuids[pick[0]], pick[1]) if pick else None
            if pick is not None and pick[1] == "same":
                claimed.add(uuids[pick[0]])
                targets[index] = uuids[pick[0]]
                return

    rest = list(range(len(incoming)))
    for stage in STAGES:
        if not rest:
            break
        tiers, more_rows = find_candidates(conn, kind, server_id, [incoming[i] for i in rest], stage, released)
        rows.update(more_rows)
        for index, item_tiers in zip(rest, tiers, strict=True):
            decide(index, item_tiers)
        rest = [i for i in rest if targets[i] is None]
    proposals: list[tuple[int, str, MatchScore]] = []
    for index, pick in enumerate(best):
        if targets[index] is None and pick is not None and pick[1] == "review" and pick[0] not in claimed:
            proposals.append((index, pick[0], scored[index][pick[0]]))
    return Matched(targets, proposals)

"""The sync engine: drive one server through matching into the store.

Full sync streams every artist, then album, then track, in batches (one transaction
each), and afterwards marks as gone the links whose items the server no longer lists.
Incremental sync asks the server what changed since the watermark, then checks for
removals with the server's cheap id listing. The watermark moves only when a run
completes, so a run that dies is simply redone (already-written batches are skipped by
fingerprint) and never causes removals from a partial listing.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, exists, func, select, update

from ..config import Config
from ..errors import IdmapError
from ..forking import can_fork
from ..mapping.bulk import one_array
from ..mapping.changes import ChangeRow, record_changes
from ..mapping.db import sqlite_path
from ..mapping.indexes import drop_deferrable, restore_indexes
from ..mapping.models import Server
from ..mapping.store import Store, server_config, table, utcnow
from ..matching import Thresholds
from ..servers import KINDS, MediaServer, ServerItem, open_server
from .ahead import Ahead, Claims, Shared
from .batch import BatchWriter, Counts
from .lock import SyncLock
from .reader import Parts, read_ahead

__all__ = ["SyncOptions", "SyncResult", "ingest", "sync_server", "sync_servers"]

log = logging.getLogger(__name__)
Seen = dict[str, list[tuple[int, tuple[str, ...]]]]  # native ids listed, per kind: (part, ids) per batch
READER_PARTS = 2  # readers of a large snapshot file's tracks at once (sync/reader.py)
Progress = Callable[[str, str, int], None]  # (server, phase, items done in phase)


@dataclass(frozen=True)
class SyncOptions:
    full: bool = False
    batch_size: int = 2000
    full_every_days: float = 7.0
    watermark_margin: timedelta = timedelta(minutes=10)
    thresholds: Thresholds = field(default_factory=Thresholds)
    lock_wait: float = 0.0

    @classmethod
    def from_config(cls, config: Config, *, full: bool = False, lock_wait: float = 0.0) -> SyncOptions:
        sync = config.section("sync")
        matching = config.section("matching")
        return cls(
            full=full,
            batch_size=int(sync.get("batch_size", 2000)),
            full_every_days=float(sync.get("full_every_days", 7.0)),
            watermark_margin=timedelta(seconds=float(sync.get("watermark_margin_seconds", 600))),
            thresholds=Thresholds(**matching) if matching else Thresholds(),
            lock_wait=lock_wait,
        )


@dataclass
class SyncResult:
    server: str
    mode: str
    counts: Counts
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Run:
    """One sync of one server."""

    def __init__(self, store: Store, server: Server, adapter: Any, options: SyncOptions,
                 progress: Progress | None) -> None:  # fmt: skip
        assert server.id is not None
        self.store = store
        self.server = server
        self.server_id = server.id
        self.adapter = adapter
        self.options = options
        self.progress = progress
        self.now = utcnow()
        self.counts = Counts()
        self.path_map = server_config(server, {}).path_map
        self.writers: dict[str, BatchWriter] = {}
        self.first = False  # the server had no link when this run began (set by ``full``)
        self.content: str | None = None  # the adapter's digest of all it holds, taken as the run began

    def writer(self, kind: str) -> BatchWriter:
        if kind not in self.writers:
            self.writers[kind] = BatchWriter(
                self.server_id,
                kind,
                self.options.thresholds,
                self._needs_matching(kind),
                self.counts,
                written=set() if self.first else None,
            )
        return self.writers[kind]

    def _needs_matching(self, kind: str) -> bool:
        """Matching is needed once another server (or a gone item of this one) exists.

        One probe per server, each answered by an index (the unique native-id index for
        other servers, the partial tombstone index for this one): a single OR query
        scanned every link.
        """
        link, server = table("link"), table("server")
        with self.store.engine.connect() as conn:
            for server_id in conn.execute(select(server.c.id)).scalars():
                wanted = [link.c.server_id == server_id, link.c.kind == kind]
                if server_id == self.server_id:
                    wanted.append(link.c.gone_at.is_not(None))
                if conn.execute(select(exists().where(*wanted))).scalar():
                    return True
            return False

    def ingest(
        self, source: Callable[[], Iterable[ServerItem]], phase: str | None, seen: Seen | None,
        *, forkable: bool = False, first: bool = False, parts: Parts | None = None, ahead: Ahead | None = None,
    ) -> None:  # fmt: skip
        """Write the items of ``source()``, read ahead (in a process when the adapter is ``forkable``).

        On a server's ``first`` sync every item is inserted: its keys are worked out ahead, by the reader.
        Without a ``phase`` name, progress is reported per kind ("artists", "albums", "tracks").
        ``parts``, ``ahead``: see ``read_ahead``.
        """
        done: dict[str, int] = {}
        written: dict[str, int] = {}  # batches per kind
        claims = Claims(ahead.shared) if ahead is not None else None
        if ahead is not None:
            # No connection open across the fork: SQLite's per-process file state would
            # follow it into the readers and break their own connections ("SQL logic error").
            self.store.engine.dispose()
        ahead_count = again = 0  # batches matched ahead; of those, whose decisions did not stand
        batches = read_ahead(
            source, self.options.batch_size, self.path_map, keys=first, forkable=forkable, parts=parts, ahead=ahead
        )
        for part, batch, decided in batches:
            kind = batch[0].item.kind
            held = decided.claimed if decided is not None else set()
            if claims is not None:
                assert ahead is not None
                if kind == ahead.kind:
                    ahead.shared.ready.value = 1  # the parents are all written (they come first)
                if decided is not None:
                    ahead_count += 1
                    if not claims.stands(decided, part):
                        decided, again = None, again + 1
            with self.store.begin() as conn:
                linked = self.writer(kind).write(conn, batch, self.now, decided)
            if claims is not None:
                claims.committed(part, held, linked)
            count = written[kind] = written.get(kind, 0) + 1
            if self.store.dialect == "postgresql" and count & (count - 1) == 0:
                self._analyze(kind)
            name = phase or f"{kind}s"
            number = done[name] = done.get(name, 0) + len(batch)
            if seen is not None:
                # a tuple of strings per batch: the garbage collector stops tracking it, where a
                # list of a million ids would be walked by every full collection
                seen[kind].append((part, tuple(p.item.native_id for p in batch)))
            if self.progress:
                self.progress(self.server.name, name, number)
        if ahead_count:
            log.debug("%s: %d batches matched ahead, %d of them matched again by the writer",
                      self.server.name, ahead_count, again)  # fmt: skip

    def _analyze(self, kind: str) -> None:
        """Refresh PostgreSQL's statistics as the tables grow (after batches 1, 2, 4, 8...).

        A bulk load outruns autovacuum: with the statistics of an empty table the planner
        reads (server, kind) from the unique index and filters the native ids, scanning every
        link of the server per batch. log2(batches) ANALYZE runs keep the plans right.
        """
        with self.store.engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE link, {kind}")
            conn.commit()

    def full(self) -> None:
        self.content = self._content()
        self._remember_content(None)
        seen: Seen = {kind: [] for kind in KINDS}
        link = table("link")
        with self.store.begin() as conn:
            first = conn.execute(select(link.c.id).where(link.c.server_id == self.server_id).limit(1)).first() is None
            self.first = first
            # Into an empty database: secondary indexes are built once at the end (mapping/indexes.py).
            deferred = first and conn.execute(select(link.c.id).limit(1)).first() is None and drop_deferrable(conn)
        try:
            # One read-ahead for the three kinds: the reader goes on to the albums while the
            # writer finishes the artists (parents still arrive first).
            # A forked reader reads a large file's tracks in parts at once (``track_parts``).
            adapter = self.adapter
            forkable = bool(getattr(adapter, "forkable", False))
            track_parts = getattr(adapter, "track_parts", None) if forkable else None

            def every() -> Iterator[ServerItem]:
                yield from adapter.iter_artists()
                yield from adapter.iter_albums()
                if track_parts is None:
                    yield from adapter.iter_tracks()

            parts = (lambda: track_parts(READER_PARTS)) if track_parts is not None else None
            self.ingest(every, None, seen, forkable=forkable, first=first, parts=parts, ahead=self._ahead(forkable))
        finally:
            if deferred:
                if self.progress:
                    self.progress(self.server.name, "building indexes", 0)
                restore_indexes(self.store.engine)
        for kind in KINDS:
            # in the server's order: parts one after the other (the listing digest compares orders)
            ordered = sorted(seen[kind], key=lambda entry: entry[0])
            self.mark_gone(kind, [native_id for _, ids in ordered for native_id in ids])

    def _ahead(self, forkable: bool) -> Ahead | None:
        """On a first sync read by forked readers, they match the tracks ahead if matching is needed.

        Only with a database another process can open (not an in-memory SQLite).
        """
        if not (self.first and forkable and can_fork() and self._needs_matching("track")):
            return None
        if self.store.dialect == "sqlite" and sqlite_path(self.store.url) is None:
            return None
        return Ahead(self.store.url, self.server_id, "track", self.options.thresholds, Shared(READER_PARTS))

    def incremental(self, watermark: datetime) -> None:
        since = watermark - self.options.watermark_margin
        # Only adapters that compare against our own clock (a local file) offer this,
        # so it takes the watermark itself, without the skew margin.
        unchanged = getattr(self.adapter, "unchanged_since", None)
        if unchanged is not None and unchanged(watermark):
            return  # the source vouches that nothing was added, changed or removed
        self.content = self._content()
        if self.content is not None:
            with self.store.engine.connect() as conn:
                stored = _digests(conn, self.server_id)
                if stored.get("content") == self.content and all(
                    _recorded_live(stored, kind) == self._live(conn, kind) for kind in KINDS
                ):
                    return  # rewritten, but the same bytes as when the last run completed, the same links live
            self._remember_content(None)  # until this run completes
        self.ingest(lambda: self.adapter.changed_since(since), "changes", None)
        for kind in KINDS:
            ids = list(self.adapter.all_ids(kind))
            self.mark_gone(kind, ids)
            if self.progress:
                self.progress(self.server.name, f"{kind} ids", len(ids))

    def _live(self, conn: Connection, kind: str) -> int:
        """Live links of the server (all links by the unique index, less the gone ones by theirs)."""
        link = table("link")
        where = (link.c.server_id == self.server_id, link.c.kind == kind)
        total = conn.execute(select(func.count()).select_from(link).where(*where)).scalar_one()
        gone = conn.execute(select(func.count()).select_from(link).where(*where, link.c.gone_at.is_not(None)))
        return int(total - gone.scalar_one())

    def _content(self) -> str | None:
        """The adapter's digest of everything it holds, where it has one (a snapshot file's bytes)."""
        digest = getattr(self.adapter, "content_digest", None)
        return digest() if digest is not None else None

    def _remember_content(self, value: str | None) -> None:
        """Record the digest of the content a completed run has synced (None: forget it).

        Forgotten as a run that reads begins: one that fails after writing some changes must
        not leave behind the digest of the content before them.
        """
        with self.store.begin() as conn:
            stored = _digests(conn, self.server_id)
            if stored.get("content") == value:
                return
            if value is None:
                del stored["content"]
            else:
                stored["content"] = value
            _store_digests(conn, self.server_id, stored)

    def completed(self) -> None:
        """After a run that completed: keep the content digest unless the source changed meanwhile."""
        unchanged = getattr(self.adapter, "unchanged_since", None)
        if self.content is not None and unchanged is not None and unchanged(self.now):
            self._remember_content(self.content)

    def mark_gone(self, kind: str, listed: list[str]) -> None:
        """Tombstone live links the server no longer lists; revive listed gone ones.

        A listing equal to the last one (same ids in the same order, digest compared) with
        as many live links as then proves that nothing left or came back: a million
        links need not be compared. So does a server's first sync (``self.first``), whose
        every link came from this listing; it only records the digest. Otherwise the set
        difference runs in the database (the listed ids bound as ONE array parameter);
        gone links are few, so reviving compares them in Python.
        """
        link = table("link")
        where = (link.c.server_id == self.server_id) & (link.c.kind == kind)
        digest = hashlib.blake2b("\n".join(listed).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        with self.store.begin() as conn:
            stored = _digests(conn, self.server_id)
            total = conn.execute(select(func.count()).select_from(link).where(where)).scalar_one()
            gone = conn.execute(
                select(link.c.id, link.c.native_id, link.c.uuid).where(where, link.c.gone_at.is_not(None))
            ).all()
            live = total - len(gone)
            if stored.get(kind) == [digest, live]:
                return
            if self.first and not gone:
                left, back = 0, []  # every link of the server came from this listing
            elif not listed:
                if live:
                    log.warning(
                        "%s listed no %ss while %d are linked; not marking them gone (an empty answer is more "
                        "likely a wrong library than an empty one)", self.server.name, kind, live,
                    )  # fmt: skip
                return
            else:
                present = set(listed)
                back = [r.id for r in gone if r.native_id in present]
                left_rows = conn.execute(
                    update(link)
                    .where(where, link.c.gone_at.is_(None), link.c.native_id.not_in(one_array(conn, sorted(present))))
                    .values(gone_at=self.now)
                    .returning(link.c.uuid, link.c.native_id)
                ).all()
                left = len(left_rows)
                for start in range(0, len(back), 5000):
                    ids = back[start : start + 5000]
                    conn.execute(update(link).where(link.c.id.in_(ids)).values(gone_at=None, last_seen=self.now))
                # change feed: gone and revived links
                record_changes(conn, [
                    *(ChangeRow("gone", kind, u, self.server_id, n, at=self.now) for u, n in left_rows),
                    *(ChangeRow("revived", kind, r.uuid, self.server_id, r.native_id, at=self.now)
                      for r in gone if r.native_id in present),
                ])  # fmt: skip
            self.counts.gone += left
            self.counts.revived += len(back)
            stored[kind] = [digest, live - left + len(back)]
            _store_digests(conn, self.server_id, stored)


def _digests(conn: Connection, server_id: int) -> dict[str, Any]:
    server = table("server")
    text = conn.execute(select(server.c.listing_digest).where(server.c.id == server_id)).scalar_one_or_none()
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _store_digests(conn: Connection, server_id: int, stored: dict[str, Any]) -> None:
    server = table("server")
    conn.execute(update(server).where(server.c.id == server_id).values(listing_digest=json.dumps(stored)))


def _recorded_live(stored: dict[str, Any], kind: str) -> int | None:
    """The live links recorded with a kind's listing digest, if a well-formed one is there."""
    entry = stored.get(kind)
    return entry[1] if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], int) else None


def _start_run(store: Store, server_id: int, mode: str, started: datetime) -> int:
    with store.begin() as conn:
        result = conn.execute(
            table("sync_run").insert().values(server_id=server_id, mode=mode, status="running", started_at=started)
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def _finish_run(store: Store, result: SyncResult) -> None:
    runs = table("sync_run")
    counts = {k: v for k, v in result.counts.as_dict().items() if k in runs.c}
    with store.begin() as conn:
        conn.execute(
            update(runs).where(runs.c.id == result.run_id).values(
                status="ok" if result.ok else "failed", finished_at=result.finished_at, error=result.error,
                **counts,
            )
        )  # fmt: skip


def choose_mode(server: Server, options: SyncOptions, now: datetime) -> str:
    if options.full or server.watermark is None or server.last_full_sync is None:
        return "full"
    if now - server.last_full_sync > timedelta(days=options.full_every_days):
        return "full"
    return "incremental"


def sync_server(
    store: Store,
    name: str,
    config: Config,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
    adapter: MediaServer | None = None,
) -> SyncResult:
    """Sync one server. Server errors are recorded on the run and re-raised."""
    options = options or SyncOptions()
    server = store.server(name)
    assert server.id is not None
    if adapter is None:
        adapter = open_server(server_config(server, config.secrets(name)))
    run = _Run(store, server, adapter, options, progress)
    mode = choose_mode(server, options, run.now)
    result = SyncResult(server=name, mode=mode, counts=run.counts, started_at=run.now)
    result.run_id = _start_run(store, server.id, mode, run.now)
    try:
        _check_instance(store, server, adapter)
        if mode == "full":
            run.full()
        else:
            assert server.watermark is not None
            run.incremental(server.watermark)
        run.completed()
    except (IdmapError, KeyboardInterrupt, Exception) as exc:
        result.error = str(exc) or type(exc).__name__
        result.finished_at = utcnow()
        _finish_run(store, result)
        raise
    finally:
        adapter.close()
    result.finished_at = utcnow()
    values: dict[str, Any] = {"watermark": run.now}
    if mode == "full":
        values["last_full_sync"] = run.now
    store.update_server(server.id, **values)
    _finish_run(store, result)
    return result


def ingest(
    store: Store, name: str, items: Iterable[ServerItem], options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> Counts:  # fmt: skip
    """Link items from another source (an import) to server ``name``: no removals, no watermark.

    Items must come parents first (artists, then albums, then tracks).
    """
    server = store.server(name)
    run = _Run(store, server, _NoServer(name), options or SyncOptions(), progress)
    with SyncLock(store, wait=run.options.lock_wait), _collector_spared():
        run.ingest(lambda: items, "import", None)
    return run.counts


class _NoServer:
    """Stands in for an adapter when items come from elsewhere (imports)."""

    kind = "import"

    def __init__(self, name: str) -> None:
        self.name = name

    def close(self) -> None:
        return None


def _check_instance(store: Store, server: Server, adapter: MediaServer) -> None:
    instance = adapter.instance_id()
    if server.instance_id is None:
        assert server.id is not None
        store.update_server(server.id, instance_id=instance)
    elif server.instance_id != instance:
        from ..errors import ConfigError

        raise ConfigError(
            f"{server.name} now answers as another server instance ({instance}, was {server.instance_id}); "
            "its ids would not match: add it under a new name"
        )


@contextlib.contextmanager
def _collector_spared() -> Iterator[None]:
    """During a sync, the garbage collector leaves alone what existed before it.

    A full collection walks every object it tracks, and the matching caches alone hold
    hundreds of thousands of entries: a million-item sync ran a hundred full collections
    that walked them all (a third of its time). ``gc.freeze()`` moves what exists now out of
    the collector's reach; ``gc.unfreeze()`` brings it back afterwards. Skipped when the
    process has frozen objects of its own (it manages the collector itself).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def sync_servers(
    store: Store, names: list[str], config: Config, options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> list[SyncResult]:  # fmt: skip
    """Sync several servers one after another under one lock."""
    options = options or SyncOptions()
    results = []
    with SyncLock(store, wait=options.lock_wait), _collector_spared():
        for name in names:
            results.append(sync_server(store, name, config, options, progress))
    return results
